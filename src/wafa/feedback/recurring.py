"""Recurring complaints: a rise beyond chance, and complaints that read alike.

**Detection.** For each category, product, location and staff member, the complaints of the
recent window (28 days) are set against the same group's baseline (the 112 days before).
Exposure is the group's own sales in each period: the orders with a line of that product
(the complaint's product read as a SKU, else as a line's name, letters folded), the orders
taken at that location (its code, else its name), the orders taken by that staff member
(``orders.attributes["staff_id"]``, which the point of sale records). A category is not a
sales dimension: its exposure is the shop's sales. When a group had no sales in the window
or in the baseline (a new product, a product not in the catalogue, orders that do not say
who took them), its exposure falls back to the shop's sales and the flag says so
(``exposure="shop"``); with no sales at all, to days (``exposure="days"``). Rates are per
100 orders of the exposure. Under "nothing changed", a complaint of the group falls in the
window with probability ``p = exposure_window / (exposure_window + exposure_baseline)``, so
the window's count given the total is Binomial(total, p) — the conditional test for
comparing two Poisson rates (Przyborowski & Wilenski, 1940). A group is flagged when the
one-sided p-value ``P(X >= window count)`` is below ``alpha`` (0.01) and it has at least 3
complaints in the window: a doubled rate on a real history is flagged, a wobble is not,
and a product whose complaints double because its sales doubled is not either.

**Grouping.** Complaint texts are folded (case, Arabic/Persian yeh and kaf, diacritics, the
zero-width non-joiner, digits: ``wafa.core.text.search_key``), cut into character 3-grams,
weighted by TF-IDF and compared by cosine similarity; a text joins the first group whose
first text it resembles above ``threshold``. Character n-grams need no word list and work
the same in English, Arabic and Persian.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from scipy.stats import binom
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wafa.core.settings import Settings
from wafa.core.text import search_key
from wafa.core.time import utcnow
from wafa.feedback.models import Complaint, ComplaintKind
from wafa.orders.models import Location, Order, OrderLine
from wafa.orders.queries import sales_query
from wafa.orders.sales import sold

DIMENSIONS = ("category", "product", "location", "staff_id")
WINDOW_DAYS = 28
BASELINE_DAYS = 112
ALPHA = 0.01
MIN_COUNT = 3


@dataclass(frozen=True)
class Flag:
    """One group's window against its baseline."""

    dimension: str
    value: str
    window: int
    baseline: int
    rate: float  # per 100 orders of the exposure (or per day without sales) in the window
    baseline_rate: float
    p_value: float
    flagged: bool
    exposure: str = "shop"  # "group": the group's own orders; "shop"; "days"
    orders_window: int | None = None  # the exposure's orders in the window (None: days)
    orders_baseline: int | None = None


def p_value(window: int, baseline: int, exposure_window: float, exposure_baseline: float) -> float:
    """One-sided conditional binomial p-value that the window's rate exceeds the baseline's."""
    total = window + baseline
    if total == 0 or window == 0:
        return 1.0
    p = exposure_window / (exposure_window + exposure_baseline)
    return float(binom.sf(window - 1, total, p))


def _counts(session: Session, column: Any, start: datetime, end: datetime) -> dict[str, int]:
    rows = session.execute(
        select(column, func.count())
        .where(
            Complaint.kind == ComplaintKind.complaint.value,
            Complaint.created_at >= start,
            Complaint.created_at < end,
            column.is_not(None),
        )
        .group_by(column)
    ).all()
    return {str(value): int(n) for value, n in rows}


def _exposure(
    session: Session, settings: Settings, start: datetime, end: datetime
) -> tuple[float, bool]:
    orders = int(session.execute(sales_query(start, end, settings.currency)).one()[0] or 0)
    return (float(orders), True) if orders else ((end - start).total_seconds() / 86400, False)


def _fold(value: str | None) -> str:
    return (value or "").strip().lower()


def _tally(rows: Any) -> dict[str, int]:
    found: dict[str, int] = {}
    for key, n in rows:
        folded = _fold(None if key is None else str(key))
        if folded:
            found[folded] = found.get(folded, 0) + int(n)
    return found


def group_orders(
    session: Session, settings: Settings, dimension: str, start: datetime, end: datetime
) -> Any:
    """A function from a complaint's value of ``dimension`` to the number of sales of that
    group placed in ``[start, end)`` (``None`` for a dimension without its own sales)."""
    inside = (
        Order.placed_at >= start,
        Order.placed_at < end,
        Order.currency == settings.currency,
        sold(),
    )
    if dimension == "product":
        per_order = func.count(Order.id.distinct())
        base = select().select_from(OrderLine).join(Order, Order.id == OrderLine.order_id)
        by_sku = _tally(
            session.execute(
                base.add_columns(func.lower(OrderLine.sku), per_order)
                .where(*inside, OrderLine.sku.is_not(None))
                .group_by(func.lower(OrderLine.sku))
            ).all()
        )
        by_name = _tally(
            session.execute(
                base.add_columns(func.lower(OrderLine.name), per_order)
                .where(*inside)
                .group_by(func.lower(OrderLine.name))
            ).all()
        )
        return lambda v: by_sku.get(_fold(v), by_name.get(_fold(v), 0))
    if dimension == "location":
        rows = session.execute(
            select(Location.code, Location.name, func.count(Order.id))
            .join(Order, Order.location_id == Location.id)
            .where(*inside)
            .group_by(Location.id, Location.code, Location.name)
        ).all()
        by_code = _tally((code, n) for code, _, n in rows)
        by_name = _tally((name, n) for _, name, n in rows)
        return lambda v: by_code.get(_fold(v), by_name.get(_fold(v), 0))
    if dimension == "staff_id":
        staff = Order.attributes["staff_id"].as_string()
        by_staff = _tally(
            session.execute(
                select(staff, func.count(Order.id))
                .where(*inside, staff.is_not(None))
                .group_by(staff)
            ).all()
        )
        return lambda v: by_staff.get(_fold(v), 0)
    return None


def detect(
    session: Session,
    *,
    settings: Settings,
    now: datetime | None = None,
    window_days: int = WINDOW_DAYS,
    baseline_days: int = BASELINE_DAYS,
    alpha: float = ALPHA,
    min_count: int = MIN_COUNT,
) -> list[Flag]:
    """Every group with complaints in the window, flagged ones first (smallest p-value)."""
    end = now or utcnow()
    cut = end - timedelta(days=window_days)
    start = cut - timedelta(days=baseline_days)
    ew, per_order = _exposure(session, settings, cut, end)
    eb, _ = _exposure(session, settings, start, cut)
    if eb == 0:
        eb = float(baseline_days)
    shop = "shop" if per_order else "days"
    found: list[Flag] = []
    for dimension in DIMENSIONS:
        column = getattr(Complaint, dimension)
        recent = _counts(session, column, cut, end)
        before = _counts(session, column, start, cut)
        own_window = group_orders(session, settings, dimension, cut, end) if recent else None
        own_before = group_orders(session, settings, dimension, start, cut) if recent else None
        for value, window in recent.items():
            baseline = before.get(value, 0)
            gw = own_window(value) if own_window is not None else 0
            gb = own_before(value) if own_before is not None else 0
            if gw and gb:
                xw, xb, scale, exposure = float(gw), float(gb), 100.0, "group"
            else:
                xw, xb, scale, exposure = ew, eb, (100.0 if per_order else 1.0), shop
            p = p_value(window, baseline, xw, xb)
            found.append(
                Flag(
                    dimension=dimension,
                    value=value,
                    window=window,
                    baseline=baseline,
                    rate=round(scale * window / xw, 2) if xw else 0.0,
                    baseline_rate=round(scale * baseline / xb, 2) if xb else 0.0,
                    p_value=p,
                    flagged=window >= min_count and p < alpha,
                    exposure=exposure,
                    orders_window=int(xw) if exposure != "days" else None,
                    orders_baseline=int(xb) if exposure != "days" else None,
                )
            )
    return sorted(found, key=lambda f: (not f.flagged, f.p_value))


# --------------------------------------------------------------------------- texts


def _grams(text: str, n: int = 3) -> Counter[str]:
    folded = f" {search_key(text) or ''} "
    return Counter(folded[i : i + n] for i in range(max(len(folded) - n + 1, 0)))


@dataclass(frozen=True)
class TextGroup:
    """Complaints whose texts read alike; ``example`` is the first one's text."""

    example: str
    count: int
    ids: tuple[str, ...]


def group_texts(texts: list[tuple[str, str]], *, threshold: float = 0.45) -> list[TextGroup]:
    """Group ``(id, text)`` pairs by TF-IDF cosine similarity of character 3-grams, largest
    group first."""
    grams = [_grams(text) for _, text in texts]
    documents = Counter(g for counts in grams for g in counts)
    total = len(texts)
    vectors: list[dict[str, float]] = []
    for counts in grams:
        weights = {
            g: c * (math.log((1 + total) / (1 + documents[g])) + 1) for g, c in counts.items()
        }
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        vectors.append({g: w / norm for g, w in weights.items()})
    heads: list[int] = []
    members: dict[int, list[int]] = {}
    for i, vector in enumerate(vectors):
        for head in heads:
            other = vectors[head]
            small, large = (vector, other) if len(vector) < len(other) else (other, vector)
            if sum(w * large.get(g, 0.0) for g, w in small.items()) >= threshold:
                members[head].append(i)
                break
        else:
            heads.append(i)
            members[i] = [i]
    groups = [
        TextGroup(example=texts[h][1], count=len(m), ids=tuple(texts[i][0] for i in m))
        for h, m in members.items()
    ]
    return sorted(groups, key=lambda g: -g.count)


def similar_complaints(
    session: Session, *, now: datetime | None = None, days: int = 21, limit: int = 2000
) -> list[TextGroup]:
    """Groups of two or more complaints of the last ``days`` that read alike."""
    since = (now or utcnow()) - timedelta(days=days)
    rows = session.execute(
        select(Complaint.id, Complaint.text)
        .where(
            Complaint.kind == ComplaintKind.complaint.value,
            Complaint.created_at >= since,
            Complaint.text != "",
        )
        .order_by(Complaint.created_at.desc())
        .limit(limit)
    ).all()
    return [g for g in group_texts([(str(i), t) for i, t in rows]) if g.count >= 2]
