"""Recurring complaints: a rise beyond chance, and complaints that read alike.

**Detection.** For each category, product, location and staff member, the complaints of the
recent window (28 days) are set against the same group's baseline (the 112 days before).
Exposure is the shop's sales in each period (rates per 100 orders; days when there were no
sales). Under "nothing changed", a complaint of the group falls in the window with
probability ``p = exposure_window / (exposure_window + exposure_baseline)``, so the window's
count given the total is Binomial(total, p) — the conditional test for comparing two Poisson
rates (Przyborowski & Wilenski, 1940). A group is flagged when the one-sided p-value
``P(X >= window count)`` is below ``alpha`` (0.01) and it has at least 3 complaints in the
window: a doubled rate on a real history is flagged, a wobble is not.

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
from wafa.orders.queries import sales_query

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
    rate: float  # per 100 orders (or per day without sales) in the window
    baseline_rate: float
    p_value: float
    flagged: bool


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
    scale = 100.0 if per_order else 1.0
    found: list[Flag] = []
    for dimension in DIMENSIONS:
        column = getattr(Complaint, dimension)
        recent = _counts(session, column, cut, end)
        before = _counts(session, column, start, cut)
        for value, window in recent.items():
            baseline = before.get(value, 0)
            p = p_value(window, baseline, ew, eb)
            found.append(
                Flag(
                    dimension=dimension,
                    value=value,
                    window=window,
                    baseline=baseline,
                    rate=round(scale * window / ew, 2) if ew else 0.0,
                    baseline_rate=round(scale * baseline / eb, 2) if eb else 0.0,
                    p_value=p,
                    flagged=window >= min_count and p < alpha,
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
