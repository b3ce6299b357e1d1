"""The segment rule as pydantic models: a bad rule is refused with the path of its fault.

``{"all": [...]}`` matches customers who meet every item, ``{"any": [...]}`` those who
meet at least one; an item is a condition ``{"field", "op", "value"}`` or another
group. An empty ``all`` matches everyone, an empty ``any`` no one.

Everything that can be checked without the database is checked here, field by field,
so the error's ``loc`` names the part at fault (``["rules", "all", 1, "any", 0,
"op"]``): an unknown field, an operator the field does not take, a value of the wrong
type or out of range, an empty ``in`` list. Values are kept as JSON (dates as ISO
strings), so a saved rule reads back exactly as it was sent. What needs the database
(a tier or a location that does not exist) is checked when the rule is compiled.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import Field as PydanticField
from pydantic_core import PydanticCustomError

from wafa.messaging.segments.fields import FIELDS, OPS, Field, Kind, Op

MAX_DEPTH = 6
MAX_CONDITIONS = 100
MAX_IN_VALUES = 1000
MAX_TEXT = 200


def _fail(reason: str) -> PydanticCustomError:
    """A validation error whose message is ``reason`` as written (no "Value error, ")."""
    return PydanticCustomError("segment_rule", "{reason}", {"reason": reason})


def _describe_ops(ops: tuple[Op, ...]) -> str:
    return ", ".join(ops)


def _scalar(spec: Field, value: Any) -> Any:
    """Check one value of ``spec``'s type; return it in its JSON form."""
    kind = spec.kind
    if kind in (Kind.integer, Kind.money, Kind.days, Kind.month):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise _fail(
                    "expected a whole number"
                    + (" of minor units (1250 = 12.50)" if kind is Kind.money else "")
                )
        return _bounded(spec, value)
    if kind is Kind.ratio:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _fail("expected a number between 0 and 1")
        return _bounded(spec, float(value))
    if kind is Kind.date:
        if not isinstance(value, str):
            raise _fail("expected a date as YYYY-MM-DD")
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise _fail("expected a date as YYYY-MM-DD") from None
    if kind is Kind.boolean:
        if not isinstance(value, bool):
            raise _fail("expected true or false")
        return value
    # text, choice, ranked, set: strings
    if not isinstance(value, str) or not value.strip():
        raise _fail("expected a non-empty text")
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise _fail(f"at most {MAX_TEXT} characters")
    if spec.choices and text not in spec.choices:
        raise _fail(f"{text!r} is not one of: {', '.join(spec.choices)}")
    return text


def _bounded(spec: Field, value: float) -> Any:
    if spec.minimum is not None and value < spec.minimum:
        raise _fail(f"must be at least {_number(spec.minimum)}")
    if spec.maximum is not None and value > spec.maximum:
        raise _fail(f"must be at most {_number(spec.maximum)}")
    return value


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class Rule(BaseModel):
    """A group (``all`` or ``any``) or a condition (``field``, ``op``, ``value``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    all_: list[Rule] | None = PydanticField(default=None, alias="all")
    any_: list[Rule] | None = PydanticField(default=None, alias="any")
    field: str | None = PydanticField(default=None, description="A field of the catalogue.")
    op: Op | None = PydanticField(default=None, description=" ".join(OPS))
    value: Any = PydanticField(default=None, description="A value or, for `in`, a list.")

    @field_validator("field")
    @classmethod
    def _known_field(cls, name: str | None) -> str | None:
        if name is not None and name not in FIELDS:
            raise _fail(f"unknown field {name!r}; fields are: {', '.join(FIELDS)}")
        return name

    @field_validator("op")
    @classmethod
    def _op_applies(cls, op: Op | None, info: ValidationInfo) -> Op | None:
        spec = FIELDS.get(info.data.get("field") or "")
        if op is not None and spec is not None and op not in spec.ops:
            raise _fail(
                f"{op!r} does not apply to {spec.name} ({spec.kind.value}); "
                f"use {_describe_ops(spec.ops)}"
            )
        return op

    @field_validator("value")
    @classmethod
    def _typed_value(cls, value: Any, info: ValidationInfo) -> Any:
        spec = FIELDS.get(info.data.get("field") or "")
        op = info.data.get("op")
        if spec is None or op is None or value is None:
            return value  # reported by the field, the operator or the shape check
        if op == "in":
            if not isinstance(value, list) or not value:
                raise _fail("'in' takes a non-empty list of values")
            if len(value) > MAX_IN_VALUES:
                raise _fail(f"'in' takes at most {MAX_IN_VALUES} values")
            seen: list[Any] = []
            for item in value:
                checked = _scalar(spec, item)
                if checked not in seen:
                    seen.append(checked)
            return seen
        if isinstance(value, list):
            raise _fail(f"{op!r} takes one value; use 'in' for a list")
        return _scalar(spec, value)

    @model_validator(mode="after")
    def _shape(self) -> Self:
        groups = [g for g in (self.all_, self.any_) if g is not None]
        has_condition = any(v is not None for v in (self.field, self.op, self.value))
        if groups and has_condition:
            raise _fail("an item is either a group (all/any) or a condition, not both")
        if len(groups) > 1:
            raise _fail("a group has either 'all' or 'any', not both")
        if groups:
            return self
        missing = [k for k in ("field", "op", "value") if getattr(self, k) is None]
        if missing:
            raise _fail(
                "a condition needs field, op and value (missing: "
                + ", ".join(missing)
                + "); a group needs 'all' or 'any'"
            )
        return self

    # -------------------------------------------------------------- reading

    @property
    def is_group(self) -> bool:
        """Whether this item is a group (``all``/``any``) rather than a condition."""
        return self.all_ is not None or self.any_ is not None

    @property
    def items(self) -> list[Rule]:
        """A group's items (empty for a condition)."""
        return list(self.all_ if self.all_ is not None else self.any_ or [])

    @property
    def spec(self) -> Field:
        """A condition's field (raises on a group)."""
        if self.field is None:
            raise TypeError("a group has no field")
        return FIELDS[self.field]

    def conditions(self) -> list[Rule]:
        """Every condition under this item, depth first."""
        if not self.is_group:
            return [self]
        return [c for item in self.items for c in item.conditions()]

    def depth(self) -> int:
        """Nesting depth: 1 for a condition or a flat group."""
        if not self.is_group:
            return 0
        return 1 + max((i.depth() for i in self.items), default=0)

    def as_json(self) -> dict[str, Any]:
        """The rule as sent and stored: ``{"all": [...]}`` or ``{"field", "op", "value"}``."""
        if self.all_ is not None:
            return {"all": [i.as_json() for i in self.all_]}
        if self.any_ is not None:
            return {"any": [i.as_json() for i in self.any_]}
        return {"field": self.field, "op": self.op, "value": self.value}


class Rules(Rule):
    """A whole segment rule: a group at the top, of bounded size."""

    @model_validator(mode="after")
    def _top_level(self) -> Self:
        if not self.is_group:
            raise _fail("a segment's rules start with a group: {'all': [...]} or {'any': [...]}")
        if self.depth() > MAX_DEPTH:
            raise _fail(f"groups nest at most {MAX_DEPTH} deep")
        if len(self.conditions()) > MAX_CONDITIONS:
            raise _fail(f"at most {MAX_CONDITIONS} conditions")
        return self


EVERYONE: dict[str, Any] = {"all": []}


def parse_rules(data: Any) -> Rules:
    """Validate ``data`` (raises pydantic's ``ValidationError`` with paths)."""
    return Rules.model_validate(data)
