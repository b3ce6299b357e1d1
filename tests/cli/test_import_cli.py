from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import func, select

from tests.cli.conftest import Invoke
from tests.orders.importing.helpers import DATA, SHOPIFY, variant
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.orders.models import Order, Product


def count(settings: Settings, model: type[Order] | type[Customer] | type[Product]) -> int:
    with session_scope(settings, write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


class TestImportOrders:
    def test_imports_a_shopify_export(self, wafa: Invoke, committed_db: Settings) -> None:
        result = wafa("import", "orders", str(SHOPIFY), "--format", "shopify")
        assert result.exit_code == 0, result.output
        assert "orders created          6" in result.stdout
        assert "customers created       4" in result.stdout
        assert count(committed_db, Order) == 6

    def test_reimport_changes_nothing(self, wafa: Invoke, committed_db: Settings) -> None:
        wafa("import", "orders", str(SHOPIFY), "--format", "shopify")
        result = wafa("import", "orders", str(SHOPIFY), "--format", "shopify")
        assert result.exit_code == 0
        assert "orders already present  6" in result.stdout
        assert count(committed_db, Order) == 6 and count(committed_db, Customer) == 4

    def test_bad_row_exits_non_zero_and_writes_nothing(
        self, wafa: Invoke, committed_db: Settings, tmp_path: Path
    ) -> None:
        path = variant(tmp_path, {(7, "Lineitem quantity"): "-2", (3, "Created at"): "soon"})
        result = wafa("import", "orders", str(path), "--format", "shopify")
        assert result.exit_code == 1
        assert "line 5, column Created at: 'soon' is not a date and time" in result.stderr
        assert "line 9, column Lineitem quantity: quantity '-2' is negative" in result.stderr
        assert "nothing was imported" in result.stderr
        assert count(committed_db, Order) == 0 and count(committed_db, Customer) == 0

    def test_unknown_column(self, wafa: Invoke, tmp_path: Path) -> None:
        path = variant(tmp_path, header={"Vendor": "Supplier"})
        result = wafa("import", "orders", str(path), "--format", "shopify")
        assert result.exit_code == 1
        assert "line 1, column Supplier: unknown column for the shopify format" in result.stderr
        # The hint works: skipping the column imports the file.
        again = wafa("import", "orders", str(path), "--format", "shopify", "--map", "Supplier=")
        assert again.exit_code == 0, again.output

    def test_wrong_encoding_is_refused_with_a_hint(
        self, wafa: Invoke, committed_db: Settings, tmp_path: Path
    ) -> None:
        path = tmp_path / "arabic.csv"
        text = (
            SHOPIFY.read_text(encoding="utf-8")
            .replace("علی رضایی", "Ali")
            .replace("مریم کریمی", "Maryam")
        )
        path.write_bytes(text.encode("cp1256"))
        result = wafa("import", "orders", str(path), "--format", "shopify")
        assert result.exit_code == 1
        assert "line 2: byte 0x" in result.stderr and "--encoding cp1256" in result.stderr
        assert count(committed_db, Order) == 0
        ok = wafa("import", "orders", str(path), "--format", "shopify", "--encoding", "cp1256")
        assert ok.exit_code == 0, ok.output

    def test_dry_run_writes_nothing(self, wafa: Invoke, committed_db: Settings) -> None:
        result = wafa("import", "orders", str(SHOPIFY), "--format", "shopify", "--dry-run")
        assert result.exit_code == 0
        assert "dry run: nothing was written" in result.stdout
        assert "orders created          6" in result.stdout
        assert count(committed_db, Order) == 0 and count(committed_db, Customer) == 0

    def test_skip_invalid_writes_good_orders_and_the_rejects(
        self, wafa: Invoke, committed_db: Settings, tmp_path: Path
    ) -> None:
        path = variant(tmp_path, {(9, "Currency"): "EURO"})
        errors = tmp_path / "rejected.csv"
        result = wafa(
            "import",
            "orders",
            str(path),
            "-f",
            "shopify",
            "--skip-invalid",
            "--errors",
            str(errors),
        )
        assert result.exit_code == 0, result.output
        assert count(committed_db, Order) == 5
        with errors.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert [r[:2] for r in rows] == [["line", "column"], ["11", "Currency"], ["12", ""]]
        assert "2 row(s) rejected" in result.stderr

    def test_a_file_of_malformed_rows_exits_non_zero(
        self, wafa: Invoke, committed_db: Settings, tmp_path: Path
    ) -> None:
        path = tmp_path / "broken.csv"
        path.write_text(
            'order_id,placed_at,name,quantity,unit_price\n1,2024-01-01,"Tea"s,1,1\n',
            encoding="utf-8",
        )
        errors = tmp_path / "rejected.csv"
        for options in ([], ["--skip-invalid", "--errors", str(errors)]):
            result = wafa("import", "orders", str(path), *options)
            assert result.exit_code == 1, result.output
            assert "line 2: malformed CSV: a stray quote" in result.stderr
            assert "Imported" not in result.stdout
        assert count(committed_db, Order) == 0

    def test_overflowing_amounts_and_dates_are_line_errors_not_tracebacks(
        self, wafa: Invoke, tmp_path: Path
    ) -> None:
        path = tmp_path / "big.csv"
        path.write_text(
            "order_id,placed_at,name,quantity,unit_price\n"
            "1,2024-01-01,Tea,1,99999999999999999999\n"
            "2,9999-12-31T23:00:00-05:00,Tea,1,1\n",
            encoding="utf-8",
        )
        result = wafa("import", "orders", str(path))
        assert result.exit_code == 1
        assert "line 2, column unit_price: '99999999999999999999' is larger" in result.stderr
        assert "line 3, column placed_at: '9999-12-31T23:00:00-05:00' is outside" in result.stderr
        assert "Traceback" not in result.output

    def test_skip_invalid_needs_an_errors_file(self, wafa: Invoke) -> None:
        result = wafa("import", "orders", str(SHOPIFY), "-f", "shopify", "--skip-invalid")
        assert result.exit_code == 1
        assert "--errors FILE" in result.stderr

    def test_generic_with_map_options(self, wafa: Invoke, committed_db: Settings) -> None:
        maps = [
            "Order Nr=order_id", "Date=placed_at", "Client Email=customer_email",
            "Client Phone=customer_phone", "Client=customer_name", "Item=name", "Code=sku",
            "Qty=quantity", "Price=unit_price", "Channel=channel", "Internal Ref=",
        ]  # fmt: skip
        args = [arg for m in maps for arg in ("--map", m)]
        result = wafa(
            "import", "orders", str(DATA / "generic_orders.csv"), *args, "--source", "till"
        )
        assert result.exit_code == 0, result.output
        assert count(committed_db, Order) == 2

    def test_generic_with_a_mapping_file(self, wafa: Invoke, committed_db: Settings) -> None:
        result = wafa(
            "import", "orders", str(DATA / "generic_orders.csv"),
            "--mapping", str(DATA / "generic_mapping.json"),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert count(committed_db, Order) == 2


class TestImportCustomersAndProducts:
    def test_customers(self, wafa: Invoke, committed_db: Settings) -> None:
        result = wafa("import", "customers", str(DATA / "customers.csv"))
        assert result.exit_code == 0, result.output
        assert "customers created  3" in result.stdout
        assert count(committed_db, Customer) == 3

    def test_products(self, wafa: Invoke, committed_db: Settings) -> None:
        result = wafa("import", "products", str(DATA / "products.csv"))
        assert result.exit_code == 0, result.output
        assert count(committed_db, Product) == 3

    def test_bad_customer_row(self, wafa: Invoke, committed_db: Settings, tmp_path: Path) -> None:
        path = tmp_path / "customers.csv"
        path.write_text("name,email\nAmina,amina@example.com\nBad,not-an-email\n", encoding="utf-8")
        result = wafa("import", "customers", str(path))
        assert result.exit_code == 1
        assert "line 3, column email:" in result.stderr
        assert count(committed_db, Customer) == 0


class TestImportWooCommerceCatalogue:
    def test_products_then_customers(
        self, wafa: Invoke, committed_db: Settings, tmp_path: Path
    ) -> None:
        products = tmp_path / "wc-product-export.csv"
        products.write_text(
            "ID,Type,SKU,Name,Published,Regular price,Categories,Parent\n"
            "1,variable,TEE,Tee,1,,Clothing > Shirts,\n"
            "2,variation,TEE-S,Tee - S,1,20.00,,id:1\n"
            "3,simple,,Sticker,1,1.00,,\n",
            encoding="utf-8",
        )
        result = wafa("import", "products", str(products), "--format", "woocommerce")
        assert result.exit_code == 0, result.output
        assert "products created" in result.stdout and "rows skipped" in result.stdout
        assert count(committed_db, Product) == 1
        people = tmp_path / "customers.csv"
        people.write_text("Name,Email,City\nMaryam Karimi,maryam@example.com,Shiraz\n")
        result = wafa("import", "customers", str(people), "--format", "woocommerce")
        assert result.exit_code == 0, result.output
        assert count(committed_db, Customer) == 1
