"""The vocabulary in which a shop format is described: roles, columns, words, refunds.

A format is data (``OrderFormat``), not code: which header names play which *role*
(the order's id, its total, the customer's email...), what each status word means,
where refunds are written and how, which columns are known and left alone. The
importer (``orders.importing``) binds a file's header to roles and reads cells by role;
``wafa analyze`` (``analytics.reading``) generates its SQL from the same description;
the webhooks read the shops' JSON through the ``json`` paths of the same columns. A
fact about a format is therefore written once, here and in the format's module.

Statuses are Wafa's order statuses (``Status``, the values of ``orders.OrderStatus``);
what counts as a sale is decided from them by ``orders.sales``, not here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, get_args

from wafa.ingest.values import CellProblem

__all__ = [
    "STATUS_RANK",
    "Column",
    "JsonShape",
    "Kind",
    "Level",
    "OrderFormat",
    "PairSyntax",
    "Pick",
    "RefundMeaning",
    "Refunds",
    "Role",
    "Status",
    "Vocabulary",
    "Word",
]

#: An order status (the values of ``orders.models.OrderStatus``; a test keeps them equal).
Status = Literal[
    "placed", "paid", "fulfilled", "delivered", "cancelled", "partially_refunded", "refunded"
]

#: When several status columns speak (Shopify's financial and fulfilment status, a
#: cancel date), the order takes the status furthest along this list. Refunded and
#: partially refunded are not here: they follow from the refunded amount.
STATUS_RANK: tuple[Status, ...] = ("placed", "paid", "fulfilled", "delivered", "cancelled")


class Role(StrEnum):
    """What a column says about an order (or about one of its lines)."""

    # The order
    order_key = "order_key"  # the order's id in the shop; rows sharing it are one order
    number = "number"  # the order number people see
    placed_at = "placed_at"
    paid_at = "paid_at"
    fulfilled_at = "fulfilled_at"
    delivered_at = "delivered_at"
    promised_at = "promised_at"
    cancelled_at = "cancelled_at"
    refunded_at = "refunded_at"
    currency = "currency"
    total = "total"  # the order's total: lines - discount + shipping + tax when absent
    subtotal = "subtotal"
    order_discount = "order_discount"
    shipping = "shipping"
    tax = "tax"
    refunded = "refunded"  # the amount refunded so far
    refund_items = "refund_items"  # a cell listing each refund
    status = "status"  # the one status column (generic, WooCommerce)
    financial_status = "financial_status"  # Shopify
    fulfillment_status = "fulfillment_status"  # Shopify
    channel = "channel"
    location = "location"
    coupon_codes = "coupon_codes"
    shipping_address = "shipping_address"
    # The customer
    customer_id = "customer_id"  # the customer's id in the shop (an external id)
    email = "email"
    phone = "phone"
    customer_name = "customer_name"
    first_name = "first_name"
    last_name = "last_name"
    city = "city"
    email_consent = "email_consent"
    sms_consent = "sms_consent"
    # Its lines: one per row, or one per cell of a numbered column
    line_name = "line_name"
    line_sku = "line_sku"
    line_category = "line_category"
    line_quantity = "line_quantity"
    line_price = "line_price"  # the price of one item
    line_discount = "line_discount"
    line_subtotal = "line_subtotal"  # quantity x price, before the line's discounts
    line_total = "line_total"  # after the line's discounts
    line_items = "line_items"  # cells holding a whole line each (``name:…|sku:…``)


class Level(StrEnum):
    """Whether a column describes the order (read from its first row) or one line."""

    order = "order"
    line = "line"


class Kind(StrEnum):
    """How a cell is read (see ``ingest.values``)."""

    text = "text"
    money = "money"
    instant = "instant"
    quantity = "quantity"
    flag = "flag"  # yes/no
    currency = "currency"
    email = "email"
    phone = "phone"
    word = "word"  # one word of a ``Vocabulary``
    pairs = "pairs"  # ``key:value`` pairs (``PairSyntax``)
    words = "words"  # a comma-separated list


class Pick(StrEnum):
    """How a column with several names is read on a row."""

    first = "first"  # the first of the names, in order, whose cell is filled
    joined = "joined"  # every filled one, joined with ", " (an address from its parts)


class RefundMeaning(StrEnum):
    """What a status word says about refunds."""

    none = "none"
    whole = "whole"  # refunded in full: the whole total, when the file gives no amount
    partial = "partial"  # refunded in part: the file must give the amount


@dataclass(frozen=True, slots=True)
class Column:
    """A role and the header names that play it, in order of preference.

    ``json`` names where the shop's REST order JSON keeps the same fact: dotted paths,
    the first filled one wins; line roles are relative to one element of the order's
    ``line_items``.
    """

    role: Role
    names: tuple[str, ...]
    kind: Kind = Kind.text
    level: Level = Level.order
    pick: Pick = Pick.first
    #: For a numbered column (``line_item_1``, ``line_item_2``…): its pattern, group 1
    #: the number; ``names`` is then empty.
    pattern: str | None = None
    json: tuple[str, ...] = ()
    #: Cell values that mean "none" (WooCommerce writes customer 0 for a guest).
    none_words: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Word:
    """What a status word means: the order's status, and what it says about refunds."""

    status: Status
    refund: RefundMeaning = RefundMeaning.none


@dataclass(frozen=True)
class Vocabulary:
    """The words a status (or channel) column may hold and what each means.

    Words are compared lower-cased and trimmed, after ``prefix`` is dropped. A blank
    cell means ``blank`` (``None``: the column says nothing). Any other word is refused
    by every reader: an unknown status is never guessed.
    """

    role: Role
    words: Mapping[str, Word]
    prefix: str = ""
    blank: Word | None = None
    #: ``False``: a word the format does not list says nothing (instead of being refused).
    strict: bool = True
    #: Keep the word (as looked up) in the order's attributes under this key.
    attribute: str | None = None

    def normal(self, text: str) -> str:
        """``text`` as it is looked up."""
        word = text.strip().lower()
        return word.removeprefix(self.prefix) if self.prefix else word

    def meaning(self, text: str, column: str) -> Word | None:
        """The meaning of ``text``; ``CellProblem`` for a word the format does not know."""
        word = self.normal(text)
        if not word:
            return self.blank
        found = self.words.get(word)
        if found is None:
            if not self.strict:
                return None
            known = ", ".join(sorted(self.words))
            raise CellProblem(column, f"unknown status {word!r} (the format knows {known})")
        return found


@dataclass(frozen=True, slots=True)
class PairSyntax:
    """``key:value`` pairs in one cell: ``amount:5.00|reason:Late;amount:1.00|reason:Cold``.

    ``items`` separates the items of a list (refunds, coupons), ``pairs`` the pairs of
    one item, ``key`` a key from its value. A separator inside a value is kept when what
    follows it is not ``key:`` (a name with a ``|`` in it survives).
    """

    items: str = ";"
    pairs: str = "|"
    key: str = ":"


@dataclass(frozen=True, slots=True)
class Refunds:
    """Where a format writes refunds, and how a refund without its own facts is dated.

    ``amount`` is a column of the amount refunded so far; ``items`` a cell listing each
    refund as pairs (``amount``, ``reason``, ``date``); a format may have both (the
    first filled wins). A status word may say the order was refunded in full (the whole
    total when no amount is given) or in part (an amount must be given). Refunds never
    add up to more than the order's total. A refund is dated by its own ``date``, else
    at the first filled of ``dated_by``, else at the latest instant the order carries.
    Its external id is ``external_id`` (``item_id-N`` for the N-th item), stable, so
    that importing the same export again adds nothing.
    """

    amount: Role | None = None
    items: Role | None = None
    external_id: str = "import-refund"
    item_id: str = "import-refund"
    reason: str | None = None
    dated_by: tuple[Role, ...] = ()


@dataclass(frozen=True, slots=True)
class JsonShape:
    """What the shop's REST JSON says beyond the columns' ``json`` paths (for the webhooks).

    Paths are dotted, as in ``Column.json``. The order's id in the shop (``order_id``;
    the external id of a webhook's order, where an export keys orders by their number),
    when it was last changed (``updated_at``: an older payload never rolls an order
    back), who bought (``customer_id``), where its ``lines`` are and each line's id, and
    where its ``refunds`` are, each with its id, time, reason, amount (a refund's
    ``amount`` path, or the sum of its ``transactions`` of kind ``refund``; a minus sign
    is dropped) and returned lines (``line ref`` names the order's line, ``quantity``
    how many). ``customer`` names where a customer payload keeps each fact.
    """

    order_id: str
    updated_at: str
    customer_id: str
    lines: str
    line_id: str
    refunds: str
    refund_id: str
    refund_order_id: str | None
    refund_at: str | None
    refund_reason: str
    refund_amount: str | None
    refund_transactions: str | None
    refund_lines: str | None
    refund_line_ref: str
    refund_line_quantity: str
    customer: Mapping[Role, tuple[str, ...]]


@dataclass(frozen=True)
class OrderFormat:
    """Everything a reader needs to know about one shop's order export."""

    name: str
    title: str
    columns: tuple[Column, ...]
    #: Roles every reader needs.
    required: tuple[Role, ...]
    #: Roles the importer needs to store each line (or else ``line_items`` cells).
    line_roles: tuple[Role, ...]
    #: Status columns; the order takes the furthest status (``STATUS_RANK``) they give.
    statuses: tuple[Vocabulary, ...]
    refunds: Refunds
    #: Who bought, for the analyzer: the first of these filled (the importer matches
    #: on all of them, in this order of trust).
    customer: tuple[Role, ...]
    #: A filled cell here cancels the order (at that instant).
    cancelled_by: Role | None = None
    #: A cancelled order without a cancel date is cancelled at the first of these filled.
    cancel_dated_by: tuple[Role, ...] = (Role.placed_at,)
    #: The channel column's words -> ``online``, ``in_store`` or ``phone``; a blank
    #: cell (or no column) is ``default_channel``, any other word ``other_channel``
    #: (``None``: refused).
    channels: Mapping[str, str] = field(default_factory=dict)
    default_channel: str = "online"
    other_channel: str | None = None
    #: The order key is also the number people see (Shopify's ``#1001``).
    key_is_number: bool = False
    #: Times in the shop's JSON without an offset are UTC (WooCommerce's ``*_gmt``).
    json_times_utc: bool = False
    #: Further documented columns: accepted and not read.
    ignored: tuple[str, ...] = ()
    ignored_patterns: tuple[str, ...] = ()
    #: Columns kept in the order's attributes: (role-less column name, attribute key).
    kept: tuple[tuple[str, str], ...] = ()
    #: The kept attribute holding the shop's own order id when that id is unique across
    #: all the shop's stores (Shopify's ``Id``): with the format's name it is the order's
    #: shop reference, which the same order's webhook carries too (``shop_reference``).
    shop_ref: str | None = None
    #: Whether the column names are compared without regard to letter case.
    any_case: bool = True
    pair_syntax: PairSyntax = field(default_factory=PairSyntax)
    #: The shop's REST JSON beyond the columns' ``json`` paths (``None``: no webhooks).
    json_shape: JsonShape | None = None
    _roles: dict[Role, Column] = field(init=False, repr=False, compare=False)

    def shop_reference(self, order_id: str) -> str | None:
        """One shop order's reference, whichever way it arrives (``shopify:<id>``); ``None``
        when the format's ids are not unique beyond one store."""
        order_id = order_id.strip()
        if self.shop_ref is None or not order_id:
            return None
        return f"{self.name}:{order_id}"[:200]

    def column(self, role: Role) -> Column | None:
        """The column playing ``role``, if the format has one."""
        return self._by_role().get(role)

    def names(self, role: Role) -> tuple[str, ...]:
        """The header names of ``role`` (none when the format lacks it)."""
        found = self.column(role)
        return found.names if found is not None else ()

    def primary(self, role: Role) -> str:
        """The name a message uses for ``role``: its first header name."""
        names = self.names(role)
        return names[0] if names else role.value

    def vocabulary(self, role: Role) -> Vocabulary | None:
        """The vocabulary of status column ``role``."""
        return next((v for v in self.statuses if v.role is role), None)

    def known_names(self) -> tuple[str, ...]:
        """Every header name the format accepts (its columns, kept and ignored ones), once."""
        named = [n for c in self.columns for n in c.names]
        every = (*named, *(name for name, _ in self.kept), *self.ignored)
        return tuple(dict.fromkeys(every))

    def patterns(self) -> tuple[re.Pattern[str], ...]:
        """Patterns of further accepted header names (numbered columns, ignored families)."""
        flags = re.IGNORECASE if self.any_case else 0
        found = [c.pattern for c in self.columns if c.pattern]
        return tuple(re.compile(p, flags) for p in (*found, *self.ignored_patterns))

    def _by_role(self) -> dict[Role, Column]:
        return self._roles

    def __post_init__(self) -> None:
        object.__setattr__(self, "_roles", {c.role: c for c in self.columns})
        roles = [c.role for c in self.columns]
        repeated = {r for r in roles if roles.count(r) > 1}
        if repeated:
            raise ValueError(f"{self.name}: roles described twice: {sorted(repeated)}")

        def fold(name: str) -> str:
            return name.lower() if self.any_case else name

        for column in self.columns:
            folded = [fold(n) for n in column.names]
            if len(set(folded)) != len(folded):
                raise ValueError(f"{self.name}: {column.role} names a column twice")
        # A column may serve two roles (Shopify's "Shipping City" is part of the address
        # and the customer's city when no billing city is given), but a role's name is
        # never also an ignored one.
        read = {fold(n) for c in self.columns for n in c.names} | {fold(n) for n, _ in self.kept}
        clash = read & {fold(n) for n in self.ignored}
        if clash:
            raise ValueError(f"{self.name}: columns both read and ignored: {sorted(clash)}")
        for vocabulary in self.statuses:
            if vocabulary.role not in roles:
                raise ValueError(f"{self.name}: no column for status {vocabulary.role}")
        statuses = set(get_args(Status))
        for vocabulary in self.statuses:
            for word in vocabulary.words.values():
                if word.status not in statuses:  # pragma: no cover - typed
                    raise ValueError(f"{self.name}: {word.status!r} is not an order status")
        channels = {"online", "in_store", "phone"}
        if not {*self.channels.values(), self.default_channel} <= channels:
            raise ValueError(f"{self.name}: channels must be among {sorted(channels)}")
