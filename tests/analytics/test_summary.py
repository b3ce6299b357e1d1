from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pytest
from sqlalchemy.orm import Session

from tests.analytics.helpers import build_shop, export_generic_csv, write_csv
from tests.factories import create_order
from wafa.analytics.cohorts import occasion_cohorts
from wafa.analytics.holdout import occasion_daily_repeats
from wafa.analytics.reading import load_orders
from wafa.analytics.retention import db_delivery, duckdb_delivery, occasion_gap_counts
from wafa.analytics.summary import (
    CustomerSummary,
    Occasions,
    day_number,
    db_occasions,
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
    assert a.key_strings() == b.key_strings()
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


class TestOccasionsAgree:
    """The database and an export give the same purchase occasions (the figures built on
    them, gaps, cohorts and holdout days, are then computed by the same code)."""

    @pytest.mark.parametrize("zone", ["UTC", "Asia/Tehran"])
    def test_occasions(self, session: Session, tmp_path: Path, zone: str) -> None:
        build_shop(session, customers=25, seed=4)
        as_of = day_number(AS_OF)
        from_db = db_summary(
            session, zone=zone, currency="USD", as_of_day=as_of, calibration_day=as_of
        )
        db_occ, masks = db_occasions(
            session, from_db.keys, zone=zone, currency="USD", as_of_day=as_of
        )
        assert set(masks.tolist()) <= set(range(1, 8)) and masks.min() >= 1
        con = duckdb.connect()
        load_orders(con, export_generic_csv(session, tmp_path / "o.csv"), timezone=zone)
        from_file = duckdb_summary(con, as_of_day=as_of, calibration_day=as_of)
        file_occ = duckdb_occasions(con, from_file)

        def triples(summary: CustomerSummary, occ: Occasions) -> list[tuple[str, int, int]]:
            keys = summary.key_strings()
            return sorted(
                zip(
                    [keys[c] for c in occ.code.tolist()],
                    occ.day.tolist(),
                    occ.value.tolist(),
                    strict=True,
                )
            )

        assert len(db_occ.code) > 40
        assert triples(from_db, db_occ) == triples(from_file, file_occ)
        # sorted by customer, then day, as the figures built on them require
        order = np.lexsort((db_occ.day, db_occ.code))
        assert np.array_equal(order, np.arange(order.size))


class TestDescriptiveFigures:
    def test_cohort_sizes_add_up_to_the_customers(self, session: Session) -> None:
        build_shop(session, customers=25, seed=4)
        as_of = day_number(AS_OF)
        summary = db_summary(
            session, zone="UTC", currency="USD", as_of_day=as_of, calibration_day=as_of - 60
        )
        occ, _ = db_occasions(session, summary.keys, zone="UTC", currency="USD", as_of_day=as_of)
        for calendar in (CalendarKind.gregorian, CalendarKind.jalali):
            matrix = occasion_cohorts(
                occ,
                summary.first_day,
                calendar=calendar,
                start_day=int(summary.first_day.min()),
                as_of_day=as_of,
            ).to_dict()
            assert sum(c["size"] for c in matrix["cohorts"]) == len(summary)
        _, counts = occasion_gap_counts(occ)
        assert counts.sum() == (summary.purchases - 1).sum()
        daily = occasion_daily_repeats(
            occ, summary.first_day, calibration_day=as_of - 60, end_day=as_of
        )
        assert daily.sum() == summary.holdout_purchases.sum()


class TestOnTimeDelivery:
    def test_database_and_file_agree_on_the_on_time_rate(
        self, session: Session, tmp_path: Path
    ) -> None:
        email = {"email": "promised@example.com"}
        rows = []
        for n, (promised, delivered) in enumerate(
            [
                ("2026-01-05T18:00:00+00:00", "2026-01-05T10:00:00+00:00"),
                ("2026-01-06T18:00:00+00:00", "2026-01-06T18:00:00+00:00"),
                ("2026-01-07T12:00:00+00:00", "2026-01-09T12:00:00+00:00"),
            ]
        ):
            order = create_order(
                session,
                placed_at=f"2026-01-0{n + 2}T09:00:00+00:00",
                customer=email,
                status="delivered",
                promised_at=promised,
                delivered_at=delivered,
            )
            rows.append(
                (
                    str(order.customer_id),
                    order.external_id,
                    order.placed_at.isoformat(),
                    f"{order.total_amount / 100:.2f}",
                    promised,
                    delivered,
                )
            )
        create_order(session, placed_at="2026-01-10T09:00:00+00:00", customer=email)
        db = db_delivery(session, currency="USD")
        assert db == {
            "orders_with_promise": 3,
            "on_time": 2,
            "late": 1,
            "on_time_rate": 2 / 3,
            "average_days_late": pytest.approx(2.0),
        }
        path = write_csv(
            tmp_path / "o.csv",
            ["customer_id", "order_id", "placed_at", "total", "promised_at", "delivered_at"],
            rows,
        )
        con = duckdb.connect()
        load_orders(con, path)
        assert duckdb_delivery(con) == db
