"""The field catalogue as one language shows it: labels, operators in words, choices.

The builder page receives it as JSON (its menus), and the segment pages use it to say a
rule in words ("Number of orders at least 3"). Fields, kinds and operators come from
:mod:`wafa.messaging.segments.fields`; only the words are added here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wafa.analytics.rfm import SEGMENTS
from wafa.core.money import minor_digits
from wafa.core.settings import Settings
from wafa.loyalty.program import rules_at
from wafa.messaging.segments.fields import CATALOGUE, FIELDS, Group, Kind, Op
from wafa.orders.models import Location
from wafa.web import i18n
from wafa.web.i18n import N_

GROUPS: dict[Group, str] = {
    Group.profile: N_("Profile"),
    Group.orders: N_("Orders"),
    Group.loyalty: N_("Loyalty"),
    Group.predictions: N_("Predictions"),
}

_NUMBER_OPS: dict[Op, str] = {
    "=": N_("is"),
    "!=": N_("is not"),
    ">": N_("more than"),
    ">=": N_("at least"),
    "<": N_("less than"),
    "<=": N_("at most"),
    "in": N_("is one of"),
}
_DATE_OPS: dict[Op, str] = {
    "=": N_("on"),
    "!=": N_("not on"),
    ">": N_("after"),
    ">=": N_("on or after"),
    "<": N_("before"),
    "<=": N_("on or before"),
    "in": N_("on one of"),
}
_MONTH_OPS: dict[Op, str] = {
    "=": N_("is"),
    "!=": N_("is not"),
    ">": N_("after"),
    ">=": N_("in or after"),
    "<": N_("before"),
    "<=": N_("in or before"),
    "in": N_("is one of"),
}
_TEXT_OPS: dict[Op, str] = {
    "=": N_("is"),
    "!=": N_("is not"),
    "in": N_("is one of"),
    "contains": N_("contains"),
}
_SET_OPS: dict[Op, str] = {
    "=": N_("has"),
    "!=": N_("does not have"),
    "in": N_("has any of"),
    "contains": N_("has"),
}
_RANK_OPS: dict[Op, str] = {
    "=": N_("is"),
    "!=": N_("is not"),
    ">": N_("above"),
    ">=": N_("at least"),
    "<": N_("below"),
    "<=": N_("at most"),
    "in": N_("is one of"),
}
OP_WORDS: dict[Kind, dict[Op, str]] = {
    Kind.integer: _NUMBER_OPS,
    Kind.money: _NUMBER_OPS,
    Kind.ratio: _NUMBER_OPS,
    Kind.days: _NUMBER_OPS,
    Kind.date: _DATE_OPS,
    Kind.month: _MONTH_OPS,
    Kind.text: _TEXT_OPS,
    Kind.choice: _TEXT_OPS,
    Kind.ranked: _RANK_OPS,
    Kind.boolean: {"=": N_("is"), "!=": N_("is not")},
    Kind.set: _SET_OPS,
}
# The builder offers one word per meaning: "has" is both = and contains on a set.
BUILDER_HIDES: dict[Kind, tuple[Op, ...]] = {Kind.set: ("contains",)}

CHURN_RISK = {
    "low": N_("Low"),
    "medium": N_("Medium"),
    "high": N_("High"),
    "unknown": N_("Unknown"),
}
YES_NO = {True: N_("Yes"), False: N_("No")}

TEXTS = {
    "match_all": N_("Customers who match all of these"),
    "match_any": N_("Customers who match any of these"),
    "group_all": N_("all of"),
    "group_any": N_("any of"),
    "add_condition": N_("Add a condition"),
    "add_group": N_("Add a group"),
    "remove": N_("Remove"),
    "field": N_("Field"),
    "operator": N_("Comparison"),
    "value": N_("Value"),
    "list_hint": N_("Separate values with commas"),
    "counting": N_("Counting…"),
    "count_error": N_("Could not count: check the highlighted conditions."),
    "everyone": N_("No conditions yet: every customer matches."),
    "days": N_("days"),
    "matching": N_("Customers who match: %(num)s"),
    "problem": N_("This condition is incomplete or its value is not valid."),
    "incomplete": N_("Fill in every condition to count."),
}


@dataclass(frozen=True)
class Catalogue:
    """Everything the builder needs, in one language."""

    language: str
    fields: list[dict[str, Any]]
    groups: list[dict[str, str]]
    texts: dict[str, str]
    money_digits: int
    currency: str

    def as_json(self) -> dict[str, Any]:
        """The catalogue as the builder script reads it."""
        return {
            "language": self.language,
            "fields": self.fields,
            "groups": self.groups,
            "texts": self.texts,
            "money_digits": self.money_digits,
            "currency": self.currency,
        }


def _choices(
    session: Session, settings: Settings, language: str
) -> dict[str, list[dict[str, Any]]]:
    tr = i18n.gettext
    program = rules_at(session, settings).rules
    tiers = program.tiers.levels if program.tiers.enabled else []
    locations = session.execute(select(Location.code, Location.name).order_by(Location.code))
    months = i18n.month_names(settings.calendar, language)
    return {
        "language": [{"value": v, "label": lbl} for v, lbl in i18n.choices("language", language)],
        "gender": [{"value": v, "label": lbl} for v, lbl in i18n.choices("gender", language)],
        "order_channel": [
            {"value": v, "label": lbl} for v, lbl in i18n.choices("channel", language)
        ],
        "rfm_segment": [{"value": s.key, "label": tr(language, s.name)} for s in SEGMENTS],
        "churn_risk": [{"value": k, "label": tr(language, v)} for k, v in CHURN_RISK.items()],
        "tier": [{"value": t.code, "label": t.name} for t in tiers],
        "order_location": [{"value": c, "label": f"{n} ({c})"} for c, n in locations],
        "birthday_month": [{"value": i + 1, "label": m} for i, m in enumerate(months)],
        "boolean": [{"value": v, "label": tr(language, lbl)} for v, lbl in YES_NO.items()],
    }


def catalogue_for(session: Session, settings: Settings, language: str) -> Catalogue:
    """The catalogue in ``language``, with this shop's tiers, locations and months."""
    tr = i18n.gettext
    choices = _choices(session, settings, language)
    fields = []
    for spec in CATALOGUE:
        words = OP_WORDS[spec.kind]
        hidden = BUILDER_HIDES.get(spec.kind, ())
        fields.append(
            {
                "name": spec.name,
                "kind": spec.kind.value,
                "group": spec.group.value,
                "label": tr(language, spec.label),
                "help": tr(language, spec.help),
                "ops": [
                    {"op": op, "label": tr(language, words[op])}
                    for op in spec.ops
                    if op not in hidden
                ],
                "choices": choices.get(
                    spec.name, choices["boolean"] if spec.kind is Kind.boolean else None
                ),
                "min": spec.minimum,
                "max": spec.maximum,
            }
        )
    return Catalogue(
        language=language,
        fields=fields,
        groups=[{"key": g.value, "label": tr(language, lbl)} for g, lbl in GROUPS.items()],
        texts={k: tr(language, v) for k, v in TEXTS.items()},
        money_digits=minor_digits(settings.currency),
        currency=settings.currency,
    )


# ---------------------------------------------------------------------- in words


def _value_words(catalogue: Catalogue, field: dict[str, Any], value: Any) -> str:
    language = catalogue.language
    kind = Kind(field["kind"])
    choices = {c["value"]: c["label"] for c in field["choices"] or []}
    if value in choices:
        return str(choices[value])
    if kind is Kind.money:
        return i18n.format_amount(int(value), catalogue.currency, language)
    if kind is Kind.ratio:
        return i18n.format_number(float(value), language, decimals=2)
    if kind in (Kind.integer, Kind.days):
        text = i18n.format_number(int(value), language)
        return f"{text} {catalogue.texts['days']}" if kind is Kind.days else text
    if kind is Kind.date:
        return i18n.native_digits(date.fromisoformat(str(value)).isoformat(), language)
    return str(value)


def describe(catalogue: Catalogue, rule: dict[str, Any]) -> dict[str, Any]:
    """A rule as nested words: ``{"any": bool, "children": [...]}`` or ``{"text": ...}``."""
    if "all" in rule or "any" in rule:
        key = "all" if "all" in rule else "any"
        return {
            "any": key == "any",
            "children": [describe(catalogue, item) for item in rule[key]],
        }
    field = next(f for f in catalogue.fields if f["name"] == rule["field"])
    spec = FIELDS[rule["field"]]
    op = rule["op"]
    words = i18n.gettext(catalogue.language, OP_WORDS[spec.kind][op])
    values = rule["value"] if op == "in" else [rule["value"]]
    separator = "، " if catalogue.language in ("ar", "fa") else ", "
    shown = separator.join(_value_words(catalogue, field, v) for v in values)
    return {"text": f"{field['label']} {words} {shown}"}
