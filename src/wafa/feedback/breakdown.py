"""Survey scores broken down by the location, channel, staff member and product of the
order each answer is about.

An answer knows its order (``survey_responses.order_id``, from the invitation or the
integrator) and the staff member who served (``staff_id``). Location and channel are the
order's; a product group holds every answer whose order has a line of that product (an
answer about an order of three products counts once in each of the three groups, never
twice in one); the staff group is the answer's own. Answers with no order (or no staff
member) form the group whose ``value`` is ``None``.

Each group carries its counts, its score (NPS, CSAT % or CES %, exactly as
``wafa.feedback.scoring`` defines them) and a confidence note: ``margin`` is the half-width
of a 95 % normal-approximation interval, in points of the score (for NPS the variance of
an answer scored +1/0/−1 is ``p + d − (p − d)²``; for CSAT and CES that of a proportion),
and ``small`` is true under ``SMALL`` (30) answers, where the score is a hint, not a
finding.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from wafa.auth.models import StaffUser
from wafa.feedback import scoring
from wafa.feedback.models import SurveyKind, SurveyResponse
from wafa.feedback.service import get_survey
from wafa.orders.models import Location, Order, OrderLine

Dimension = Literal["location", "channel", "staff", "product"]
DIMENSIONS: tuple[Dimension, ...] = ("location", "channel", "staff", "product")
SMALL = 30
Z95 = 1.96


def margin(figures: scoring.Score) -> int | None:
    """Half-width of the 95 % interval of the score, in points (``None`` without answers)."""
    n = figures.responses
    if n == 0:
        return None
    if figures.kind == SurveyKind.nps:
        p, d = figures.promoters / n, figures.detractors / n
        variance = p + d - (p - d) ** 2
    else:
        s = figures.satisfied / n
        variance = s * (1 - s)
    return round(Z95 * math.sqrt(max(variance, 0.0) / n) * 100)


def _query(dimension: Dimension) -> Select[Any, Any, int, int]:
    """``(value, label, score, answers)`` per group and score, for one dimension."""
    answers = func.count(SurveyResponse.id.distinct())
    if dimension == "location":
        return (
            select(Location.id, func.max(Location.name), SurveyResponse.score, answers)
            .select_from(SurveyResponse)
            .outerjoin(Order, Order.id == SurveyResponse.order_id)
            .outerjoin(Location, Location.id == Order.location_id)
            .group_by(Location.id, SurveyResponse.score)
        )
    if dimension == "channel":
        return (
            select(Order.channel, func.max(Order.channel), SurveyResponse.score, answers)
            .select_from(SurveyResponse)
            .outerjoin(Order, Order.id == SurveyResponse.order_id)
            .group_by(Order.channel, SurveyResponse.score)
        )
    if dimension == "staff":
        return (
            select(
                SurveyResponse.staff_id,
                func.max(func.coalesce(StaffUser.name, StaffUser.email)),
                SurveyResponse.score,
                answers,
            )
            .select_from(SurveyResponse)
            .outerjoin(StaffUser, StaffUser.id == SurveyResponse.staff_id)
            .group_by(SurveyResponse.staff_id, SurveyResponse.score)
        )
    key = func.coalesce(OrderLine.sku, OrderLine.name)
    return (
        select(key, func.max(OrderLine.name), SurveyResponse.score, answers)
        .select_from(SurveyResponse)
        .outerjoin(Order, Order.id == SurveyResponse.order_id)
        .outerjoin(OrderLine, OrderLine.order_id == Order.id)
        .group_by(key, SurveyResponse.score)
    )


def breakdown(
    session: Session,
    *,
    survey_id: uuid.UUID,
    by: Dimension,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """The survey's figures per group of ``by`` over answers given in ``[since, until)``,
    most answers first (the group without an order or staff member last)."""
    if by not in DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}")
    survey = get_survey(session, survey_id)
    where: list[ColumnElement[bool]] = [SurveyResponse.survey_id == survey.id]
    if since is not None:
        where.append(SurveyResponse.created_at >= since)
    if until is not None:
        where.append(SurveyResponse.created_at < until)
    scores: dict[str | None, list[int]] = {}
    labels: dict[str | None, str | None] = {}
    for raw, label, score, count in session.execute(_query(by).where(*where)).all():
        value = None if raw is None else str(raw)
        scores.setdefault(value, []).extend([int(score)] * int(count))
        labels[value] = labels.get(value) or label
    groups: list[dict[str, Any]] = []
    for value, values in scores.items():
        figures = scoring.score(survey.kind, values)
        groups.append(
            {
                "value": value,
                "label": labels.get(value),
                "responses": figures.responses,
                "promoters": figures.promoters,
                "passives": figures.passives,
                "detractors": figures.detractors,
                "satisfied": figures.satisfied,
                "score": figures.score,
                "mean": figures.mean,
                "margin": margin(figures),
                "small": figures.responses < SMALL,
            }
        )
    return sorted(groups, key=lambda g: (g["value"] is None, -g["responses"], g["label"] or ""))
