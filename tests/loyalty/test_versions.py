"""The database raises the member's and the catalogue's versions on every change, whoever
writes (``wafa.loyalty.versions``; the triggers of migration ``c7d1e2f3a4b5``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Uuid, bindparam, select, text
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import deliver, member, place, set_rules
from wafa.core.settings import Settings
from wafa.loyalty import coupons, ledger, rewards, stamps, versions
from wafa.loyalty import service as loyalty
from wafa.loyalty.models import CouponSource, EntryKind
from wafa.loyalty.schemas.io import RewardCreate, StampCardCreate

NOON = datetime(2026, 3, 10, 12, tzinfo=UTC)
MEMBER_TABLES = (
    "points_entries",
    "points_lots",
    "loyalty_coupons",
    "loyalty_stamp_progress",
    "loyalty_badges",
    "loyalty_purchases",
    "loyalty_redemptions",
)
CATALOGUE_TABLES = ("loyalty_rewards", "loyalty_stamp_cards", "loyalty_program_versions")


def _member_version(session: Session, customer_id: uuid.UUID) -> int | None:
    return session.scalar(select(versions.member_version(customer_id)))


def _catalogue_version(session: Session) -> int | None:
    return session.scalar(select(versions.catalogue_version()))


def _sql(session: Session, sql: str, **ids: uuid.UUID) -> int:
    """Run ``sql`` as a hand-written fix would (not through the ORM); rows changed."""
    stmt = text(sql).bindparams(*(bindparam(name, type_=Uuid()) for name in ids))
    return int(session.execute(stmt, ids).rowcount)  # type: ignore[attr-defined]


def _busy_member(session: Session, settings: Settings) -> uuid.UUID:
    """A member with a row in every table the member's version watches."""
    set_rules(
        session,
        badges=[{"code": "first", "name": "First visit", "kind": "visits", "threshold": 1}],
    )
    free = rewards.create_reward(
        session,
        settings=settings,
        data=RewardCreate(
            name="Free coffee",
            kind="free_product",
            cost_points=0,
            product_sku="COF-1",
            in_catalogue=False,
        ),
    )
    stamps.create_card(
        session,
        data=StampCardCreate.model_validate(
            {"name": "Card", "stamps_required": 5, "categories": ["coffee"], "reward_id": free.id}
        ),
    )
    cake = rewards.create_reward(
        session,
        settings=settings,
        data=RewardCreate(name="Cake", kind="gift", cost_points=10),
    )
    c = member(session)
    coffee = {"sku": "COF-1", "name": "Coffee", "quantity": 1, "unit_price": 450}
    place(session, c, lines=[{**coffee, "category": "coffee"}], placed_at=NOON - timedelta(1))
    deliver(session, settings)
    loyalty.adjust(session, settings=settings, customer_id=c.id, points=50, reason="x", by="t")
    rewards.redeem(session, settings=settings, customer_id=c.id, reward_id=cake.id, by="t")
    session.flush()
    return c.id


class TestMemberVersion:
    def test_no_account_no_version(self, session: Session) -> None:
        assert _member_version(session, member(session).id) is None

    @pytest.mark.parametrize("table", MEMBER_TABLES)
    def test_any_update_and_delete_of_the_members_rows_raises_it(
        self, table: str, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        cid = _busy_member(session, settings)
        other = member(session, name="Other")
        loyalty.adjust(
            session, settings=settings, customer_id=other.id, points=5, reason="x", by="t"
        )
        session.flush()
        before, theirs = _member_version(session, cid), _member_version(session, other.id)
        assert before is not None and theirs is not None
        changed = _sql(
            session, f"UPDATE {table} SET customer_id = customer_id WHERE customer_id = :c", c=cid
        )
        assert changed >= 1
        after = _member_version(session, cid)
        assert after is not None and after > before
        assert _member_version(session, other.id) == theirs, "another member's version moved"
        if table in ("loyalty_badges", "loyalty_stamp_progress"):  # nothing refers to them
            assert _sql(session, f"DELETE FROM {table} WHERE customer_id = :c", c=cid) >= 1
            last = _member_version(session, cid)
            assert last is not None and last > after

    def test_a_row_moving_to_another_member_raises_both(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        a, b = member(session), member(session)
        for c in (a, b):
            loyalty.adjust(
                session, settings=settings, customer_id=c.id, points=5, reason="x", by="t"
            )
        coupon = coupons.issue(
            session,
            source=CouponSource.compensation,
            name="Sorry",
            discount_kind="discount_percent",
            percent_bp=1000,
            currency="USD",
            now=NOON,
            customer_id=a.id,
        )
        session.flush()
        va, vb = _member_version(session, a.id), _member_version(session, b.id)
        assert va is not None and vb is not None
        _sql(
            session,
            "UPDATE loyalty_coupons SET customer_id = :b WHERE id = :id",
            b=b.id,
            id=coupon.id,
        )
        assert (_member_version(session, a.id) or 0) > va
        assert (_member_version(session, b.id) or 0) > vb

    def test_the_accounts_own_changes_raise_it_once_each(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        c = member(session)
        loyalty.adjust(session, settings=settings, customer_id=c.id, points=5, reason="x", by="t")
        session.flush()
        before = _member_version(session, c.id)
        assert before is not None
        _sql(
            session,
            "UPDATE loyalty_accounts SET streak_best = streak_best + 1 WHERE customer_id = :c",
            c=c.id,
        )
        assert _member_version(session, c.id) == before + 1
        # A booking: the account, an entry and a lot change; the version rises.
        ledger.lock_account(session, c.id, zone=settings.zone, now=NOON)
        ledger.credit(
            session,
            customer_id=c.id,
            kind=EntryKind.earn,
            reason="test",
            occasion="versions:1",
            lots=[ledger.LotSpec(3, NOON, None)],
            now=NOON,
        )
        session.flush()
        assert (_member_version(session, c.id) or 0) > before + 1


class TestCatalogueVersion:
    @pytest.mark.parametrize("table", CATALOGUE_TABLES)
    def test_any_change_raises_it(
        self, table: str, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        _busy_member(session, settings)
        before = _catalogue_version(session)
        assert before is not None
        assert _sql(session, f"UPDATE {table} SET id = id") >= 1
        assert (_catalogue_version(session) or 0) > before

    def test_a_stock_taken_by_another_member_raises_it(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        cake = rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(name="Cake", kind="gift", cost_points=10, stock=3),
        )
        c = member(session)
        loyalty.adjust(session, settings=settings, customer_id=c.id, points=50, reason="x", by="t")
        session.flush()
        before = _catalogue_version(session)
        rewards.redeem(session, settings=settings, customer_id=c.id, reward_id=cake.id, by="t")
        session.flush()
        assert (_catalogue_version(session) or 0) > (before or 0)


class TestNextChange:
    def test_the_first_instant_a_lot_or_coupon_starts_or_stops_counting(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        c = member(session)
        assert versions.next_change(session, customer_id=c.id, now=NOON) is None
        ledger.lock_account(session, c.id, zone=settings.zone, now=NOON)
        ledger.credit(
            session,
            customer_id=c.id,
            kind=EntryKind.earn,
            reason="test",
            occasion="versions:next",
            lots=[ledger.LotSpec(3, NOON + timedelta(days=2), NOON + timedelta(days=200))],
            now=NOON,
        )
        session.flush()
        assert versions.next_change(session, customer_id=c.id, now=NOON) == NOON + timedelta(2)
        # Released: the next instant is its entry into the expiring horizon (90 days ahead).
        later = NOON + timedelta(days=3)
        assert (
            versions.next_change(session, customer_id=c.id, now=later)
            == NOON + timedelta(days=200) - loyalty.EXPIRING_HORIZON
        )
        coupons.issue(
            session,
            source=CouponSource.compensation,
            name="Soon",
            discount_kind="discount_percent",
            percent_bp=1000,
            currency="USD",
            now=NOON,
            customer_id=c.id,
            expires_at=NOON + timedelta(days=4),
        )
        session.flush()
        assert versions.next_change(session, customer_id=c.id, now=later) == NOON + timedelta(4)


class TestCatalogueRowMissing:
    def test_the_next_change_brings_it_back(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        _sql(session, "DELETE FROM loyalty_catalogue_version")
        assert _catalogue_version(session) is None
        rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(name="Cake", kind="gift", cost_points=10),
        )
        session.flush()
        assert _catalogue_version(session) == 1
