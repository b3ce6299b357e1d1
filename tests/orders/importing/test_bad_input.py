from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.orders.importing.helpers import SHOPIFY, SHOPIFY_LINES, table_counts, variant
from wafa.core.settings import Settings
from wafa.orders.importing.errors import FileRefused, ImportRejected, RowError
from wafa.orders.importing.pipeline import import_orders
from wafa.orders.models import Order


def rejected(session: Session, settings: Settings, path: Path, **options: object) -> list[RowError]:
    """Import ``path``, expect it refused, check that nothing changed; return the errors."""
    before = table_counts(session)
    with pytest.raises((ImportRejected, FileRefused)) as caught:
        import_orders(session, path, fmt="shopify", settings=settings, **options)  # type: ignore[arg-type]
    assert table_counts(session) == before
    error = caught.value
    assert isinstance(error, ImportRejected | FileRefused)
    return error.row_errors


def only(errors: list[RowError]) -> tuple[int, str | None, str]:
    assert len(errors) == 1, errors
    return errors[0].line, errors[0].column, errors[0].reason


class TestBadRows:
    def test_unknown_column_in_header(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = variant(tmp_path, header={"Vendor": "Vendr"})
        line, column, reason = only(rejected(session, settings, path))
        assert (line, column) == (1, "Vendr")
        assert "unknown column" in reason

    def test_missing_required_column(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = variant(tmp_path, header={"Created at": "Created"})
        errors = rejected(session, settings, path)
        assert {(e.line, e.column) for e in errors} == {(1, "Created"), (1, "Created at")}

    def test_bad_date(self, session: Session, settings: Settings, tmp_path: Path) -> None:
        path = variant(tmp_path, {(3, "Created at"): "2025-02-30 10:00:00 +0200"})
        line, column, reason = only(rejected(session, settings, path))
        assert (line, column) == (SHOPIFY_LINES[3], "Created at")
        assert "2025-02-30 10:00:00 +0200" in reason and "not a date" in reason

    def test_negative_quantity(self, session: Session, settings: Settings, tmp_path: Path) -> None:
        path = variant(tmp_path, {(7, "Lineitem quantity"): "-2"})
        line, column, reason = only(rejected(session, settings, path))
        assert (line, column, reason) == (
            SHOPIFY_LINES[7],
            "Lineitem quantity",
            "quantity '-2' is negative",
        )

    def test_unknown_currency(self, session: Session, settings: Settings, tmp_path: Path) -> None:
        path = variant(tmp_path, {(8, "Currency"): "XYZ"})
        line, column, reason = only(rejected(session, settings, path))
        assert (line, column) == (SHOPIFY_LINES[8], "Currency")
        assert reason == "'XYZ' is not an ISO 4217 currency code"

    def test_non_numeric_amount(self, session: Session, settings: Settings, tmp_path: Path) -> None:
        path = variant(tmp_path, {(2, "Lineitem price"): "three fifty"})
        line, column, reason = only(rejected(session, settings, path))
        assert (line, column, reason) == (
            SHOPIFY_LINES[2],
            "Lineitem price",
            "'three fifty' is not an amount",
        )

    def test_too_many_decimals_for_the_currency(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = variant(tmp_path, {(2, "Lineitem price"): "3.505"})
        line, column, reason = only(rejected(session, settings, path))
        assert (line, column) == (SHOPIFY_LINES[2], "Lineitem price")
        assert "more than 2 decimal places" in reason

    def test_refund_larger_than_the_order(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = variant(tmp_path, {(5, "Refunded Amount"): "99.00"})
        line, column, reason = only(rejected(session, settings, path))
        assert (line, column) == (SHOPIFY_LINES[5], "Refunded Amount")
        assert "larger than the order total" in reason

    def test_invalid_email(self, session: Session, settings: Settings, tmp_path: Path) -> None:
        path = variant(tmp_path, {(9, "Email"): "john at example"})
        line, column, _ = only(rejected(session, settings, path))
        assert (line, column) == (SHOPIFY_LINES[9], "Email")

    def test_every_bad_row_is_reported(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = variant(
            tmp_path,
            {
                (2, "Lineitem quantity"): "1.5",
                (5, "Paid at"): "yesterday",
                (9, "Lineitem price"): "-1",
            },
        )
        errors = rejected(session, settings, path)
        assert [(e.line, e.column) for e in errors] == [
            (SHOPIFY_LINES[2], "Lineitem quantity"),
            (SHOPIFY_LINES[5], "Paid at"),
            (SHOPIFY_LINES[9], "Lineitem price"),
        ]


class TestLineNumbers:
    def test_quoted_cell_with_line_breaks_moves_later_lines_down(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        # Record 2 is the second row of #1001, right after the two-line note: line 4.
        path = variant(tmp_path, {(2, "Lineitem quantity"): "-1"})
        assert only(rejected(session, settings, path))[0] == 4

    def test_several_multiline_cells(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = variant(tmp_path, {(3, "Notes"): "one\ntwo\nthree", (4, "Lineitem quantity"): "x"})
        # Record 3 starts on line 5 and spans 5-7, so record 4 starts on line 8.
        assert only(rejected(session, settings, path))[0] == 8

    def test_crlf_line_endings(self, session: Session, settings: Settings, tmp_path: Path) -> None:
        text = SHOPIFY.read_text(encoding="utf-8").replace("\r\n", "\n").replace("\n", "\r\n")
        path = tmp_path / "crlf.csv"
        path.write_bytes(text.encode())
        bad = variant(tmp_path, {(6, "Lineitem quantity"): "-3"}, source=path, name="bad.csv")
        assert only(rejected(session, settings, bad))[0] == SHOPIFY_LINES[6]


class TestBrokenFiles:
    def test_truncated_file_with_an_open_quote(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        text = SHOPIFY.read_text(encoding="utf-8")
        cut = text.index('"Leave at the door') + 10  # inside the quoted note of line 2
        path = tmp_path / "truncated.csv"
        path.write_text(text[:cut], encoding="utf-8")
        with pytest.raises(FileRefused) as caught:
            import_orders(session, path, fmt="shopify", settings=settings)
        assert "line 2" in caught.value.detail and "never closed" in caught.value.detail

    def test_truncated_last_row(self, session: Session, settings: Settings, tmp_path: Path) -> None:
        text = SHOPIFY.read_text(encoding="utf-8")
        path = tmp_path / "truncated.csv"
        path.write_text(text[: text.rindex("Latte") + 5], encoding="utf-8")
        line, column, reason = only(rejected(session, settings, path))
        assert (line, column) == (SHOPIFY_LINES[10], None)
        assert "truncated" in reason

    def test_empty_file(self, session: Session, settings: Settings, tmp_path: Path) -> None:
        path = tmp_path / "empty.csv"
        path.write_text("", encoding="utf-8")
        with pytest.raises(FileRefused, match="empty"):
            import_orders(session, path, fmt="shopify", settings=settings)

    def test_order_split_in_two_places(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = variant(tmp_path, {(8, "Name"): "#1001"})
        errors = rejected(session, settings, path)
        assert {e.line for e in errors} == {2, SHOPIFY_LINES[8]}
        assert all("appears more than once" in e.reason for e in errors)


class TestEncodings:
    def test_utf8_with_bom(self, session: Session, settings: Settings, tmp_path: Path) -> None:
        path = tmp_path / "bom.csv"
        path.write_bytes(b"\xef\xbb\xbf" + SHOPIFY.read_bytes())
        report = import_orders(session, path, fmt="shopify", settings=settings)
        assert report.stats.orders_created == 6

    def test_windows_1256_is_refused_without_an_encoding(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = tmp_path / "arabic.csv"
        path.write_bytes(_cp1256_copy())
        before = table_counts(session)
        with pytest.raises(FileRefused) as caught:
            import_orders(session, path, fmt="shopify", settings=settings)
        assert table_counts(session) == before
        # The first non-ASCII text is the Arabic billing name on line 2.
        assert caught.value.detail.startswith("line 2: byte 0x")
        assert "--encoding cp1256" in caught.value.detail

    def test_windows_1256_is_read_when_named(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = tmp_path / "arabic.csv"
        path.write_bytes(_cp1256_copy())
        import_orders(session, path, fmt="shopify", settings=settings, encoding="cp1256")
        names = set(session.scalars(select(Order.contact_name).where(Order.source == "shopify")))
        assert "سارة المنصوري" in names

    def test_utf16_is_refused(self, session: Session, settings: Settings, tmp_path: Path) -> None:
        path = tmp_path / "unicode.csv"
        path.write_bytes(SHOPIFY.read_text(encoding="utf-8").encode("utf-16"))
        with pytest.raises(FileRefused, match="UTF-16"):
            import_orders(session, path, fmt="shopify", settings=settings)

    def test_bom_with_another_encoding_is_refused(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = tmp_path / "bom.csv"
        path.write_bytes(b"\xef\xbb\xbf" + SHOPIFY.read_bytes())
        with pytest.raises(FileRefused, match="byte-order mark"):
            import_orders(session, path, fmt="shopify", settings=settings, encoding="cp1256")


def _cp1256_copy() -> bytes:
    # Persian letters that cp1256 lacks are left out: keep the Arabic rows' text only.
    text = SHOPIFY.read_text(encoding="utf-8")
    text = text.replace("علی رضایی", "Ali Rezaei").replace("مریم کریمی", "Maryam Karimi")
    return text.encode("cp1256")


class TestSkipInvalid:
    def test_good_orders_are_written_and_bad_ones_listed(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = variant(tmp_path, {(5, "Lineitem quantity"): "-1"})  # the first row of #1004
        errors_path = tmp_path / "errors.csv"
        report = import_orders(
            session,
            path,
            fmt="shopify",
            settings=settings,
            skip_invalid=True,
            errors_path=errors_path,
        )
        names = set(session.scalars(select(Order.external_id).where(Order.source == "shopify")))
        assert names == {"#1001", "#1002", "#1003", "#1005", "#1006"}
        assert (report.orders_rejected, report.rows_rejected) == (1, 3)
        with errors_path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == ["line", "column", "reason", "row"]
        assert [(r[0], r[1]) for r in rows[1:]] == [
            ("7", "Lineitem quantity"),
            ("8", ""),
            ("9", ""),
        ]
        assert rows[1][2] == "quantity '-1' is negative"
        assert rows[1][3].startswith("#1004,Sara.Mansouri@Example.com")
        assert "not imported: order #1004 has a bad row (line 7)" in rows[2][2]

    def test_dry_run_reports_without_changing_anything(
        self, session: Session, settings: Settings
    ) -> None:
        # The caller rolls a dry run back; the report still counts what would happen.
        with session.begin_nested() as savepoint:
            report = import_orders(session, SHOPIFY, fmt="shopify", settings=settings, dry_run=True)
            savepoint.rollback()
        assert report.stats.orders_created == 6 and not report.written
        assert session.scalar(select(Order.id).where(Order.source == "shopify")) is None


GENERIC_HEADER = "order_id,placed_at,name,quantity,unit_price\n"


def generic_rejected(
    session: Session, settings: Settings, tmp_path: Path, text: str, **options: object
) -> list[RowError]:
    path = tmp_path / "orders.csv"
    path.write_text(GENERIC_HEADER + text, encoding="utf-8")
    before = table_counts(session)
    with pytest.raises(ImportRejected) as caught:
        import_orders(session, path, fmt="generic", settings=settings, **options)  # type: ignore[arg-type]
    assert table_counts(session) == before
    return caught.value.row_errors


class TestImportsThatLie:
    """Issue 9: files that used to report success, or end in a traceback."""

    def test_a_file_whose_every_row_has_a_stray_quote_is_refused(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        errors = generic_rejected(
            session, settings, tmp_path, '1,2024-01-01,"Tea"s,1,1\n2,2024-01-01,"Cup"x,1,1\n'
        )
        assert [(e.line, e.column) for e in errors] == [(2, None), (3, None)]
        assert all("stray quote" in e.reason for e in errors)

    def test_a_cell_over_16_mib_is_refused_with_its_line(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        huge = "x" * (16 * 1024 * 1024 + 1)
        errors = generic_rejected(session, settings, tmp_path, f'1,2024-01-01,"{huge}",1,1\n')
        line, column, reason = only(errors)
        assert (line, column) == (2, None) and "longer than 16 MiB" in reason

    def test_nothing_readable_with_skip_invalid_is_no_success(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        errors_path = tmp_path / "rejected.csv"
        errors = generic_rejected(
            session,
            settings,
            tmp_path,
            '1,2024-01-01,"Tea"s,1,1\n',
            skip_invalid=True,
            errors_path=errors_path,
        )
        assert [e.line for e in errors] == [2]
        # The rejected rows are still where the owner asked for them.
        with errors_path.open(encoding="utf-8", newline="") as handle:
            assert [r[0] for r in csv.reader(handle)] == ["line", "2"]

    @pytest.mark.parametrize(
        ("row", "column", "words"),
        [
            ("1,2024-01-01,Tea,1,99999999999999999999", "unit_price", "larger than the largest"),
            ("1,2024-01-01,Tea,1000000,9999999999.99", "unit_price", "comes to more than"),
            ("1,0001-01-01,Tea,1,1", "placed_at", "outside 1970-2100"),
            ("1,9999-12-31T23:00:00-05:00,Tea,1,1", "placed_at", "outside 1970-2100"),
            ("1,2024-01-01T10:00:00+14:00,Tea,1,1", None, None),
        ],
    )
    def test_amounts_and_dates_out_of_bounds_are_row_errors(
        self,
        session: Session,
        settings: Settings,
        tmp_path: Path,
        row: str,
        column: str | None,
        words: str | None,
    ) -> None:
        if words is None:  # in bounds: imported
            path = tmp_path / "orders.csv"
            path.write_text(GENERIC_HEADER + row + "\n", encoding="utf-8")
            report = import_orders(session, path, fmt="generic", settings=settings)
            assert report.stats.orders_created == 1
            return
        line, got_column, reason = only(generic_rejected(session, settings, tmp_path, row + "\n"))
        assert (line, got_column) == (2, column) and words in reason

    def test_a_year_one_date_in_a_zone_east_of_utc_is_a_row_error(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        tehran = settings.model_copy(update={"timezone": "Asia/Tehran"})
        line, column, reason = only(
            generic_rejected(session, tehran, tmp_path, "1,0001-01-01 00:10,Tea,1,1\n")
        )
        assert (line, column) == (2, "placed_at") and "outside" in reason

    def test_rejected_rows_cannot_run_as_formulas(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = tmp_path / "orders.csv"
        path.write_text(
            GENERIC_HEADER
            + '=HYPERLINK("http://x"),2024-01-01,Tea,-1,1\n'
            + "2,2024-01-01,Tea,1,1\n"
            + "@SUM(1),2024-01-01,+Tea,x,1\n",
            encoding="utf-8",
        )
        errors_path = tmp_path / "rejected.csv"
        import_orders(
            session,
            path,
            fmt="generic",
            settings=settings,
            skip_invalid=True,
            errors_path=errors_path,
        )
        with errors_path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))[1:]
        assert [r[0] for r in rows] == ["2", "4"]
        assert rows[0][3].startswith("'=HYPERLINK(")
        assert rows[1][3].startswith("'@SUM(1)")
        assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
