"""Surprises under concurrency, with real commits on SQLite and PostgreSQL: fifty purchases
at once never take a month past its budget, and an occasion is granted exactly once."""

from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy import func, select

from tests.loyalty.helpers import member, place, set_rules
from tests.loyalty.test_concurrency import _race
from wafa.core.db import session_factory, session_scope
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import accrual, ledger
from wafa.loyalty.models import PointsEntry, SurpriseBudget, SurpriseGrant
from wafa.loyalty.surprise import service as surprise
from wafa.loyalty.surprise.schemas import SurpriseRuleCreate


def _setup(settings: Settings, n: int, **rule: object) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A rule and ``n`` orders placed (not yet accrued), each by a new member."""
    with session_scope(settings) as s:
        set_rules(s)
        r = surprise.create_rule(
            s,
            settings=settings,
            data=SurpriseRuleCreate.model_validate({"name": "Surprise", **rule}),
            by="owner",
        )
        order_ids = [place(s, member(s)).id for _ in range(n)]
        return r.id, order_ids


class TestFiftyPurchasesAtOnce:
    def test_a_milestone_never_passes_the_monthly_budget(self, committed_db: Settings) -> None:
        settings = committed_db
        # Everyone's 1st order qualifies; 100 points cost 100; the budget has room for 7.
        _, order_ids = _setup(
            settings, 50, trigger="nth_order", count=1, points=100, monthly_budget_amount=750
        )
        factory = session_factory(settings)

        def buy(i: int) -> str:
            with factory() as session, session.begin():
                done = accrual.accrue_order(session, settings=settings, order_id=order_ids[i])
            assert done is not None
            return ",".join(done.surprises)

        assert _race(50, buy) == Counter({"granted": 7, "over_budget": 43})
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(SurpriseGrant)) == 7
            budget = s.scalars(select(SurpriseBudget)).one()
            assert (budget.spent_amount, budget.grants) == (700, 7)
            surprised = s.scalars(
                select(PointsEntry.customer_id).where(PointsEntry.reason == "surprise")
            ).all()
            assert len(surprised) == 7
            for cid in surprised:
                assert ledger.check(s, cid) == []

    def test_random_draws_stop_at_the_budget(self, committed_db: Settings) -> None:
        settings = committed_db
        rule_id, order_ids = _setup(
            settings, 50, trigger="random", count=2, points=10, monthly_budget_amount=50
        )
        drawn = sum(surprise._drawn(rule_id, o, 2) for o in order_ids)
        assert drawn > 5  # about 25 of 50: more qualify than the budget allows
        factory = session_factory(settings)

        def buy(i: int) -> str:
            with factory() as session, session.begin():
                done = accrual.accrue_order(session, settings=settings, order_id=order_ids[i])
            assert done is not None
            return ",".join(done.surprises) or "none"

        assert _race(50, buy) == Counter(
            {"granted": 5, "over_budget": drawn - 5, "none": 50 - drawn}
        )
        with factory() as s:
            assert s.scalar(select(func.sum(SurpriseGrant.cost_amount))) == 50


class TestOneOccasionAtOnce:
    def test_twenty_grants_of_one_occasion_give_exactly_one(self, committed_db: Settings) -> None:
        settings = committed_db
        with session_scope(settings) as s:
            set_rules(s)
            r = surprise.create_rule(
                s,
                settings=settings,
                data=SurpriseRuleCreate(name="Thanks", trigger="segment", points=30),
                by="owner",
            )
            cid, rid = member(s).id, r.id
        factory = session_factory(settings)

        def give(_: int) -> str:
            with factory() as session, session.begin():
                rule = surprise.get_rule(session, rid)
                return surprise.grant(
                    session,
                    settings=settings,
                    rule=rule,
                    customer_id=cid,
                    occasion="segment:champions:2026-Q4",
                    now=utcnow(),
                )

        assert _race(20, give) == Counter({"granted": 1, "already": 19})
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(SurpriseGrant)) == 1
            assert ledger.balance_of(s, cid, now=utcnow()) == (30, 0)
            assert ledger.check(s, cid) == []
