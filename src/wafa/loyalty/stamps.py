"""Stamp cards: N qualifying purchases of a product or category earn a reward.

Stamps count per visit (one per order with a qualifying item) or per item, and
carry across cards: the 12th stamp on a 10-stamp card completes it and leaves 2
toward the next. Each completion issues the card's reward as a coupon, once per
completion number. A refund takes its stamps back; if that leaves the card below
zero and the last completion's coupon is unused, the coupon is voided and the
completion undone; if the coupon was used, the next purchase fills the gap.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from wafa.core.db import dialect_name, insert_ignoring_conflicts, insert_new, rowcount
from wafa.core.errors import Invalid, NotFound
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import coupons, texts
from wafa.loyalty.models import (
    Coupon,
    CouponSource,
    CouponStatus,
    Reward,
    StampCard,
    StampEntry,
    StampProgress,
)
from wafa.loyalty.rules import OrderView, stamps_for
from wafa.loyalty.schemas.io import StampCardCreate, StampCardUpdate


def create_card(session: Session, *, data: StampCardCreate) -> StampCard:
    """Add a stamp card; it needs a reward and at least one product or category."""
    if session.get(Reward, data.reward_id) is None:
        raise Invalid.field(("reward_id",), f"no reward {data.reward_id}")
    now = utcnow()
    card = StampCard(
        id=new_id(),
        name=data.name,
        stamps_required=data.stamps_required,
        per=data.per,
        skus=list(data.skus),
        categories=list(data.categories),
        reward_id=data.reward_id,
        active=data.active,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        created_at=now,
        updated_at=now,
    )
    session.add(card)
    session.flush()
    return card


def get_card(session: Session, card_id: uuid.UUID) -> StampCard:
    """The stamp card with ``card_id``."""
    card = session.get(StampCard, card_id)
    if card is None:
        raise NotFound(f"stamp card {card_id} not found", card_id=card_id)
    return card


def update_card(session: Session, *, card_id: uuid.UUID, data: StampCardUpdate) -> StampCard:
    """Change the fields given; stamps already earned stay.

    The card as changed still needs products or categories that earn stamps;
    otherwise nothing changes and ``Invalid`` names ``skus``.
    """
    card = get_card(session, card_id)
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    for name, value in changes.items():
        if value is None and name not in ("valid_from", "valid_until"):
            raise Invalid.field((name,), "may not be null")
        if name == "reward_id" and session.get(Reward, value) is None:
            raise Invalid.field(("reward_id",), f"no reward {value}")
    if not changes.get("skus", card.skus) and not changes.get("categories", card.categories):
        raise Invalid.field(("skus",), texts.NEEDS_PRODUCTS)
    for name, value in changes.items():
        setattr(card, name, list(value) if name in ("skus", "categories") else value)
    card.updated_at = utcnow()
    session.flush()
    return card


def list_cards(session: Session, *, active_only: bool = False) -> list[StampCard]:
    """Stamp cards, newest first."""
    stmt = select(StampCard).order_by(StampCard.created_at.desc())
    if active_only:
        stmt = stmt.where(StampCard.active.is_(True))
    return list(session.scalars(stmt))


_CARDS = cast(Table, StampCard.__table__)


def active_cards(session: Session, at: datetime) -> list[Any]:
    """The cards stamping purchases at ``at`` (light rows with the card's columns)."""
    return list(
        session.execute(
            select(_CARDS)
            .where(
                _CARDS.c.active.is_(True),
                or_(_CARDS.c.valid_from.is_(None), _CARDS.c.valid_from <= at),
                or_(_CARDS.c.valid_until.is_(None), _CARDS.c.valid_until > at),
            )
            .order_by(_CARDS.c.id)
        )
    )


def _progress(
    session: Session, customer_id: uuid.UUID, card_id: uuid.UUID, now: datetime
) -> StampProgress:
    session.execute(
        insert_ignoring_conflicts(
            session, StampProgress, index_elements=["customer_id", "card_id"]
        ).values(customer_id=customer_id, card_id=card_id, stamps=0, completed=0, updated_at=now)
    )
    progress = session.scalars(
        select(StampProgress)
        .where(StampProgress.customer_id == customer_id, StampProgress.card_id == card_id)
        .execution_options(populate_existing=True)
    ).one()
    return progress


_UPSERT: dict[str, Any] = {}


def _add(
    session: Session, customer_id: uuid.UUID, card_id: uuid.UUID, stamps: int, now: datetime
) -> int:
    """Add ``stamps`` to the member's progress (creating it) in one statement; the new count."""
    dialect = dialect_name(session)
    stmt = _UPSERT.get(dialect)
    if stmt is None:
        table = cast(Table, StampProgress.__table__)
        base = pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
        values = base.values(
            customer_id=bindparam("b_cid"),
            card_id=bindparam("b_card"),
            stamps=bindparam("b_n"),
            completed=0,
            updated_at=bindparam("b_now"),
        )
        stmt = values.on_conflict_do_update(
            index_elements=["customer_id", "card_id"],
            set_={
                "stamps": table.c.stamps + values.excluded.stamps,
                "updated_at": values.excluded.updated_at,
            },
        ).returning(table.c.stamps)
        _UPSERT[dialect] = stmt
    row = session.execute(
        stmt, {"b_cid": customer_id, "b_card": card_id, "b_n": stamps, "b_now": now}
    ).scalar_one()
    return int(row)


def _entry(
    session: Session,
    *,
    customer_id: uuid.UUID,
    card_id: uuid.UUID,
    stamps: int,
    reason: str,
    occasion: str,
    now: datetime,
    order_id: uuid.UUID | None = None,
    coupon_id: uuid.UUID | None = None,
) -> bool:
    return insert_new(
        session,
        StampEntry,
        index_elements=["customer_id", "card_id", "occasion"],
        values={
            "id": new_id(),
            "customer_id": customer_id,
            "card_id": card_id,
            "stamps": stamps,
            "reason": reason,
            "occasion": occasion[:160],
            "order_id": order_id,
            "coupon_id": coupon_id,
            "created_at": now,
        },
    )


def book(
    session: Session,
    *,
    settings: Settings,
    card: Any,
    customer_id: uuid.UUID,
    stamps: int,
    reason: str,
    occasion: str,
    now: datetime,
    order_id: uuid.UUID | None = None,
) -> list[str]:
    """Add (or, negative, remove) stamps once per occasion; complete cards; return new codes.

    The caller holds the member's lock.
    """
    if stamps == 0 or not _entry(
        session,
        customer_id=customer_id,
        card_id=card.id,
        stamps=stamps,
        reason=reason,
        occasion=occasion,
        now=now,
        order_id=order_id,
    ):
        return []
    count = _add(session, customer_id, card.id, stamps, now)
    if 0 <= count < card.stamps_required:
        return []
    progress = _progress(session, customer_id, card.id, now)
    issued: list[str] = []
    reward = session.get(Reward, card.reward_id)
    while progress.stamps >= card.stamps_required:
        # Completions are numbered for good (an undone completion keeps its number),
        # so a card completed again after a refund issues a new coupon.
        number = 1 + int(
            session.scalar(
                select(func.count())
                .select_from(StampEntry)
                .where(
                    StampEntry.customer_id == customer_id,
                    StampEntry.card_id == card.id,
                    StampEntry.reason == "completion",
                )
            )
            or 0
        )
        coupon = None
        if reward is not None:
            coupon = coupons.issue_for_reward(
                session,
                settings=settings,
                reward=reward,
                customer_id=customer_id,
                source=CouponSource.stamp_card,
                occasion=f"stamp:{card.id}:{customer_id}:{number}",
                now=now,
            )
            issued.append(coupon.code)
        _entry(
            session,
            customer_id=customer_id,
            card_id=card.id,
            stamps=-card.stamps_required,
            reason="completion",
            occasion=f"completion:{number}",
            now=now,
            coupon_id=coupon.id if coupon else None,
        )
        progress.stamps -= card.stamps_required
        progress.completed += 1
    while progress.stamps < 0 and progress.completed > 0:
        if not _undo_completion(session, card, customer_id, progress, now):
            break
    progress.updated_at = now
    session.flush()
    return issued


def _undo_completion(
    session: Session,
    card: Any,
    customer_id: uuid.UUID,
    progress: StampProgress,
    now: datetime,
) -> bool:
    """Void the latest completion whose coupon is still unused and give its stamps back."""
    undone = select(StampEntry.occasion).where(
        StampEntry.customer_id == customer_id,
        StampEntry.card_id == card.id,
        StampEntry.reason == "completion_voided",
    )
    latest = session.execute(
        select(StampEntry.occasion, StampEntry.coupon_id)
        .where(
            StampEntry.customer_id == customer_id,
            StampEntry.card_id == card.id,
            StampEntry.reason == "completion",
            (StampEntry.occasion + ":voided").not_in(undone),
        )
        .order_by(StampEntry.created_at.desc(), StampEntry.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        return False
    occasion, coupon_id = latest
    if coupon_id is not None:
        voided = rowcount(
            session.execute(
                update(Coupon)
                .where(
                    Coupon.id == coupon_id,
                    Coupon.uses == 0,
                    Coupon.status == CouponStatus.active,
                )
                .values(status=CouponStatus.voided, voided_at=now, void_reason="stamps refunded")
                .execution_options(synchronize_session=False)
            )
        )
        if voided != 1:
            return False
    _entry(
        session,
        customer_id=customer_id,
        card_id=card.id,
        stamps=card.stamps_required,
        reason="completion_voided",
        occasion=f"{occasion}:voided",
        now=now,
        coupon_id=coupon_id,
    )
    progress.stamps += card.stamps_required
    progress.completed -= 1
    return True


def add_for_order(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    order: OrderView,
    now: datetime,
    cards: Sequence[Any] | None = None,
) -> tuple[int, list[str]]:
    """Stamps an order earns on every active card; returns (stamps, coupon codes issued)."""
    total = 0
    issued: list[str] = []
    for card in active_cards(session, now) if cards is None else cards:
        n = stamps_for(card.per, card.skus, card.categories, order)
        if n:
            total += n
            issued += book(
                session,
                settings=settings,
                card=card,
                customer_id=customer_id,
                stamps=n,
                reason="purchase",
                occasion=f"order:{order.id}",
                now=now,
                order_id=order.id,
            )
    return total, issued


def reconcile_order(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    order: OrderView,
    quantities: Mapping[int, int],
    void: bool,
    occasion: str,
    now: datetime,
) -> int:
    """Take back the stamps of refunded items (all of them for a void order); returns how many."""
    nets = session.execute(
        select(StampEntry.card_id, func.sum(StampEntry.stamps))
        .where(
            StampEntry.order_id == order.id,
            StampEntry.reason.in_(("purchase", "refund")),
        )
        .group_by(StampEntry.card_id)
    ).all()
    taken = 0
    for card_id, net in nets:
        card = session.get(StampCard, card_id)
        if card is None or not net:
            continue
        target = 0 if void else stamps_for(card.per, card.skus, card.categories, order, quantities)
        delta = int(net) - target
        if delta > 0:
            book(
                session,
                settings=settings,
                card=card,
                customer_id=customer_id,
                stamps=-delta,
                reason="refund",
                occasion=f"{occasion}",
                now=now,
                order_id=order.id,
            )
            taken += delta
    return taken


def progress_of(session: Session, customer_id: uuid.UUID) -> list[dict[str, object]]:
    """The member's stamps on every active card (cards never stamped show 0)."""
    have = {
        p.card_id: p
        for p in session.scalars(
            select(StampProgress).where(StampProgress.customer_id == customer_id)
        )
    }
    out: list[dict[str, object]] = []
    for card in list_cards(session):
        p = have.get(card.id)
        if not card.active and p is None:
            continue
        out.append(
            {
                "card_id": card.id,
                "name": card.name,
                "stamps": p.stamps if p else 0,
                "required": card.stamps_required,
                "completed": p.completed if p else 0,
                "active": card.active,
            }
        )
    return out


def move_to(
    session: Session,
    *,
    settings: Settings,
    loser_id: uuid.UUID,
    winner_id: uuid.UUID,
    merge_id: str,
    now: datetime,
) -> None:
    """A merge: the loser's stamps on each card join the winner's (completing cards if due)."""
    for p in list(
        session.scalars(select(StampProgress).where(StampProgress.customer_id == loser_id))
    ):
        card = session.get(StampCard, p.card_id)
        if card is None or p.stamps == 0:
            continue
        moved = p.stamps
        _entry(
            session,
            customer_id=loser_id,
            card_id=card.id,
            stamps=-moved,
            reason="merge_out",
            occasion=f"merge:{merge_id}",
            now=now,
        )
        p.stamps = 0
        book(
            session,
            settings=settings,
            card=card,
            customer_id=winner_id,
            stamps=moved,
            reason="merge_in",
            occasion=f"merge:{merge_id}",
            now=now,
        )
    session.flush()
