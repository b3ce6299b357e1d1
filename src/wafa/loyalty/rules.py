"""What an order earns, rule by rule: pure functions of the order and the program rules.

Each rule's points are computed once per order on the sum of the amounts it
applies to, with the one rounding helper (``apply_rate_bp``, toward zero). A
multiplier's rule earns only the *extra* points, so "double points" on a line gives
the base points (rule ``base``) plus as many again (rule ``promo:<name>``).

A refund is handled by computing the same rules on what is left of the order and
taking back the difference, so a partial refund takes back points in proportion to
the refunded lines, and refunding everything takes back everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from wafa.core.money import apply_rate_bp, prorate
from wafa.loyalty.schemas.program import Multiplier, ProgramRules, Tier

BASE = "base"
FIRST_ORDER = "bonus:first_order"


@dataclass(frozen=True)
class LineView:
    line_no: int
    sku: str | None
    category: str | None
    quantity: int
    unit_price: int
    total: int  # after the line's own discount


@dataclass(frozen=True)
class OrderView:
    id: uuid.UUID
    channel: str
    placed_on: date
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int
    lines: tuple[LineView, ...]


def _share(amount: int, part: int, whole: int) -> int:
    return prorate(amount, part, whole) if whole else 0


def qualifying(
    rules: ProgramRules, order: OrderView, quantities: Mapping[int, int]
) -> dict[int, int]:
    """Qualifying amount per line for the given quantities (``quantities[line_no]``).

    Excluded categories and products earn nothing. With ``after_discounts`` the
    line's share of the order discount is taken off; otherwise the list price counts.
    Shipping and tax, when they count, sit on pseudo-lines -1 and -2, scaled by the
    share of the order that is left.
    """
    earning = rules.earning
    out: dict[int, int] = {}
    kept_value = whole_value = 0
    for line in order.lines:
        qty = quantities.get(line.line_no, line.quantity)
        whole_value += line.total
        kept_value += _share(line.total, qty, line.quantity)
        if (line.category and line.category in earning.excluded_categories) or (
            line.sku and line.sku in earning.excluded_skus
        ):
            out[line.line_no] = 0
            continue
        if earning.after_discounts:
            net = line.total - _share(order.discount, line.total, order.subtotal)
            out[line.line_no] = max(0, _share(net, qty, line.quantity))
        else:
            out[line.line_no] = line.unit_price * qty
    if earning.include_shipping and order.shipping:
        out[-1] = _share(order.shipping, kept_value, whole_value)
    if earning.include_tax and order.tax:
        out[-2] = _share(order.tax, kept_value, whole_value)
    return out


def _matches(m: Multiplier, line: LineView | None, order: OrderView) -> bool:
    if m.starts_on and order.placed_on < m.starts_on:
        return False
    if m.ends_on and order.placed_on > m.ends_on:
        return False
    if m.channels and order.channel not in m.channels:
        return False
    if not m.categories and not m.skus:
        return True
    if line is None:  # shipping and tax match only whole-order multipliers
        return False
    return bool(
        (line.category and line.category in m.categories) or (line.sku and line.sku in m.skus)
    )


def _extra(amount: int, rate_bp: int, multiplier_bp: int) -> int:
    """Points a multiplier adds on ``amount`` beyond the base points."""
    return apply_rate_bp(apply_rate_bp(amount, multiplier_bp), rate_bp) - apply_rate_bp(
        amount, rate_bp
    )


def order_points(
    rules: ProgramRules,
    order: OrderView,
    *,
    quantities: Mapping[int, int] | None = None,
    tier: Tier | None = None,
    first_order: bool = False,
    scale: tuple[int, int] = (1, 1),
) -> dict[str, int]:
    """Points per rule for ``order`` (with ``quantities`` left of each line, all by default).

    ``scale`` shrinks the result for refunds given as an amount rather than as lines.
    The minimum order amount is judged on the whole order, so a partial refund never
    takes back more than the refunded share.
    """
    whole = qualifying(rules, order, {})
    if sum(whole.values()) < rules.earning.min_order_amount:
        return {}
    amounts = whole if quantities is None else qualifying(rules, order, quantities)
    num, den = scale
    if (num, den) != (1, 1):
        amounts = {k: _share(v, num, den) for k, v in amounts.items()}
    rate = rules.earning.rate_bp
    total = sum(amounts.values())
    out: dict[str, int] = {}
    base = apply_rate_bp(total, rate)
    if base:
        out[BASE] = base
    if tier is not None and tier.earn_multiplier_bp != 10_000:
        extra = _extra(total, rate, tier.earn_multiplier_bp)
        if extra > 0:
            out[f"tier:{tier.code}"] = extra
    by_line = {line.line_no: line for line in order.lines}
    for m in rules.multipliers:
        matching = sum(
            amount
            for line_no, amount in amounts.items()
            if _matches(m, by_line.get(line_no), order)
        )
        extra = _extra(matching, rate, m.multiplier_bp)
        if extra > 0:
            out[f"promo:{m.name}"] = extra
    if first_order and rules.bonuses.first_order and total > 0:
        out[FIRST_ORDER] = rules.bonuses.first_order
    return out


def stamps_for(
    per: str,
    skus: Sequence[str],
    categories: Sequence[str],
    order: OrderView,
    quantities: Mapping[int, int] | None = None,
) -> int:
    """Stamps an order earns on a card: 1 per visit with a qualifying item, or 1 per item."""
    count = 0
    for line in order.lines:
        qty = line.quantity if quantities is None else quantities.get(line.line_no, line.quantity)
        if qty <= 0:
            continue
        if (line.sku and line.sku in skus) or (line.category and line.category in categories):
            count += qty
    if per == "visit":
        return 1 if count else 0
    return count
