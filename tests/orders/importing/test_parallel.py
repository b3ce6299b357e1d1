"""Validating in a worker process while writing gives exactly the result of one process."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.orders.importing.helpers import SHOPIFY, table_counts, variant
from wafa.core.settings import Settings
from wafa.orders.importing.errors import FileRefused, ImportRejected, RowError
from wafa.orders.importing.pipeline import ImportReport, import_orders
from wafa.orders.importing.writer import _IdBlock
from wafa.orders.models import Order, OrderLine


def run(
    session: Session, settings: Settings, path: Path, *, parallel: bool, **options: object
) -> ImportReport:
    return import_orders(
        session,
        path,
        fmt="shopify",
        settings=settings,
        parallel=parallel,
        batch_size=1,  # one order per batch: the writer starts before the file is read
        **options,  # type: ignore[arg-type]
    )


def stored(session: Session, source: str) -> list[tuple[object, ...]]:
    rows = session.execute(
        select(
            Order.external_id, Order.status, Order.total_amount, Order.refunded_amount,
            Order.placed_at, Order.cancelled_at, Order.customer_id, Order.contact_name,
            Order.attributes, OrderLine.line_no, OrderLine.sku, OrderLine.product_id,
            OrderLine.total_amount,
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(Order.source == source)
        .order_by(Order.external_id, OrderLine.line_no)
    )  # fmt: skip
    return [tuple(row) for row in rows]


def rejected(session: Session, settings: Settings, path: Path, parallel: bool) -> list[RowError]:
    before = table_counts(session)
    with pytest.raises(ImportRejected) as caught:
        run(session, settings, path, parallel=parallel)
    assert table_counts(session) == before
    return caught.value.row_errors


class TestWorkerProcess:
    def test_stores_what_one_process_stores(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        # Without Shopify's Ids, or the second import would find the first one's orders.
        path = variant(tmp_path, shop_ids=False)
        alone = run(session, settings, path, parallel=False, source="alone")
        both = run(session, settings, path, parallel=True, source="both")
        assert (alone.parallel, both.parallel) == (False, True)
        assert stored(session, "both") == stored(session, "alone")
        assert both.stats.orders_created == 6 and both.stats.refunds == 2
        assert both.validator_peak_kib > 0

    def test_reports_the_same_bad_rows_and_writes_nothing(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = variant(tmp_path, {(2, "Lineitem quantity"): "1.5", (9, "Lineitem price"): "-1"})
        assert rejected(session, settings, path, True) == rejected(session, settings, path, False)

    def test_repeated_order_is_left_out_with_skip_invalid(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        # #1005 renamed #1001: #1001 is written before its second place is read.
        path = variant(tmp_path, {(8, "Name"): "#1001"}, shop_ids=False)
        files = []
        for parallel in (False, True):
            errors = tmp_path / f"errors-{parallel}.csv"
            report = run(
                session, settings, path, parallel=parallel, source=f"s{parallel}",
                skip_invalid=True, errors_path=errors,
            )  # fmt: skip
            names = set(
                session.scalars(select(Order.external_id).where(Order.source == f"s{parallel}"))
            )
            assert names == {"#1002", "#1003", "#1004", "#1006"}
            assert report.orders_rejected == 2
            with errors.open(encoding="utf-8", newline="") as handle:
                files.append(list(csv.reader(handle)))
        assert files[0] == files[1]
        assert [row[0] for row in files[1][1:]] == ["2", "10"]

    def test_a_file_refused_midway_leaves_nothing(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = tmp_path / "bad-byte.csv"
        path.write_bytes(SHOPIFY.read_bytes().replace(b"Latte", b"Latt\xff"))
        before = table_counts(session)
        with pytest.raises(FileRefused, match="line 12"):
            run(session, settings, path, parallel=True)
        assert table_counts(session) == before


class TestIdBlock:
    def test_ids_are_uuid7_and_strictly_increasing(self) -> None:
        block = _IdBlock()
        ids = block.take(5000) + block.take(3)  # more than one millisecond's counter
        parsed = [uuid.UUID(hex=i) for i in ids]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert {(u.version, u.variant) for u in parsed} == {(7, uuid.RFC_4122)}
        assert all(len(i) == 32 for i in ids)
