from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import consistent, member
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import ledger
from wafa.loyalty.ledger import InsufficientPoints, LotSpec
from wafa.loyalty.models import EntryKind, PointsAllocation, PointsEntry, PointsLot
from wafa.loyalty.schemas.program import RefundPolicy


def _credit(
    session: Session,
    settings: Settings,
    cid: uuid.UUID,
    points: int,
    *,
    days_to_expiry: int | None = None,
    pending_days: int = 0,
    occasion: str | None = None,
) -> uuid.UUID:
    now = utcnow()
    ledger.lock_account(session, cid, zone=settings.zone, now=now)
    entry = ledger.credit(
        session,
        customer_id=cid,
        kind=EntryKind.earn,
        reason="test",
        occasion=occasion or str(uuid.uuid4()),
        lots=[
            LotSpec(
                points,
                now + timedelta(days=pending_days),
                now + timedelta(days=days_to_expiry) if days_to_expiry else None,
            )
        ],
        now=now,
    )
    assert entry is not None
    return entry


def _spend(session: Session, settings: Settings, cid: uuid.UUID, points: int) -> uuid.UUID:
    now = utcnow()
    ledger.lock_account(session, cid, zone=settings.zone, now=now)
    return ledger.spend(
        session,
        customer_id=cid,
        points=points,
        kind=EntryKind.spend,
        reason="test",
        occasion=str(uuid.uuid4()),
        now=now,
    )


class TestCredit:
    def test_same_occasion_twice_is_booked_once(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = member(session)
        _credit(session, settings, c.id, 10, occasion="once")
        now = utcnow()
        again = ledger.credit(
            session,
            customer_id=c.id,
            kind=EntryKind.earn,
            reason="test",
            occasion="once",
            lots=[LotSpec(10, now, None)],
            now=now,
        )
        assert again is None
        assert ledger.balance_of(session, c.id, now=now) == (10, 0)
        consistent(session, c.id)

    def test_pending_lot_counts_as_pending_until_released(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = member(session)
        _credit(session, settings, c.id, 30, pending_days=14)
        acct = ledger.account(session, c.id)
        assert acct is not None and (acct.available, acct.pending, acct.lifetime) == (0, 30, 30)
        clock.advance(days=14)
        assert ledger.release_due(session, c.id, now=utcnow()) == 30
        acct = ledger.account(session, c.id)
        assert acct is not None and (acct.available, acct.pending) == (30, 0)
        consistent(session, c.id)

    def test_releasing_twice_releases_once(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = member(session)
        _credit(session, settings, c.id, 30, pending_days=1)
        clock.advance(days=2)
        ledger.release_due(session, c.id, now=utcnow())
        assert ledger.release_due(session, c.id, now=utcnow()) == 0
        consistent(session, c.id)


class TestSpend:
    def test_takes_the_lot_that_expires_first(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = member(session)
        late = _credit(session, settings, c.id, 50, days_to_expiry=300)
        never = _credit(session, settings, c.id, 50)
        soon = _credit(session, settings, c.id, 50, days_to_expiry=30)
        entry = _spend(session, settings, c.id, 70)
        taken = dict(
            session.execute(
                select(PointsLot.entry_id, PointsAllocation.points)
                .join(PointsLot, PointsLot.id == PointsAllocation.lot_id)
                .where(PointsAllocation.entry_id == entry)
            ).all()
        )
        assert taken == {soon: 50, late: 20}
        assert never not in taken
        consistent(session, c.id)

    def test_more_than_available_raises_and_writes_nothing(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = member(session)
        _credit(session, settings, c.id, 40)
        _credit(session, settings, c.id, 100, pending_days=5)
        with pytest.raises(InsufficientPoints) as exc, session.begin_nested():
            _spend(session, settings, c.id, 41)
        assert exc.value.context == {"needed": 41, "available": 40}
        assert (
            session.scalar(
                select(PointsEntry.id).where(
                    PointsEntry.kind == "spend", PointsEntry.customer_id == c.id
                )
            )
            is None
        )
        assert ledger.balance_of(session, c.id, now=utcnow()) == (40, 100)
        consistent(session, c.id)

    def test_exact_balance_can_be_spent(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = member(session)
        _credit(session, settings, c.id, 40)
        _spend(session, settings, c.id, 40)
        assert ledger.balance_of(session, c.id, now=utcnow()) == (0, 0)
        consistent(session, c.id)


class TestTakeBack:
    def _setup(self, session: Session, settings: Settings) -> tuple[uuid.UUID, uuid.UUID]:
        c = member(session)
        order_entry = _credit(session, settings, c.id, 100)
        _spend(session, settings, c.id, 80)
        return c.id, order_entry

    def _take(
        self, session: Session, cid: uuid.UUID, origin: uuid.UUID, policy: RefundPolicy
    ) -> ledger.Booked:
        now = utcnow()
        return ledger.take_back(
            session,
            customer_id=cid,
            points=100,
            kind=EntryKind.reverse,
            reason="refund",
            occasion="r1",
            policy=policy,
            now=now,
            own_origins=[origin],
        )

    def test_negative_balance_books_all_and_owes_the_rest(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        cid, origin = self._setup(session, settings)
        booked = self._take(session, cid, origin, RefundPolicy.negative_balance)
        assert (booked.posted, booked.uncovered) == (100, 80)
        acct = ledger.account(session, cid)
        assert acct is not None and (acct.available, acct.debt) == (-80, 80)
        consistent(session, cid)
        _credit(session, settings, cid, 50)
        acct = ledger.account(session, cid)
        assert acct is not None and (acct.available, acct.debt) == (-30, 30)
        consistent(session, cid)

    def test_future_earnings_carries_the_rest(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        cid, origin = self._setup(session, settings)
        booked = self._take(session, cid, origin, RefundPolicy.future_earnings)
        assert (booked.posted, booked.carried) == (20, 80)
        acct = ledger.account(session, cid)
        assert acct is not None and (acct.available, acct.carried) == (0, 80)
        _credit(session, settings, cid, 50)
        acct = ledger.account(session, cid)
        assert acct is not None and (acct.available, acct.carried) == (0, 30)
        _credit(session, settings, cid, 50)
        acct = ledger.account(session, cid)
        assert acct is not None and (acct.available, acct.carried) == (20, 0)
        consistent(session, cid)

    def test_future_earnings_waits_for_pending_points(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        cid, origin = self._setup(session, settings)
        self._take(session, cid, origin, RefundPolicy.future_earnings)
        _credit(session, settings, cid, 50, pending_days=10)
        acct = ledger.account(session, cid)
        assert acct is not None and (acct.pending, acct.carried) == (50, 80)
        clock.advance(days=11)
        ledger.release_due(session, cid, now=utcnow())
        acct = ledger.account(session, cid)
        assert acct is not None and (acct.available, acct.pending, acct.carried) == (0, 0, 30)
        consistent(session, cid)

    def test_forfeit_forgives_the_rest(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        cid, origin = self._setup(session, settings)
        booked = self._take(session, cid, origin, RefundPolicy.forfeit)
        assert (booked.posted, booked.forgiven) == (20, 80)
        acct = ledger.account(session, cid)
        assert acct is not None and (acct.available, acct.carried, acct.debt) == (0, 0, 0)
        consistent(session, cid)

    def test_own_pending_lot_goes_first(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = member(session)
        _credit(session, settings, c.id, 60)
        own = _credit(session, settings, c.id, 40, pending_days=14)
        now = utcnow()
        booked = ledger.take_back(
            session,
            customer_id=c.id,
            points=40,
            kind=EntryKind.reverse,
            reason="refund",
            occasion="r",
            policy=RefundPolicy.negative_balance,
            now=now,
            own_origins=[own],
        )
        assert (booked.from_pending, booked.from_available) == (40, 0)
        assert ledger.balance_of(session, c.id, now=now) == (60, 0)
        consistent(session, c.id)


class TestDebitLots:
    def test_expiry_empties_the_lot(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = member(session)
        _credit(session, settings, c.id, 25, days_to_expiry=10)
        _credit(session, settings, c.id, 5)
        clock.advance(days=10)
        now = utcnow()
        lots = ledger.open_lots(session, c.id, expiring_by=now)
        ledger.debit_lots(
            session,
            customer_id=c.id,
            lots=lots,
            kind=EntryKind.expire,
            reason="expiry",
            occasion="x",
            now=now,
        )
        assert ledger.balance_of(session, c.id, now=now) == (5, 0)
        consistent(session, c.id)
