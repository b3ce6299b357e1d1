"""Refresh and the queries on its results, on one shop built and refreshed once per module.

The shop lives in an outer transaction of a module-scoped connection; each test works in
a savepoint of it that is rolled back afterwards, so tests may refresh again, merge or
erase without affecting each other (and without rebuilding the shop each time).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from tests.analytics.helpers import build_shop, export_generic_csv
from tests.conftest import FrozenClock
from tests.factories import create_customer
from wafa.analytics import refresh as refreshing
from wafa.analytics import service
from wafa.analytics.analyze import AnalyzeOptions, analyze_file
from wafa.analytics.refresh import RefreshOptions
from wafa.analytics.tables import AnalyticsRun, CustomerScore, ProductNeighbour
from wafa.app.domains import people_hooks
from wafa.core.settings import CalendarKind, Settings
from wafa.core.time import set_clock
from wafa.customers.models import Customer
from wafa.orders.models import Order, OrderLine, Product
from wafa.people import service as lifecycle

NOW = dt.datetime(2026, 2, 8, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def shop_db(engine: Engine, settings: Settings) -> Iterator[Connection]:
    set_clock(lambda: NOW)
    try:
        with engine.connect() as conn:
            outer = conn.begin()
            with Session(
                bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
            ) as s:
                build_shop(s, customers=50, seed=11)
                refreshing.refresh(s, settings=settings)
                s.commit()  # releases the savepoint into the outer transaction
            yield conn
            outer.rollback()
    finally:
        set_clock(None)


@pytest.fixture
def db(shop_db: Connection, clock: FrozenClock) -> Iterator[Session]:
    clock.set(NOW)
    with Session(
        bind=shop_db, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as s:
        yield s


def latest(db: Session) -> AnalyticsRun:
    return service.latest_run(db)


class TestRefresh:
    def test_stores_one_score_per_customer_with_a_purchase(self, db: Session) -> None:
        run = latest(db)
        buyers = db.scalar(
            select(func.count(Order.customer_id.distinct())).where(
                Order.status.not_in(("cancelled", "refunded")), Order.currency == "USD"
            )
        )
        assert run.status == "succeeded" and run.customers == buyers
        assert db.scalar(select(func.count()).select_from(CustomerScore)) == buyers
        scores = db.scalars(select(CustomerScore)).all()
        assert {s.run_id for s in scores} == {run.id}
        assert all(s.p_alive is not None and 0 <= s.p_alive <= 1 for s in scores)
        assert all(
            0
            <= (s.expected_purchases_30 or 0)
            <= (s.expected_purchases_90 or 0)
            <= (s.expected_purchases_365 or 0)
            for s in scores
        )
        assert run.as_of == dt.date(2026, 2, 8)

    def test_validates_on_a_holdout_without_choosing_on_it(self, db: Session) -> None:
        run = latest(db)
        holdout = run.details["holdout"]
        assert holdout["days"] >= 28
        assert run.model == run.details["models"]["chosen"] or run.model == "rule_of_thumb"
        assert not run.details["models"]["chosen_by"].startswith("holdout")
        assert {"rule_of_thumb", "naive", "same_as_last_period"} <= set(holdout["models"])
        purchases = holdout["purchases"]
        assert purchases["level"] == 0.9 and purchases["low"] <= purchases["high"]

    def test_a_small_shop_warns_and_predicts_with_ranges(self, db: Session) -> None:
        run = latest(db)
        assert any("bought more than once" in w for w in run.details["warnings"])
        score = db.scalars(select(CustomerScore).where(CustomerScore.repeat_purchases > 2)).first()
        assert score is not None and score.expected_purchases_365 is not None
        assert score.expected_purchases_365_low is not None
        assert score.expected_purchases_365_high is not None
        assert (
            score.expected_purchases_365_low
            <= score.expected_purchases_365
            <= score.expected_purchases_365_high
        )

    def test_lifetime_value_is_stored_in_minor_units(self, db: Session) -> None:
        values = db.scalars(select(CustomerScore.clv_amount)).all()
        assert values and all(isinstance(v, int) and v >= 0 for v in values)

    def test_segments_cover_every_customer_and_carry_advice(self, db: Session) -> None:
        segments = service.segment_summary(db).segments
        assert len(segments) == 11
        assert sum(s.customers for s in segments) == latest(db).customers
        assert all(s.action and s.description for s in segments)

    def test_every_figure_is_finite_json(self, db: Session) -> None:
        json.dumps(latest(db).details, allow_nan=False)

    def test_a_second_refresh_replaces_the_first(
        self, db: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        winner, loser = db.scalars(select(CustomerScore.customer_id).limit(2)).all()
        lifecycle.merge_customers(db, winner_id=winner, loser_id=loser, merged_by="test")
        clock.advance(days=1)
        run = refreshing.refresh(db, settings=settings)
        ids = set(db.scalars(select(CustomerScore.customer_id)))
        assert loser not in ids and winner in ids
        assert set(db.scalars(select(CustomerScore.run_id))) == {run.id}
        assert service.latest_run(db).id == run.id

    def test_a_jalali_business_gets_jalali_cohort_months(
        self, db: Session, settings: Settings
    ) -> None:
        jalali = settings.model_copy(update={"calendar": CalendarKind.jalali})
        run = refreshing.refresh(db, settings=jalali, options=RefreshOptions(recommendations=False))
        months = [c["month"] for c in run.details["cohorts"]["cohorts"]]
        assert months and all(m.startswith(("1403", "1404")) for m in months)
        assert run.details["cohorts"]["calendar"] == "jalali"

    def test_without_a_holdout_the_likelihood_chooses(
        self, db: Session, settings: Settings
    ) -> None:
        run = refreshing.refresh(
            db, settings=settings, options=RefreshOptions(holdout_days=0, recommendations=False)
        )
        assert run.details["holdout"] == {"days": 0}
        assert run.details["models"]["chosen_by"].startswith("log-likelihood")


class TestRecommendations:
    def test_a_non_repeatable_product_already_owned_is_never_recommended(self, db: Session) -> None:
        kettle = db.scalar(select(Product).where(Product.sku == "KET"))
        assert kettle is not None and kettle.repeatable is False
        owners = db.scalars(
            select(Order.customer_id)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(Order.status == "paid", OrderLine.sku == "KET")
            .distinct()
        ).all()
        assert owners
        for customer_id in owners:
            assert customer_id is not None
            recs = service.recommendations_for(db, customer_id, n=6)
            assert "KET" not in [r.sku for r in recs]
            # Every other product qualifies, by co-purchase or popularity.
            assert len(recs) == 5

    def test_a_product_never_bought_together_is_filled_in_by_popularity(self, db: Session) -> None:
        customer = create_customer(db)
        recs = service.recommendations_for(db, customer.id, n=3)
        assert [r.reason for r in recs] == ["popular"] * 3

    def test_also_bought_lists_are_stored_and_evaluated(self, db: Session) -> None:
        evaluation = latest(db).details["recommendations"]["evaluation"]
        assert evaluation["customers"] > 0
        assert 0 <= evaluation["baseline_hit_rate"] <= 1 and 0 <= evaluation["hit_rate"] <= 1
        tea = db.scalar(select(Product).where(Product.sku == "TEA"))
        assert tea is not None
        also = service.also_bought(db, tea.id)
        assert also and "TEA" not in [a.sku for a in also]
        assert (db.scalar(select(func.count()).select_from(ProductNeighbour)) or 0) > 0


class TestQueries:
    def test_a_customer_without_purchases_is_not_scored(self, db: Session) -> None:
        customer = create_customer(db)
        insights = service.customer_insights(db, customer.id)
        assert insights.scored is False and insights.score is None

    def test_the_data_export_holds_the_stored_scores(self, db: Session) -> None:
        score = db.scalars(select(CustomerScore)).first()
        assert score is not None
        exported = lifecycle.export_customer(db, score.customer_id, hooks=people_hooks())
        assert exported["analytics"]["scores"]["segment"]["key"] == score.segment

    def test_list_scores_selects_by_probability_alive(self, db: Session) -> None:
        rows, _ = service.list_scores(db, max_p_alive=0.3, limit=200)
        expected = db.scalar(
            select(func.count()).select_from(CustomerScore).where(CustomerScore.p_alive < 0.3)
        )
        assert expected and len(rows) == expected and all((r.p_alive or 0) < 0.3 for r in rows)

    def test_list_scores_selects_a_segment(self, db: Session) -> None:
        key = db.scalar(select(CustomerScore.segment).limit(1))
        assert key is not None
        rows, _ = service.list_scores(db, segment=key, limit=200)
        assert rows and {r.segment for r in rows} == {key}

    def test_at_risk_lists_medium_and_high_risk_only(self, db: Session) -> None:
        rows = service.at_risk_customers(db, limit=50)
        assert rows and {r.churn_risk for r in rows} <= {"medium", "high"}

    def test_an_erased_customer_stays_in_the_figures_without_a_name(
        self, db: Session, settings: Settings
    ) -> None:
        target = service.at_risk_customers(db, limit=1)[0].customer_id
        lifecycle.erase_customer(
            db, settings=settings, hooks=people_hooks(), customer_id=target, erased_by="test"
        )
        db.expire_all()
        again = {r.customer_id: r.name for r in service.at_risk_customers(db, limit=50)}
        assert again[target] is None
        assert db.get(Customer, target) is not None


class TestOneAtRiskDefinition:
    def test_the_file_report_and_the_database_list_the_same_customers(
        self, db: Session, settings: Settings, tmp_path: Path
    ) -> None:
        refreshing.refresh(db, settings=settings, options=RefreshOptions(holdout_days=0))
        from_db = [str(r.customer_id) for r in service.at_risk_customers(db, limit=25)]
        path = export_generic_csv(db, tmp_path / "orders.csv")
        analysis = analyze_file(AnalyzeOptions(path=path, calibration_end=NOW.date()))
        from_file = [c["customer_id"] for c in analysis.figures["customers_at_risk"]]
        assert from_db and from_file == from_db
        assert analysis.figures["at_risk_value_floor"] == latest(db).details["at_risk_value_floor"]
