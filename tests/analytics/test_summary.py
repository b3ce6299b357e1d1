from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pytest
from sqlalchemy.orm import Session

from tests.analytics.helpers import build_shop, export_generic_csv
from tests.factories import create_order
from wafa.analytics.cohorts import db_cohorts, occasion_cohorts
from wafa.analytics.holdout import db_daily_repeats, occasion_daily_repeats
from wafa.analytics.reading import load_orders
from wafa.analytics.retention import db_gap_counts, occasion_gap_counts
from wafa.analytics.summary import (
    CustomerSummary,
    Occasions,
    day_number,
    db_summary,
    duckdb_occasions,
    duckdb_summary,
)
from wafa.core.settings import CalendarKind
from wafa.orders import service as orders
from wafa.orders.schemas import RefundCreate

AS_OF = dt.date(2026, 2, 8)


def summaries_equal(a: CustomerSummary, b: CustomerSummary) -> None:
    a, b = a.sorted_by_key(), b.sorted_by_key()
    assert [str(k) for k in a.keys] == [str(k) for k in b.keys]
    for name in (
        "first_day",
        "last_day",
        "purchases",
        "spend",
        "first_value",
        "cal_purchases",
        "cal_last_day",
        "cal_spend",
        "holdout_purchases",
    ):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


class TestSummaryQuery:
    @pytest.mark.parametrize("zone", ["UTC", "Asia/Tehran", "America/Los_Angeles"])
    def test_database_and_duckdb_give_the_same_summary(
        self, session: Session, tmp_path: Path, zone: str
    ) -> None:
        build_shop(session, customers=25)
        as_of, cal = day_number(AS_OF), day_number(AS_OF) - 90
        from_db = db_summary(
            session, zone=zone, currency="USD", as_of_day=as_of, calibration_day=cal
        )
        con = duckdb.connect()
        load_orders(con, export_generic_csv(session, tmp_path / "o.csv"), timezone=zone)
        from_file = duckdb_summary(con, as_of_day=as_of, calibration_day=cal)
        assert len(from_db) > 15
        summaries_equal(from_db, from_file)

    def test_same_day_orders_are_one_occasion_and_refunds_lower_the_value(
        self, session: Session
    ) -> None:
        email = {"email": "once@example.com"}
        day = "2026-01-10T09:00:00+00:00"
        a = create_order(session, placed_at=day, customer=email, lines=[_line(1000)])
        create_order(
            session, placed_at="2026-01-10T18:00:00+00:00", customer=email, lines=[_line(500)]
        )
        gone = create_order(
            session, placed_at="2026-01-20T10:00:00+00:00", customer=email, lines=[_line(800)]
        )
        create_order(
            session,
            placed_at="2026-01-25T10:00:00+00:00",
            customer=email,
            lines=[_line(700)],
            status="cancelled",
        )
        orders.refund_order(session, order_id=a.id, data=RefundCreate(external_id="p", amount=300))
        orders.refund_order(session, order_id=gone.id, data=RefundCreate(external_id="f"))
        s = db_summary(
            session,
            zone="UTC",
            currency="USD",
            as_of_day=day_number(AS_OF),
            calibration_day=day_number(AS_OF),
        )
        assert (s.purchases.tolist(), s.spend.tolist(), s.first_value.tolist()) == (
            [1],
            [1200],
            [1200],
        )

    def test_days_are_counted_in_the_business_timezone(self, session: Session) -> None:
        email = {"email": "late@example.com"}
        # 21:00 UTC on 10 January is 00:30 on 11 January in Tehran: two different days.
        create_order(session, placed_at="2026-01-10T09:00:00+00:00", customer=email)
        create_order(session, placed_at="2026-01-10T21:00:00+00:00", customer=email)
        as_of = day_number(AS_OF)
        utc = db_summary(session, zone="UTC", currency="USD", as_of_day=as_of, calibration_day=0)
        assert utc.purchases.tolist() == [1]
        tehran = db_summary(
            session, zone="Asia/Tehran", currency="USD", as_of_day=as_of, calibration_day=0
        )
        assert tehran.purchases.tolist() == [2]
        assert tehran.last_day.tolist() == [day_number(dt.date(2026, 1, 11))]


def _line(price: int, sku: str = "TEA", quantity: int = 1) -> dict[str, object]:
    return {"sku": sku, "name": sku, "quantity": quantity, "unit_price": price}


class TestDescriptiveFiguresAgree:
    """The database's SQL and ``wafa analyze``'s arrays give the same figures."""

    @pytest.fixture
    def both(
        self, session: Session, tmp_path: Path
    ) -> tuple[Session, CustomerSummary, Occasions, int, int]:
        build_shop(session, customers=25, seed=4)
        as_of = day_number(AS_OF)
        con = duckdb.connect()
        load_orders(con, export_generic_csv(session, tmp_path / "o.csv"), timezone="Asia/Tehran")
        summary = duckdb_summary(con, as_of_day=as_of, calibration_day=as_of - 60)
        first = int(summary.first_day.min())
        return session, summary, duckdb_occasions(con, as_of_day=as_of), first, as_of

    def test_gaps_between_purchases(
        self, both: tuple[Session, CustomerSummary, Occasions, int, int]
    ) -> None:
        session, _, occasions, _, as_of = both
        db = db_gap_counts(session, zone="Asia/Tehran", currency="USD", as_of_day=as_of)
        arrays = occasion_gap_counts(occasions)
        assert db[0].tolist() == arrays[0].tolist() and db[1].tolist() == arrays[1].tolist()
        assert db[1].sum() > 20

    @pytest.mark.parametrize("calendar", [CalendarKind.gregorian, CalendarKind.jalali])
    def test_cohort_matrix(
        self,
        both: tuple[Session, CustomerSummary, Occasions, int, int],
        calendar: CalendarKind,
    ) -> None:
        session, summary, occasions, first, as_of = both
        db = db_cohorts(
            session,
            zone="Asia/Tehran",
            currency="USD",
            calendar=calendar,
            first_day=first,
            as_of_day=as_of,
        )
        arrays = occasion_cohorts(
            occasions, summary.first_day, calendar=calendar, start_day=first, as_of_day=as_of
        )
        assert db.to_dict() == arrays.to_dict()
        assert sum(c["size"] for c in db.to_dict()["cohorts"]) == len(summary)

    def test_daily_holdout_purchases(
        self, both: tuple[Session, CustomerSummary, Occasions, int, int]
    ) -> None:
        session, summary, occasions, _, as_of = both
        cal = as_of - 60
        db = db_daily_repeats(
            session, zone="Asia/Tehran", currency="USD", calibration_day=cal, end_day=as_of
        )
        arrays = occasion_daily_repeats(
            occasions, summary.first_day, calibration_day=cal, end_day=as_of
        )
        assert db.tolist() == arrays.tolist() and db.sum() == summary.holdout_purchases.sum()
