"""Compensation in one click: points or a single-use coupon for a complaint, once.

* Once: ``(complaint, key)`` is a unique key, claimed before anything is given. The key is
  the request's ``Idempotency-Key`` (API) or the form's key (dashboard), so a replay, a
  double click or two concurrent requests give one gift.
* Points go through the loyalty service as a staff adjustment (available at once, never
  pending), booked once per compensation (its occasion), with the complaint named in the
  ledger entry's note. Coupons are issued by loyalty (source ``compensation``), single-use,
  for the complaint's customer.
* Limits per staff role (``Policy.limits``): a cashier up to a set value, a manager more,
  the owner any. An API key counts as a manager, or as the owner with the ``admin`` scope.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from wafa.core.db import insert_new
from wafa.core.errors import Forbidden
from wafa.core.events import emit
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.feedback.complaints import get_complaint, record_entry
from wafa.feedback.events import CompensationGiven
from wafa.feedback.models import Compensation, CompensationKind, Complaint, ComplaintEntryKind
from wafa.feedback.policy import load_policy
from wafa.feedback.schemas import CompensationCreate, CouponGift
from wafa.loyalty import coupons
from wafa.loyalty import service as loyalty
from wafa.loyalty.models import CouponSource, RewardKind

DISCOUNT_KINDS = {
    "fixed": RewardKind.discount_fixed,
    "percent": RewardKind.discount_percent,
    "product": RewardKind.free_product,
}


class OverLimit(Forbidden):
    code = "compensation-over-limit"


def _check_limit(session: Session, role: str, data: CompensationCreate) -> None:
    limit = load_policy(session).limits.get(role)
    if limit is None:
        raise OverLimit(f"the {role} role may not compensate", role=role)
    if data.points is not None and limit.points is not None and data.points > limit.points:
        raise OverLimit(
            f"a {role} may give at most {limit.points} points", role=role, limit=limit.points
        )
    coupon = data.coupon
    if coupon is None:
        return
    if coupon.kind == "fixed" and limit.amount is not None and (coupon.amount or 0) > limit.amount:
        raise OverLimit(
            f"a {role} may give at most {limit.amount} off", role=role, limit=limit.amount
        )
    if (
        coupon.kind == "percent"
        and limit.percent is not None
        and (coupon.percent or 0) > limit.percent
    ):
        raise OverLimit(
            f"a {role} may give at most {limit.percent}% off", role=role, limit=limit.percent
        )
    if coupon.kind == "product" and not limit.free_product:
        raise OverLimit(f"a {role} may not give a free product", role=role)


def find(session: Session, complaint_id: uuid.UUID, key: str) -> Compensation | None:
    return session.scalar(
        select(Compensation).where(
            Compensation.complaint_id == complaint_id, Compensation.key == key
        )
    )


def compensate(
    session: Session,
    *,
    settings: Settings,
    complaint_id: uuid.UUID,
    data: CompensationCreate,
    key: str,
    role: str,
    by: str | None,
    staff_id: uuid.UUID | None = None,
) -> tuple[Compensation, bool]:
    """Give points or a coupon for a complaint, once per ``key``; ``(compensation, created)``."""
    complaint = get_complaint(session, complaint_id)
    existing = find(session, complaint.id, key)
    if existing is not None:
        return existing, False
    _check_limit(session, role, data)
    now = utcnow()
    comp_id = new_id()
    coupon = data.coupon
    claimed = insert_new(
        session,
        Compensation,
        index_elements=["complaint_id", "key"],
        values={
            "id": comp_id,
            "complaint_id": complaint.id,
            "customer_id": complaint.customer_id,
            "key": key,
            "kind": (CompensationKind.points if data.points else CompensationKind.coupon).value,
            "points": data.points,
            "discount_kind": coupon.kind if coupon else None,
            "amount": coupon.amount if coupon else None,
            "percent": coupon.percent if coupon else None,
            "product_sku": coupon.product_sku if coupon else None,
            "currency": settings.currency if coupon else None,
            "reason": data.reason.strip(),
            "by": by,
            "role": role,
            "created_at": now,
        },
    )
    if not claimed:  # a concurrent request with the same key got there first
        found = find(session, complaint.id, key)
        assert found is not None
        return found, False
    values: dict[str, Any] = {}
    note = f"Complaint {str(complaint.id)[:8]}: {data.reason.strip()}"
    if data.points is not None:
        entry = loyalty.adjust(
            session,
            settings=settings,
            customer_id=complaint.customer_id,
            points=data.points,
            reason=note,
            by=by,
            occasion=f"compensation:{comp_id}",
        )
        values["points_entry_id"] = entry.id
        summary = f"{data.points} points"
    else:
        assert coupon is not None
        issued = _coupon(session, settings, complaint, coupon, comp_id, by)
        values.update(coupon_id=issued.id, coupon_code=issued.code)
        summary = f"coupon {issued.code}"
    session.execute(update(Compensation).where(Compensation.id == comp_id).values(**values))
    record_entry(
        session,
        complaint,
        ComplaintEntryKind.compensation,
        text=f"{summary} — {data.reason.strip()}",
        staff_id=staff_id,
        by=by,
        at=now,
    )
    compensation = session.get(Compensation, comp_id)
    assert compensation is not None
    session.refresh(compensation)
    emit(
        session,
        CompensationGiven(
            customer_id=complaint.customer_id,
            complaint_id=complaint.id,
            compensation_id=comp_id,
            kind=compensation.kind,
            points=compensation.points,
            coupon_code=compensation.coupon_code,
        ),
    )
    session.flush()
    return compensation, True


def _coupon(
    session: Session,
    settings: Settings,
    complaint: Complaint,
    gift: CouponGift,
    comp_id: uuid.UUID,
    by: str | None,
) -> Any:
    now = utcnow()
    return coupons.issue(
        session,
        source=CouponSource.compensation,
        name="Compensation",
        discount_kind=DISCOUNT_KINDS[gift.kind].value,
        currency=settings.currency,
        now=now,
        customer_id=complaint.customer_id,
        amount=gift.amount,
        percent_bp=gift.percent * 100 if gift.percent else None,
        product_sku=gift.product_sku,
        max_uses=1,
        expires_at=now + timedelta(days=gift.valid_days),
        occasion=f"compensation:{comp_id}",
        created_by=by,
    )


def for_complaint(session: Session, complaint_id: uuid.UUID) -> list[Compensation]:
    return list(
        session.scalars(
            select(Compensation)
            .where(Compensation.complaint_id == complaint_id)
            .order_by(Compensation.created_at)
        )
    )


def report(session: Session) -> list[dict[str, Any]]:
    """Compensation per complaint category: how many, points given, coupon value (fixed)."""
    rows = session.execute(
        select(
            Complaint.category,
            func.count(Compensation.id),
            func.coalesce(func.sum(Compensation.points), 0),
            func.coalesce(func.sum(Compensation.amount), 0),
        )
        .join(Complaint, Complaint.id == Compensation.complaint_id)
        .group_by(Complaint.category)
        .order_by(func.count(Compensation.id).desc())
    ).all()
    return [
        {"category": c, "count": int(n), "points": int(p or 0), "amount": int(a or 0)}
        for c, n, p, a in rows
    ]
