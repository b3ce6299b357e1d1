"""The fields a segment rule can test: name, meaning, type, operators and choices.

This is the one list. The rule validator (:mod:`.rules`) checks operators and values
against it, the compiler (:mod:`.compiler`) maps each name to SQL, the API lists it at
``GET /api/v1/segments/fields`` and the builder page draws its menus from it.

Semantics shared by every field:

* ``!=`` is the negation of ``=``: a customer with no value (no city, never ordered,
  not a loyalty member, not scored yet) matches ``!=`` and never matches ``=``,
  ``>``, ``<`` or ``in``.
* Numbers that have a natural zero (``orders_count``, ``total_spent``,
  ``points_available``) are zero for a customer without orders or points.
* Days are counted between local dates in the business's timezone: an order placed
  yesterday evening in Tehran is one day old this morning in Tehran, whatever UTC says.
* Set fields (``tags``, ``badges``, ``bought_product``...) hold several values:
  ``=`` and ``contains`` mean "has this one", ``in`` "has any of these", ``!=``
  "does not have this one".
* Text comparisons ignore letter case; ``contains`` finds a part of the text.
* Money is integer minor units of the business currency (``1250`` = 12.50).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from wafa.analytics.rfm import SEGMENT_KEYS
from wafa.analytics.tables import ChurnRisk
from wafa.customers.models import Gender
from wafa.orders.models import Channel


def N_(message: str) -> str:
    """Mark ``message`` for translation; the builder page translates it when drawn."""
    return message


Op = Literal["=", "!=", ">", ">=", "<", "<=", "in", "contains"]
OPS: tuple[Op, ...] = ("=", "!=", ">", ">=", "<", "<=", "in", "contains")


class Kind(StrEnum):
    """How a field's values are typed and compared."""

    integer = "integer"  # a whole number (orders, points)
    money = "money"  # integer minor units of the business currency
    ratio = "ratio"  # a probability, 0 to 1
    days = "days"  # whole days between two local dates, counted back from today
    date = "date"  # a local date, ISO ``YYYY-MM-DD``
    month = "month"  # a month of the business calendar, 1 to 12
    text = "text"  # free text, compared without letter case
    choice = "choice"  # one of a fixed list
    ranked = "ranked"  # one of an ordered list (a tier: ``>= silver``)
    boolean = "boolean"
    set = "set"  # several values per customer (tags, badges, products bought)


class Group(StrEnum):
    """Where a field comes from (the builder groups its menu by it)."""

    profile = "profile"
    orders = "orders"
    loyalty = "loyalty"
    predictions = "predictions"


KIND_OPS: dict[Kind, tuple[Op, ...]] = {
    Kind.integer: ("=", "!=", ">", ">=", "<", "<=", "in"),
    Kind.money: ("=", "!=", ">", ">=", "<", "<=", "in"),
    Kind.ratio: ("=", "!=", ">", ">=", "<", "<="),
    Kind.days: ("=", "!=", ">", ">=", "<", "<=", "in"),
    Kind.date: ("=", "!=", ">", ">=", "<", "<=", "in"),
    Kind.month: ("=", "!=", ">", ">=", "<", "<=", "in"),
    Kind.text: ("=", "!=", "in", "contains"),
    Kind.choice: ("=", "!=", "in"),
    Kind.ranked: ("=", "!=", ">", ">=", "<", "<=", "in"),
    Kind.boolean: ("=", "!="),
    Kind.set: ("=", "!=", "in", "contains"),
}


@dataclass(frozen=True)
class Field:
    """One field of the catalogue.

    ``choices`` is the fixed list for ``choice`` fields; ``choices_from`` names a list
    that lives in the database (``tier``: the loyalty program's tiers; ``location``:
    the shop's locations), checked when a rule is compiled. ``minimum``/``maximum``
    bound numeric values; ``zero`` is the value of a customer who has none (``None``:
    such a customer has no value).
    """

    name: str
    kind: Kind
    group: Group
    label: str
    help: str
    choices: tuple[str, ...] = ()
    choices_from: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    zero: int | None = None

    @property
    def ops(self) -> tuple[Op, ...]:
        """The operators this field takes."""
        return KIND_OPS[self.kind]


_MAX_MONEY = 10**15

CATALOGUE: tuple[Field, ...] = (
    # ------------------------------------------------------------------ profile
    Field("city", Kind.text, Group.profile, N_("City"), N_("The city on the profile.")),
    Field(
        "language",
        Kind.choice,
        Group.profile,
        N_("Language"),
        N_("The language the customer reads messages in."),
        choices=("en", "ar", "fa"),
    ),
    Field(
        "tags",
        Kind.set,
        Group.profile,
        N_("Tags"),
        N_("Labels given to the customer by staff or by an import."),
    ),
    Field(
        "gender",
        Kind.choice,
        Group.profile,
        N_("Gender"),
        N_("As the customer gave it."),
        choices=tuple(g.value for g in Gender),
    ),
    Field(
        "birthday_month",
        Kind.month,
        Group.profile,
        N_("Birthday month"),
        N_(
            "The month of the business calendar in which the birthday falls this year "
            "(a birthday kept in the other calendar is converted)."
        ),
        minimum=1,
        maximum=12,
    ),
    Field(
        "consent_email",
        Kind.boolean,
        Group.profile,
        N_("Accepts email marketing"),
        N_("The customer's current consent to marketing by email."),
    ),
    Field(
        "consent_sms",
        Kind.boolean,
        Group.profile,
        N_("Accepts text messages"),
        N_("The customer's current consent to marketing by SMS."),
    ),
    Field(
        "source",
        Kind.text,
        Group.profile,
        N_("Source"),
        N_("Where the record came from: pos, shopify, import, api, manual..."),
    ),
    Field(
        "created_on",
        Kind.date,
        Group.profile,
        N_("Customer since"),
        N_("The local date the customer record was created."),
    ),
    Field(
        "days_since_created",
        Kind.days,
        Group.profile,
        N_("Days since the record was created"),
        N_("Whole days, in the business's timezone."),
        minimum=0,
        maximum=100_000,
    ),
    # ------------------------------------------------------------------ orders
    Field(
        "orders_count",
        Kind.integer,
        Group.orders,
        N_("Number of orders"),
        N_("Orders that are sales (not cancelled, not fully refunded)."),
        minimum=0,
        maximum=10**9,
        zero=0,
    ),
    Field(
        "total_spent",
        Kind.money,
        Group.orders,
        N_("Total spent"),
        N_("Net of refunds, in the business currency (minor units)."),
        minimum=-_MAX_MONEY,
        maximum=_MAX_MONEY,
        zero=0,
    ),
    Field(
        "days_since_last_order",
        Kind.days,
        Group.orders,
        N_("Days since the last order"),
        N_("Whole days, in the business's timezone; a customer who never ordered has none."),
        minimum=0,
        maximum=100_000,
    ),
    Field(
        "first_order_on",
        Kind.date,
        Group.orders,
        N_("First order on"),
        N_("The local date of the first order."),
    ),
    Field(
        "last_order_on",
        Kind.date,
        Group.orders,
        N_("Last order on"),
        N_("The local date of the most recent order."),
    ),
    Field(
        "bought_product",
        Kind.set,
        Group.orders,
        N_("Bought product (SKU)"),
        N_("Has bought this product in an order that is a sale, not refunded."),
    ),
    Field(
        "bought_category",
        Kind.set,
        Group.orders,
        N_("Bought from category"),
        N_("Has bought a product of this category."),
    ),
    Field(
        "order_channel",
        Kind.set,
        Group.orders,
        N_("Ordered through"),
        N_("Online, in the shop or by phone."),
        choices=tuple(c.value for c in Channel),
    ),
    Field(
        "order_location",
        Kind.set,
        Group.orders,
        N_("Ordered at location"),
        N_("The code of a shop or channel where the customer ordered."),
        choices_from="location",
    ),
    # ------------------------------------------------------------------ loyalty
    Field(
        "tier",
        Kind.ranked,
        Group.loyalty,
        N_("Tier"),
        N_("The tier that applies today; higher tiers compare greater."),
        choices_from="tier",
    ),
    Field(
        "points_available",
        Kind.integer,
        Group.loyalty,
        N_("Points available"),
        N_("Points the customer can spend now."),
        minimum=-(10**12),
        maximum=10**12,
        zero=0,
    ),
    Field(
        "badges",
        Kind.set,
        Group.loyalty,
        N_("Badges"),
        N_("Badges the member has earned (their codes)."),
    ),
    Field(
        "member_since",
        Kind.date,
        Group.loyalty,
        N_("Member since"),
        N_("The local date the customer joined the loyalty program."),
    ),
    # ------------------------------------------------------------------ predictions
    Field(
        "p_alive",
        Kind.ratio,
        Group.predictions,
        N_("Chance still a customer"),
        N_("P(alive) from the last analytics refresh, 0 to 1."),
        minimum=0,
        maximum=1,
    ),
    Field(
        "predicted_clv",
        Kind.money,
        Group.predictions,
        N_("Predicted lifetime value"),
        N_("From the last analytics refresh, in minor units."),
        minimum=-_MAX_MONEY,
        maximum=_MAX_MONEY,
    ),
    Field(
        "rfm_segment",
        Kind.choice,
        Group.predictions,
        N_("RFM segment"),
        N_("Champions, loyal, at risk... from the last analytics refresh."),
        choices=SEGMENT_KEYS,
    ),
    Field(
        "churn_risk",
        Kind.choice,
        Group.predictions,
        N_("Churn risk"),
        N_("Low, medium or high, from the last analytics refresh."),
        choices=tuple(r.value for r in ChurnRisk),
    ),
)

FIELDS: dict[str, Field] = {f.name: f for f in CATALOGUE}
