from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.analytics.helpers import write_csv
from wafa.analytics.reading import BadInput, InputFormat, load_orders

HEADER = ["customer_id", "order_id", "placed_at", "total"]


def orders_of(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[Any, ...]]:
    rows = con.execute(
        "SELECT order_id, customer_id, day, net, purchase FROM wafa_orders ORDER BY order_id"
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def load(path: Path, **kwargs: Any) -> tuple[duckdb.DuckDBPyConnection, Any]:
    con = duckdb.connect()
    return con, load_orders(con, path, **kwargs)


class TestGenericFormat:
    def test_reads_required_columns_in_any_order_and_case(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "o.csv",
            ["Total", "Placed_At", "ORDER_ID", "customer_id"],
            [("12.50", "2024-03-01", "A1", "c1"), ("3", "2024-03-02T10:00:00", "A2", "c1")],
        )
        con, loaded = load(path)
        assert loaded.orders == 2 and loaded.purchases == 2 and loaded.currency == "USD"
        assert orders_of(con) == {
            "A1": ("c1", 19783, 1250, True),
            "A2": ("c1", 19784, 300, True),
        }

    def test_times_with_offsets_fall_on_the_local_day_of_the_business(self, tmp_path: Path) -> None:
        # 22:30 UTC on 1 March is already 2 March in Tehran (+03:30).
        path = write_csv(tmp_path / "o.csv", HEADER, [("c1", "A1", "2024-03-01T22:30:00Z", "5")])
        con, _ = load(path, timezone="Asia/Tehran")
        assert orders_of(con)["A1"][1] == 19784

    @pytest.mark.parametrize(
        "written", ["2024-03-01T22:30Z", "2024-03-01T23:30+01", "2024-03-01T17:30-05"]
    )
    def test_short_offsets_are_honoured(self, tmp_path: Path, written: str) -> None:
        # All three are 22:30 UTC on 1 March: 2 March in Tehran (+03:30).
        path = write_csv(tmp_path / "o.csv", HEADER, [("c1", "A1", written, "5")])
        con, _ = load(path, timezone="Asia/Tehran")
        assert orders_of(con)["A1"][1] == 19784

    def test_times_without_offset_are_local_time(self, tmp_path: Path) -> None:
        path = write_csv(tmp_path / "o.csv", HEADER, [("c1", "A1", "2024-03-01 23:30", "5")])
        con, _ = load(path, timezone="Asia/Tehran")
        assert orders_of(con)["A1"][1] == 19783

    def test_cancelled_and_fully_refunded_orders_are_not_purchases(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "o.csv",
            [*HEADER, "status", "refunded"],
            [
                ("c1", "A1", "2024-03-01", "10.00", "completed", ""),
                ("c1", "A2", "2024-03-02", "10.00", "cancelled", ""),
                ("c1", "A3", "2024-03-03", "10.00", "refunded", ""),
                ("c1", "A4", "2024-03-04", "10.00", "partially_refunded", "4.00"),
                ("c1", "A5", "2024-03-05", "10.00", "", "10.00"),
                ("c1", "A6", "2024-03-06", "10.00", "", ""),
            ],
        )
        con, loaded = load(path)
        got = orders_of(con)
        assert [got[o][3] for o in ("A1", "A2", "A3", "A4", "A5", "A6")] == [
            True,
            False,
            False,
            True,
            False,
            True,
        ]
        assert got["A4"][2] == 600
        assert (loaded.cancelled, loaded.refunded, loaded.partially_refunded) == (1, 2, 1)

    def test_negative_rows_are_refunds_of_their_order(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "o.csv",
            [*HEADER, "sku"],
            [
                ("c1", "A1", "2024-03-01", "10.00", "X"),
                ("c1", "A1", "2024-03-01", "5.00", "Y"),
                ("c1", "A1", "2024-03-09", "-5.00", "Y"),
                ("c2", "B1", "2024-03-01", "7.00", "X"),
                ("c2", "B1", "2024-03-05", "-7.00", "X"),
            ],
        )
        con, loaded = load(path)
        got = orders_of(con)
        assert got["A1"] == ("c1", 19783, 1000, True)
        assert got["B1"][3] is False
        assert loaded.has_items

    def test_zero_value_orders_still_count_as_purchases(self, tmp_path: Path) -> None:
        path = write_csv(tmp_path / "o.csv", HEADER, [("c1", "A1", "2024-03-01", "0.00")])
        con, _ = load(path)
        assert orders_of(con)["A1"][3] is True

    def test_orders_in_other_currencies_are_counted_and_left_out(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "o.csv",
            [*HEADER, "currency"],
            [
                ("c1", "A1", "2024-03-01", "10", "EUR"),
                ("c1", "A2", "2024-03-02", "10", "eur"),
                ("c2", "A3", "2024-03-02", "10", "USD"),
            ],
        )
        con, loaded = load(path)
        assert loaded.currency == "EUR" and loaded.other_currency_orders == 1
        assert set(orders_of(con)) == {"A1", "A2"}
        assert "1 order in currencies other than EUR" in loaded.warnings[0]

    def test_amounts_use_the_currency_minor_units(self, tmp_path: Path) -> None:
        path = write_csv(tmp_path / "o.csv", HEADER, [("c1", "A1", "2024-03-01", "1.234")])
        con, loaded = load(path, currency="KWD")
        assert loaded.currency == "KWD" and orders_of(con)["A1"][2] == 1234


class TestGenericErrors:
    def test_missing_required_column_names_line_1_and_the_column(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "o.csv", ["customer_id", "order_id", "total"], [("c", "o", "1")]
        )
        with pytest.raises(BadInput) as err:
            load(path)
        assert err.value.detail.startswith("o.csv, line 1: missing column placed_at")
        assert err.value.errors == [(("line", 1, "column", "placed_at"), "missing")]

    def test_bad_date_names_line_and_column(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "o.csv",
            HEADER,
            [("c1", "A1", "2024-03-01", "1"), ("c1", "A2", "01/03/2024", "1")],
        )
        with pytest.raises(BadInput) as err:
            load(path)
        assert err.value.detail.startswith("o.csv, line 3, column placed_at: '01/03/2024' is not")
        assert err.value.errors[0][0] == ("line", 3, "column", "placed_at")

    def test_bad_amount_names_line_and_column(self, tmp_path: Path) -> None:
        path = write_csv(tmp_path / "o.csv", HEADER, [("c1", "A1", "2024-03-01", "12,50")])
        with pytest.raises(BadInput) as err:
            load(path)
        assert "line 2, column total: '12,50' is not a decimal amount" in err.value.detail

    def test_empty_customer_id_names_its_physical_line(self, tmp_path: Path) -> None:
        # The first record spans two lines (a quoted newline), so record 3 is on line 5.
        path = tmp_path / "o.csv"
        path.write_text(
            "customer_id,order_id,placed_at,total,note\n"
            'c1,A1,2024-03-01,1,"two\nlines"\n'
            "c1,A2,2024-03-02,1,\n"
            ",A3,2024-03-03,1,\n",
            encoding="utf-8",
        )
        with pytest.raises(BadInput) as err:
            load(path)
        assert err.value.detail == "o.csv, line 5, column customer_id: the customer id is empty"

    def test_too_many_decimal_places_for_the_currency(self, tmp_path: Path) -> None:
        path = write_csv(tmp_path / "o.csv", HEADER, [("c1", "A1", "2024-03-01", "1.005")])
        with pytest.raises(BadInput) as err:
            load(path)
        assert "line 2, column total: '1.005' has more than 2 decimal places for USD" in (
            err.value.detail
        )

    def test_an_order_id_reused_by_another_customer_is_their_own_order(
        self, tmp_path: Path
    ) -> None:
        path = write_csv(
            tmp_path / "o.csv",
            HEADER,
            [("c1", "A1", "2024-03-01", "1"), ("c2", "A1", "2024-03-01", "2")],
        )
        con, loaded = load(path)
        rows = con.execute(
            "SELECT customer_id, net FROM wafa_orders ORDER BY customer_id"
        ).fetchall()
        assert rows == [("c1", 100), ("c2", 200)] and loaded.orders == 2

    @pytest.mark.parametrize("odd", ["B\x1fC", "plain"])
    def test_each_order_keeps_its_product_codes(self, tmp_path: Path, odd: str) -> None:
        # The codes travel joined by a control character; one containing it is still
        # read whole (a second pass keeps them as a list).
        path = write_csv(
            tmp_path / "o.csv",
            [*HEADER, "sku"],
            [
                ("c1", "A1", "2024-03-01", "1", "X"),
                ("c1", "A1", "2024-03-01", "2", odd),
                ("c1", "A1", "2024-03-01", "0", ""),
                ("c2", "A2", "2024-03-02", "3", "X"),
                ("c2", "A2", "2024-03-02", "3", "X"),
                ("c3", "A3", "2024-03-02", "3", ""),
            ],
        )
        con, loaded = load(path)
        assert loaded.has_items
        skus = con.execute(
            "SELECT order_id, list_sort(skus) FROM wafa_orders ORDER BY 1"
        ).fetchall()
        assert skus == [("A1", sorted(["X", odd])), ("A2", ["X", "X"]), ("A3", None)]
        items = con.execute(
            "SELECT order_id, sku, quantity FROM wafa_items ORDER BY 1, 2"
        ).fetchall()
        assert items == sorted([("A1", "X", 1), ("A1", odd, 1), ("A2", "X", 2)])

    @pytest.mark.parametrize(
        ("currency", "total", "ok"),
        [
            ("KWD", "1.234", True),
            ("JPY", "1.5", False),
            ("CLF", "1.2345", True),
            ("CLF", "1.23456", False),
        ],
    )
    def test_decimal_places_follow_the_currency_named_on_each_row(
        self, tmp_path: Path, currency: str, total: str, ok: bool
    ) -> None:
        path = write_csv(
            tmp_path / "o.csv", [*HEADER, "currency"], [("c1", "A1", "2024-03-01", total, currency)]
        )
        if ok:
            con, loaded = load(path)
            assert loaded.currency == currency and orders_of(con)["A1"][2] == int(
                total.replace(".", "")
            )
        else:
            with pytest.raises(BadInput) as err:
                load(path)
            assert f"line 2, column total: {total!r} has more than" in err.value.detail

    def test_negative_refunded_amount_names_line_and_column(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "o.csv",
            [*HEADER, "refunded"],
            [("c1", "A1", "2024-03-01", "5", "0"), ("c1", "A2", "2024-03-02", "5", "-1")],
        )
        with pytest.raises(BadInput) as err:
            load(path)
        assert "line 3, column refunded: a refunded amount cannot be negative" in (err.value.detail)

    def test_empty_total_names_line_and_column(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "o.csv",
            HEADER,
            [("c1", "A1", "2024-03-01", "5"), ("c1", "A1", "2024-03-01", "")],
        )
        with pytest.raises(BadInput) as err:
            load(path)
        assert "line 3, column total: the total is empty" in err.value.detail

    def test_status_words_are_read_whatever_their_case_and_spacing(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "o.csv",
            [*HEADER, "status"],
            [
                ("c1", "A1", "2024-03-01", "5", " Cancelled "),
                ("c1", "A2", "2024-03-02", "5", "REFUNDED"),
                ("c1", "A3", "2024-03-03", "5", "Completed"),
                # One row of a two-row order says cancelled: the order is.
                ("c1", "A4", "2024-03-04", "5", "completed"),
                ("c1", "A4", "2024-03-04", "5", "cancelled"),
            ],
        )
        con, loaded = load(path)
        got = orders_of(con)
        assert [got[o][3] for o in ("A1", "A2", "A3", "A4")] == [False, False, True, False]
        assert (loaded.cancelled, loaded.refunded) == (2, 1)

    def test_several_problems_are_counted(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "o.csv",
            HEADER,
            [("c1", "A1", "x", "1"), ("c1", "A2", "y", "1"), ("c1", "A3", "z", "1")],
        )
        with pytest.raises(BadInput) as err:
            load(path)
        assert err.value.detail.endswith("(and 2 more problems)")
        assert [loc for loc, _ in err.value.errors] == [
            ("line", n, "column", "placed_at") for n in (2, 3, 4)
        ]

    def test_a_file_that_is_not_utf8_is_refused_clearly(self, tmp_path: Path) -> None:
        path = tmp_path / "o.csv"
        path.write_bytes("مشتري,order_id,placed_at,total\n".encode("cp1256"))
        with pytest.raises(BadInput) as err:
            load(path)
        assert "line 1: the file is not UTF-8 text" in err.value.detail

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(BadInput, match="no such file"):
            load(tmp_path / "nope.csv")


SHOPIFY_HEADER = [
    "Name",
    "Email",
    "Financial Status",
    "Currency",
    "Total",
    "Refunded Amount",
    "Created at",
    "Cancelled at",
    "Lineitem quantity",
    "Lineitem sku",
    "Phone",
]


class TestShopifyFormat:
    def test_orders_are_grouped_by_name_with_order_cells_on_the_first_row(
        self, tmp_path: Path
    ) -> None:
        path = write_csv(
            tmp_path / "shopify.csv",
            SHOPIFY_HEADER,
            [
                (
                    "#1001",
                    "A@x.com",
                    "paid",
                    "EUR",
                    "30.00",
                    "0.00",
                    "2025-10-07 09:50:26 +0200",
                    "",
                    "1",
                    "TEA",
                    "",
                ),
                ("#1001", "", "", "", "", "", "", "", "2", "CUP", ""),
                (
                    "#1002",
                    "a@x.com",
                    "partially_refunded",
                    "EUR",
                    "20.00",
                    "5.00",
                    "2025-10-08 23:30:00 -0500",
                    "",
                    "1",
                    "TEA",
                    "",
                ),
                (
                    "#1003",
                    "b@x.com",
                    "refunded",
                    "EUR",
                    "20.00",
                    "20.00",
                    "2025-10-08 10:00:00 +0200",
                    "",
                    "1",
                    "TEA",
                    "",
                ),
                (
                    "#1004",
                    "",
                    "voided",
                    "EUR",
                    "9.00",
                    "",
                    "2025-10-09 10:00:00 +0200",
                    "2025-10-09 11:00:00 +0200",
                    "1",
                    "TEA",
                    "+33 6 12 34 56 78",
                ),
                (
                    "#1005",
                    "",
                    "paid",
                    "EUR",
                    "9.00",
                    "",
                    "2025-10-09 10:00:00 +0200",
                    "",
                    "1",
                    "TEA",
                    "",
                ),
            ],
        )
        con, loaded = load(path, fmt=InputFormat.shopify, timezone="Europe/Paris")
        got = orders_of(con)
        assert got["#1001"] == ("a@x.com", 20368, 3000, True)
        # 23:30 at -05:00 is 06:30 on 9 October in Paris.
        assert got["#1002"] == ("a@x.com", 20370, 1500, True)
        assert got["#1003"][3] is False
        assert got["#1004"][0] == "+33612345678" and got["#1004"][3] is False
        assert "#1005" not in got and loaded.guest_orders == 1
        items = con.execute(
            "SELECT order_id, sku, quantity FROM wafa_items ORDER BY 1, 2"
        ).fetchall()
        assert items[:2] == [("#1001", "CUP", 2), ("#1001", "TEA", 1)]

    def test_a_bad_created_at_names_line_and_column(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "shopify.csv",
            SHOPIFY_HEADER,
            [("#1", "a@x.com", "paid", "EUR", "1.00", "", "yesterday", "", "1", "T", "")],
        )
        with pytest.raises(BadInput) as err:
            load(path, fmt=InputFormat.shopify)
        assert err.value.detail.startswith("shopify.csv, line 2, column Created at: 'yesterday'")

    def test_a_generic_file_given_as_shopify_is_refused(self, tmp_path: Path) -> None:
        path = write_csv(tmp_path / "o.csv", HEADER, [("c1", "A1", "2024-03-01", "1")])
        with pytest.raises(BadInput, match="does not look like a Shopify Orders export"):
            load(path, fmt=InputFormat.shopify)


class TestWooCommerceFormat:
    def test_order_cells_repeated_on_item_rows_are_read_once(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "woo.csv",
            [
                "order_id",
                "order_date",
                "status",
                "order_total",
                "refunded_total",
                "order_currency",
                "customer_id",
                "billing_email",
                "item_sku",
                "item_quantity",
            ],
            [
                (
                    "101",
                    "2025-01-05 14:22:01",
                    "wc-completed",
                    "40.00",
                    "0",
                    "USD",
                    "7",
                    "x@y.com",
                    "A",
                    "1",
                ),
                (
                    "101",
                    "2025-01-05 14:22:01",
                    "wc-completed",
                    "40.00",
                    "0",
                    "USD",
                    "7",
                    "x@y.com",
                    "B",
                    "3",
                ),
                (
                    "102",
                    "2025-01-06 10:00:00",
                    "processing",
                    "15.00",
                    "5.00",
                    "USD",
                    "0",
                    "Guest@Y.com",
                    "A",
                    "1",
                ),
                (
                    "103",
                    "2025-01-07 10:00:00",
                    "cancelled",
                    "15.00",
                    "0",
                    "USD",
                    "7",
                    "x@y.com",
                    "A",
                    "1",
                ),
            ],
        )
        con, loaded = load(path, fmt=InputFormat.woocommerce)
        got = orders_of(con)
        assert got["101"] == ("7", 20093, 4000, True)
        assert got["102"] == ("guest@y.com", 20094, 1000, True)
        assert got["103"][3] is False and loaded.cancelled == 1


WEBTOFFEE_HEADER = [
    "order_id",
    "order_date",
    "status",
    "order_total",
    "order_currency",
    "customer_id",
    "billing_email",
    "refund_items",
    "line_item_1",
    "line_item_2",
]


class TestWooCommerceWebToffeeFormat:
    def test_refunds_are_read_from_refund_items(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "woo.csv",
            WEBTOFFEE_HEADER,
            [
                (
                    "501",
                    "2025-09-01 10:15:00",
                    "completed",
                    "14.00",
                    "USD",
                    "17",
                    "layla@example.com",
                    "",
                    "name:Flat white|sku:COF-FW|quantity:2|total:8.00",
                    "",
                ),
                (
                    "502",
                    "2025-09-03 18:40:00",
                    "processing",
                    "9.00",
                    "USD",
                    "0",
                    "reza@example.com",
                    "amount:4.50|reason:Cold drink|date:2025-09-04 09:00:00",
                    "name:Iced latte|sku:COF-IL|quantity:2|total:9.00",
                    "",
                ),
                (
                    "503",
                    "2025-09-05 08:00:00",
                    "completed",
                    "30.00",
                    "USD",
                    "17",
                    "layla@example.com",
                    "amount:5.00|reason:Late|date:2025-09-06 09:00:00;"
                    "amount:1,000.50|reason:Broken|date:2025-09-07 09:00:00",
                    "name:Beans|sku:BEA-ES1K|quantity:1|total:30.00",
                    "",
                ),
                (
                    "504",
                    "2025-09-06 08:00:00",
                    "completed",
                    "30.00",
                    "USD",
                    "17",
                    "layla@example.com",
                    "amount:10.00|reason:Late|date:2025-09-06 09:00:00;"
                    "amount:2.50|reason:Broken|date:2025-09-07 09:00:00",
                    "name:Beans|sku:BEA-ES1K|quantity:1|total:30.00",
                    "",
                ),
            ],
        )
        con, loaded = load(path, fmt=InputFormat.woocommerce)
        got = orders_of(con)
        assert got["501"] == ("17", 20332, 1400, True)
        assert got["502"] == ("reza@example.com", 20334, 450, True)
        # Two refunds reaching the total refund the order fully; two below it lower it.
        assert got["503"][2:] == (0, False)
        assert got["504"][2:] == (1750, True)
        assert (loaded.refunded, loaded.partially_refunded) == (1, 2)

    def test_products_are_read_from_line_item_cells(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "woo.csv",
            WEBTOFFEE_HEADER,
            [
                (
                    "501",
                    "2025-09-01 10:15:00",
                    "completed",
                    "14.00",
                    "USD",
                    "17",
                    "layla@example.com",
                    "",
                    "name:Flat white|product_id:13|sku:COF-FW|quantity:2|total:8.00|sub_total:9.00",
                    "name:Almond croissant|product_id:14|sku: PAS-AC |quantity:1|total:4.00",
                ),
                (
                    "502",
                    "2025-09-03 18:40:00",
                    "processing",
                    "9.00",
                    "USD",
                    "0",
                    "reza@example.com",
                    "",
                    "name:Iced latte|sku:COF-IL|total:9.00",
                    "name:Gift card|quantity:1|total:0.00",
                ),
            ],
        )
        con, loaded = load(path, fmt=InputFormat.woocommerce)
        items = con.execute(
            "SELECT customer_id, order_id, sku, quantity FROM wafa_items ORDER BY 2, 3"
        ).fetchall()
        # A line without a quantity counts once; one without a SKU names no product.
        assert items == [
            ("17", "501", "COF-FW", 2),
            ("17", "501", "PAS-AC", 1),
            ("reza@example.com", "502", "COF-IL", 1),
        ]
        assert loaded.has_items

    def test_a_bad_refund_amount_names_line_and_column(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "woo.csv",
            WEBTOFFEE_HEADER,
            [
                (
                    "501",
                    "2025-09-01 10:15:00",
                    "completed",
                    "14.00",
                    "USD",
                    "17",
                    "layla@example.com",
                    "amount:1.00|reason:Late|date:2025-09-02 09:00:00",
                    "name:Flat white|sku:COF-FW|quantity:2|total:8.00",
                    "",
                ),
                (
                    "502",
                    "2025-09-03 18:40:00",
                    "processing",
                    "9.00",
                    "USD",
                    "0",
                    "reza@example.com",
                    "amount:1.00|reason:Late|date:2025-09-04 09:00:00;"
                    "amount:four|reason:Cold|date:2025-09-04 09:00:00",
                    "name:Iced latte|sku:COF-IL|quantity:2|total:9.00",
                    "",
                ),
            ],
        )
        with pytest.raises(BadInput) as err:
            load(path, fmt=InputFormat.woocommerce)
        assert err.value.detail == (
            "woo.csv, line 3, column refund_items: 'four' is not a decimal amount"
        )
        assert err.value.errors[0][0] == ("line", 3, "column", "refund_items")

    def test_a_bad_line_item_quantity_names_line_and_column(self, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "woo.csv",
            WEBTOFFEE_HEADER,
            [
                (
                    "501",
                    "2025-09-01 10:15:00",
                    "completed",
                    "14.00",
                    "USD",
                    "17",
                    "layla@example.com",
                    "",
                    "name:Flat white|sku:COF-FW|quantity:2|total:8.00",
                    "name:Almond croissant|sku:PAS-AC|quantity:one|total:4.00",
                ),
            ],
        )
        with pytest.raises(BadInput) as err:
            load(path, fmt=InputFormat.woocommerce)
        assert err.value.detail == (
            "woo.csv, line 2, column line_item_2: the quantity 'one' is not a whole number"
        )


def test_duckdb_draws_no_progress_bar_of_its_own() -> None:
    # A long statement (over 2 s on a million customers) made DuckDB draw its own bar on
    # the terminal even under `wafa analyze --quiet`; the command reports its steps itself.
    from wafa.analytics.reading import connect

    con = connect()
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
