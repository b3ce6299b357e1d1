from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.loyalty.helpers import deliver, events_of, member, place, refund, set_rules
from wafa.core.settings import CalendarKind, Settings
from wafa.loyalty import ledger, service, tiers
from wafa.loyalty.schemas.program import Tiers

LEVELS = [
    {"code": "silver", "name": "Silver", "threshold": 100},
    {
        "code": "gold",
        "name": "Gold",
        "threshold": 300,
        "earn_multiplier_bp": 15000,
        "flags": ["free_delivery"],
    },
    {"code": "platinum", "name": "Platinum", "threshold": 600, "earn_multiplier_bp": 20000},
]


def _tiers(**kw: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "basis": "spend",
        "levels": LEVELS,
        "hold_months": 12,
        "grace_days": 30,
        **kw,
    }


def _buy(session: Session, settings: Settings, customer: Any, amount: int, **kw: Any) -> Any:
    o = place(
        session,
        customer,
        lines=[{"sku": "X", "name": "x", "quantity": 1, "unit_price": amount}],
        **kw,
    )
    deliver(session, settings)
    return o


def _tier(session: Session, settings: Settings, cid: Any) -> str | None:
    return service.status(session, settings=settings, customer_id=cid).tier


def _review(session: Session, settings: Settings, day: date) -> None:
    after = None
    while True:
        n, after = tiers.review_batch(session, settings=settings, day=day, after=after)
        if not n:
            return


class TestUpgrade:
    def test_upgrade_happens_at_once_and_is_recorded(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, tiers=_tiers())
        c = member(session)
        _buy(session, settings, c, 150)
        assert _tier(session, settings, c.id) == "silver"
        _buy(session, settings, c, 200)
        assert _tier(session, settings, c.id) == "gold"
        [_, up] = [e.payload for e in events_of(session, "tier.changed", c.id)]
        assert (up["from"], up["to"], up["reason"]) == ("silver", "gold", "upgrade")
        history = tiers.history(session, c.id)
        assert [(h.from_tier, h.to_tier) for h in history] == [("silver", "gold"), (None, "silver")]

    def test_tier_multiplier_and_benefits(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, tiers=_tiers(basis="spend"), earning={"rate_bp": 1000})
        c = member(session)
        _buy(session, settings, c, 300)
        o = _buy(session, settings, c, 100)
        status = service.status(session, settings=settings, customer_id=c.id)
        assert status.tier_info is not None
        assert status.tier_info.flags == ["free_delivery"]
        assert (status.tier_info.next_tier, status.tier_info.to_next) == ("platinum", 200)
        from wafa.loyalty import accrual

        assert accrual.earned_by_order(session, o.id) == 15

    def test_points_basis_counts_purchase_points_net_of_refunds(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, tiers=_tiers(basis="points"), earning={"rate_bp": 10000})
        c = member(session)
        o = _buy(session, settings, c, 120)
        assert _tier(session, settings, c.id) == "silver"
        refund(session, o)
        deliver(session, settings)
        assert (
            tiers.qualifying_value(
                session,
                settings,
                Tiers.model_validate(_tiers(basis="points")),
                c.id,
                today=date(2026, 3, 15),
            )
            == 0
        )
        assert _tier(session, settings, c.id) == "silver"  # a downgrade waits for the review


class TestReview:
    def _gold(self, session: Session, settings: Settings, clock: FrozenClock, **kw: Any) -> Any:
        clock.set(datetime(2025, 1, 10, 12, tzinfo=UTC))
        set_rules(session, tiers=_tiers(window_months=12, **kw))
        c = member(session)
        _buy(session, settings, c, 350)
        assert _tier(session, settings, c.id) == "gold"
        return c

    def test_kept_while_qualifying(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        high = [*LEVELS[:2], {**LEVELS[2], "threshold": 5000}]
        c = self._gold(session, settings, clock, levels=high)
        clock.set(datetime(2026, 1, 5, 12, tzinfo=UTC))
        _buy(session, settings, c, 320)
        clock.set(datetime(2026, 1, 10, 12, tzinfo=UTC))
        _review(session, settings, date(2026, 1, 10))
        acct = ledger.account(session, c.id)
        assert acct is not None and (acct.tier_code, acct.tier_review_on) == (
            "gold",
            date(2027, 1, 10),
        )

    def test_grace_then_one_down(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = self._gold(session, settings, clock, downgrade="one_down")
        clock.set(datetime(2026, 1, 10, 12, tzinfo=UTC))
        _review(session, settings, date(2026, 1, 10))
        acct = ledger.account(session, c.id)
        assert acct is not None and (acct.tier_code, acct.tier_grace_until) == (
            "gold",
            date(2026, 2, 9),
        )
        _review(session, settings, date(2026, 1, 10))  # a second run the same day changes nothing
        clock.set(datetime(2026, 2, 9, 12, tzinfo=UTC))
        _review(session, settings, date(2026, 2, 9))
        assert _tier(session, settings, c.id) == "silver"
        assert [e.payload["reason"] for e in events_of(session, "tier.changed", c.id)] == [
            "upgrade",
            "downgrade",
        ]

    def test_recalculate_policy_drops_to_the_qualified_tier(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = self._gold(session, settings, clock, downgrade="recalculate", grace_days=0)
        clock.set(datetime(2026, 1, 10, 12, tzinfo=UTC))
        _review(session, settings, date(2026, 1, 10))
        acct = ledger.account(session, c.id)
        assert acct is not None and (acct.tier_code, acct.tier_review_on) == (None, None)

    def test_requalifying_during_grace_keeps_the_tier(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = self._gold(session, settings, clock)
        clock.set(datetime(2026, 1, 10, 12, tzinfo=UTC))
        _review(session, settings, date(2026, 1, 10))
        clock.set(datetime(2026, 1, 20, 12, tzinfo=UTC))
        _buy(session, settings, c, 310)
        clock.set(datetime(2026, 2, 9, 12, tzinfo=UTC))
        _review(session, settings, date(2026, 2, 9))
        acct = ledger.account(session, c.id)
        assert acct is not None and (acct.tier_code, acct.tier_grace_until) == ("gold", None)


class TestCalendarYear:
    def test_last_jalali_year_holds_through_this_one(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        jalali = settings.model_copy(
            update={"calendar": CalendarKind.jalali, "timezone": "Asia/Tehran"}
        )
        clock.set(datetime(2026, 3, 10, 12, tzinfo=UTC))  # Esfand 1404
        set_rules(session, tiers=_tiers(window="calendar_year"))
        c = member(session)
        _buy(session, jalali, c, 350)
        cfg = Tiers.model_validate(_tiers(window="calendar_year"))
        # 1 Farvardin 1405 = 21 March 2026: last year's 350 still counts this year.
        assert tiers.qualifying_value(session, jalali, cfg, c.id, today=date(2026, 3, 25)) == 350
        # ... and no longer once 1405 is over.
        assert tiers.qualifying_value(session, jalali, cfg, c.id, today=date(2027, 3, 25)) == 0


class TestOverride:
    def test_override_is_a_floor_until_its_day(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, tiers=_tiers())
        c = member(session)
        service.override_tier(
            session,
            settings=settings,
            customer_id=c.id,
            tier="gold",
            until=date(2026, 4, 30),
            reason="press",
            by="owner",
        )
        assert _tier(session, settings, c.id) == "gold"
        _buy(session, settings, c, 700)
        assert _tier(session, settings, c.id) == "platinum"
        d = member(session)
        service.override_tier(
            session,
            settings=settings,
            customer_id=d.id,
            tier="gold",
            until=date(2026, 4, 30),
            reason="vip",
            by="owner",
        )
        clock.set(datetime(2026, 5, 1, 12, tzinfo=UTC))
        _review(session, settings, date(2026, 5, 1))
        assert _tier(session, settings, d.id) is None
        assert [h.reason for h in tiers.history(session, d.id)] == ["override_expired", "override"]


class TestPreviewAndRecalculate:
    def test_preview_lists_who_would_move_without_changing_anything(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, tiers=_tiers())
        a, b = member(session), member(session)
        _buy(session, settings, a, 150)
        _buy(session, settings, b, 350)
        proposed = Tiers.model_validate(
            _tiers(
                levels=[
                    {"code": "silver", "name": "S", "threshold": 200},
                    {"code": "gold", "name": "G", "threshold": 340},
                ]
            )
        )
        preview = service.preview_tiers(session, settings=settings, proposed=proposed)
        moves = {(m.customer_id, m.from_tier, m.to_tier) for m in preview.moves}
        assert (a.id, "silver", None) in moves
        assert preview.downgrades == 1
        assert _tier(session, settings, a.id) == "silver"

    def test_recalculation_twice_changes_nothing_the_second_time(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        _buy(session, settings, c, 700)
        clock.advance(hours=1)
        set_rules(session, tiers=_tiers())
        assert tiers.recalculate(session, settings=settings) == 1
        assert tiers.recalculate(session, settings=settings) == 0
        assert _tier(session, settings, c.id) == "platinum"


class TestRecalculateInBatches:
    def test_each_batch_is_its_own_transaction_and_a_repeat_changes_nothing(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        set_rules(session)
        members = [member(session) for _ in range(5)]
        for c in members:
            _buy(session, settings, c, 700)
        clock.advance(hours=1)
        set_rules(session, tiers=_tiers())
        session.commit()  # the test's savepoint: what the batches' sessions will see
        opened: list[Session] = []

        def factory() -> Session:
            opened.append(session_factory())
            return opened[-1]

        changed = tiers.recalculate_in_batches(factory, settings=settings, batch=2)
        assert changed == 5
        assert len(opened) == 4  # 2 + 2 + 1 members, then an empty look that ends the run
        assert tiers.recalculate_in_batches(factory, settings=settings, batch=2) == 0
        assert {_tier(session, settings, c.id) for c in members} == {"platinum"}

    def test_the_api_recalculates_in_batches(self, api: TestClient) -> None:
        r = api.post("/api/v1/loyalty/tiers/recalculate")
        assert r.status_code == 200, r.text
        assert r.json() == {"changed": 0}
