from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_order
from wafa.analytics import refresh as refreshing
from wafa.analytics.tables import CustomerScore
from wafa.core.settings import Settings


class TestRefreshSmallShops:
    def test_a_shop_without_repeat_customers_gets_segments_and_a_warning(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(dt.datetime(2026, 2, 8, 12, 0, tzinfo=dt.UTC))
        for i in range(5):
            create_order(session, placed_at=f"2026-01-{10 + i}T10:00:00+00:00")
        run = refreshing.refresh(session, settings=settings)
        assert run.status == "succeeded" and run.customers == 5 and run.model is None
        assert any(w.startswith("No predictions yet") for w in run.details["warnings"])
        scores = session.scalars(select(CustomerScore)).all()
        assert {s.churn_risk for s in scores} == {"unknown"}
        assert all(s.p_alive is None and s.clv_amount is None for s in scores)
        assert all(s.segment for s in scores)

    def test_an_empty_shop_refreshes_to_nothing(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        run = refreshing.refresh(session, settings=settings)
        assert run.status == "succeeded" and run.customers == 0
        assert "No purchases" in run.details["warnings"][0]

    def test_three_customers_with_a_few_repeats_get_predictions_not_nan(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(dt.datetime(2026, 2, 8, 12, 0, tzinfo=dt.UTC))
        for c, days in enumerate(([1, 20, 45], [3, 60], [10])):
            for d in days:
                create_order(
                    session,
                    placed_at=(
                        dt.datetime(2025, 11, 1, tzinfo=dt.UTC) + dt.timedelta(days=d)
                    ).isoformat(),
                    customer={"email": f"tiny{c}@example.com"},
                )
        run = refreshing.refresh(session, settings=settings)
        scores = session.scalars(select(CustomerScore)).all()
        # Two repeat buyers are below the models' minimum: the stated rule of thumb.
        assert len(scores) == 3 and run.model == "rule_of_thumb"
        warnings = " ".join(run.details["warnings"])
        assert "only 2 customers bought more than once (at least 10 are needed)" in warnings
        assert run.details["models"]["bgnbd"]["usable"] is False
        for s in scores:
            assert s.p_alive is None
            assert s.expected_purchases_365 is not None and s.expected_purchases_365 >= 0
            low, high = s.expected_purchases_365_low, s.expected_purchases_365_high
            assert low is not None and high is not None and low <= high
