from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.orders.importing.helpers import DATA, table_counts, variant
from wafa.core.settings import Settings
from wafa.customers.models import ConsentRecord, Customer, CustomerExternalId
from wafa.ingest.pairs import split_pairs
from wafa.orders.importing.customers import import_customers
from wafa.orders.importing.errors import FileRefused, ImportRejected
from wafa.orders.importing.pipeline import import_orders
from wafa.orders.importing.products import import_products
from wafa.orders.models import Order, OrderLine, Product, Refund

WOO = DATA / "woocommerce_orders.csv"
GENERIC = DATA / "generic_orders.csv"
MAPPING = json.loads((DATA / "generic_mapping.json").read_text(encoding="utf-8"))


def write_csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def orders_of(session: Session, source: str) -> dict[str, Order]:
    return {o.external_id: o for o in session.scalars(select(Order).where(Order.source == source))}


class TestWooCommerce:
    def test_orders_lines_and_statuses(self, session: Session, settings: Settings) -> None:
        report = import_orders(session, WOO, fmt="woocommerce", settings=settings)
        orders = orders_of(session, "woocommerce")
        assert {k: (o.status, o.total_amount, o.refunded_amount) for k, o in orders.items()} == {
            "501": ("fulfilled", 1400, 0),
            "502": ("partially_refunded", 900, 450),
            "503": ("refunded", 3000, 3000),
        }
        lines = list(
            session.scalars(
                select(OrderLine)
                .where(OrderLine.order_id == orders["501"].id)
                .order_by(OrderLine.line_no)
            )
        )
        # sub_total 9.00 for two flat whites, total 8.00: 4.50 each with 1.00 off.
        assert [(ln.sku, ln.quantity, ln.unit_price_amount, ln.discount_amount, ln.total_amount) for ln in lines] == [
            ("COF-FW", 2, 450, 100, 800), ("PAS-AC", 1, 400, 0, 400),
        ]  # fmt: skip
        assert orders["501"].coupon_codes == ["welcome"]
        assert orders["501"].placed_at.isoformat() == "2025-09-01T10:15:00+00:00"
        assert report.stats.refunds == 2

    def test_customers_by_woocommerce_id_and_email(
        self, session: Session, settings: Settings
    ) -> None:
        import_orders(session, WOO, fmt="woocommerce", settings=settings)
        orders = orders_of(session, "woocommerce")
        assert orders["501"].customer_id == orders["503"].customer_id
        guest = session.get(Customer, orders["502"].customer_id)
        assert guest is not None and (guest.name, guest.email) == (
            "رضا محمدی",
            "reza.mohammadi@example.com",
        )
        owner = session.scalar(
            select(CustomerExternalId.customer_id).where(
                CustomerExternalId.source == "woocommerce", CustomerExternalId.external_id == "17"
            )
        )
        assert owner == orders["501"].customer_id

    def test_refund_items_keep_reason_and_date(self, session: Session, settings: Settings) -> None:
        import_orders(session, WOO, fmt="woocommerce", settings=settings)
        refund = session.scalar(
            select(Refund).where(Refund.order_id == orders_of(session, "woocommerce")["502"].id)
        )
        assert refund is not None
        assert (refund.external_id, refund.amount, refund.reason) == (
            "woocommerce-refund-1",
            450,
            "Cold drink",
        )
        assert refund.refunded_at.isoformat() == "2025-09-04T09:00:00+00:00"

    def test_reimport_changes_nothing(self, session: Session, settings: Settings) -> None:
        import_orders(session, WOO, fmt="woocommerce", settings=settings)
        before = table_counts(session)
        report = import_orders(session, WOO, fmt="woocommerce", settings=settings)
        assert table_counts(session) == before and report.stats.orders_present == 3

    def test_bad_line_item_cell(self, session: Session, settings: Settings, tmp_path: Path) -> None:
        path = variant(
            tmp_path,
            {(2, "line_item_1"): "name:Iced latte|sku:COF-IL|quantity:-2|total:9.00"},
            source=WOO,
        )
        with pytest.raises(ImportRejected) as caught:
            import_orders(session, path, fmt="woocommerce", settings=settings)
        [error] = caught.value.row_errors
        assert (error.line, error.column, error.reason) == (
            3,
            "line_item_1",
            "quantity '-2' is negative",
        )

    def test_pairs_keep_separators_inside_values(self) -> None:
        assert split_pairs("name:Mug | large|sku:M-1|quantity:1") == {
            "name": "Mug | large", "sku": "M-1", "quantity": "1",
        }  # fmt: skip


class TestGenericOrders:
    def test_mapping_renames_and_skips_columns(self, session: Session, settings: Settings) -> None:
        report = import_orders(
            session, GENERIC, fmt="generic", settings=settings, mapping=MAPPING, source="till"
        )
        orders = orders_of(session, "till")
        assert {k: (o.channel, o.total_amount, o.currency) for k, o in orders.items()} == {
            "A-1": ("in_store", 1100, "USD"), "A-2": ("online", 500, "USD"),
        }  # fmt: skip
        # No offset: read in the business's timezone (UTC in the tests).
        assert orders["A-2"].placed_at.isoformat() == "2025-08-02T14:00:00+00:00"
        assert report.stats.customers_created == 2

    def test_unmapped_columns_are_refused(self, session: Session, settings: Settings) -> None:
        with pytest.raises(FileRefused) as caught:
            import_orders(session, GENERIC, fmt="generic", settings=settings)
        columns = {e.column for e in caught.value.row_errors}
        assert {"Order Nr", "Internal Ref", "order_id"} <= columns

    def test_mapping_to_an_unknown_field(self, session: Session, settings: Settings) -> None:
        with pytest.raises(FileRefused) as caught:
            import_orders(
                session,
                GENERIC,
                fmt="generic",
                settings=settings,
                mapping={**MAPPING, "Qty": "qty"},
            )
        assert any(
            e.column == "Qty" and "not a generic field" in e.reason for e in caught.value.row_errors
        )


class TestCustomersImport:
    def test_customers_with_birthdays_tags_and_consent(
        self, session: Session, settings: Settings
    ) -> None:
        report = import_customers(session, DATA / "customers.csv", fmt="generic", settings=settings)
        assert (report.created, report.matched) == (3, 0)
        people = {c.email or c.phone: c for c in session.scalars(select(Customer))}
        nadia, zahra, sam = (
            people["nadia@example.com"],
            people["+989120001122"],
            people["sam@example.com"],
        )
        assert (nadia.birth_day, nadia.birth_month, nadia.birth_year, nadia.birth_calendar) == (
            12,
            4,
            1991,
            "gregorian",
        )
        assert (zahra.birth_day, zahra.birth_month, zahra.birth_calendar, zahra.name) == (
            15,
            1,
            "jalali",
            "زهرا احمدی",
        )
        assert (sam.birth_day, sam.birth_month, sam.birth_year) == (24, 12, None)
        assert nadia.tags == ["beans", "vip"] and nadia.email_consent is True
        assert zahra.sms_consent is True
        sources = set(
            session.scalars(
                select(ConsentRecord.source).where(ConsentRecord.customer_id == zahra.id)
            )
        )
        assert sources == {"generic import: accepts_sms_marketing"}

    def test_reimport_changes_nothing(self, session: Session, settings: Settings) -> None:
        import_customers(session, DATA / "customers.csv", fmt="generic", settings=settings)
        before = table_counts(session)
        report = import_customers(session, DATA / "customers.csv", fmt="generic", settings=settings)
        assert table_counts(session) == before
        assert (report.created, report.matched, report.updated) == (0, 3, 0)

    def test_a_row_with_no_contact_is_refused(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = tmp_path / "c.csv"
        path.write_text("name,email\nNo Contact,\n", encoding="utf-8")
        with pytest.raises(ImportRejected) as caught:
            import_customers(session, path, fmt="generic", settings=settings)
        assert caught.value.row_errors[0].line == 2

    def test_gregorian_birthday_with_a_jalali_year_is_refused(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = tmp_path / "c.csv"
        path.write_text("name,phone,birthday\nReza,+98 912 000 3344,1365-07-30\n", encoding="utf-8")
        with pytest.raises(ImportRejected) as caught:
            import_customers(session, path, fmt="generic", settings=settings)
        assert "looks Jalali" in caught.value.row_errors[0].reason


class TestProductsImport:
    def test_create_then_update_by_sku(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        report = import_products(session, DATA / "products.csv", fmt="generic", settings=settings)
        assert report.created == 3
        grinder = session.scalar(select(Product).where(Product.sku == "EQP-GRD"))
        assert grinder is not None and (
            grinder.price_amount,
            grinder.repeatable,
            grinder.category,
        ) == (4500, False, "equipment")
        again = import_products(session, DATA / "products.csv", fmt="generic", settings=settings)
        assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
        changed = variant(tmp_path, {(1, "price"): "4.75"}, source=DATA / "products.csv")
        assert import_products(session, changed, fmt="generic", settings=settings).updated == 1

    def test_shopify_products_export(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = write_csv(
            tmp_path,
            "products.csv",
            "Handle,Title,Body (HTML),Vendor,Type,Tags,Option1 Name,Option1 Value,Variant SKU,Variant Price,Status\n"
            "house-blend,House blend,<p>Dark</p>,Roastery,beans,,Size,250g,HB-250,9.00,active\n"
            "house-blend,,,,,,,1kg,HB-1K,30.00,active\n"
            "house-blend,,,,,,,,,,\n",
        )
        report = import_products(session, path, fmt="shopify", settings=settings)
        assert report.created == 2
        rows = session.execute(select(Product.sku, Product.name).where(Product.sku.like("HB-%")))
        names = {str(row[0]): str(row[1]) for row in rows}
        assert names == {"HB-250": "House blend - 250g", "HB-1K": "House blend - 1kg"}


WOO_PRODUCTS = (
    "ID,Type,SKU,Name,Published,Is featured?,Sale price,Regular price,Categories,Tags,Parent,"
    "Attribute 1 name,Attribute 1 value(s)\n"
    '10,simple,BEANS-HB,House blend,1,0,,9.00,"Coffee > Beans, Sale",,,,\n'
    '11,variable,MUG,Mug,1,0,,,"Merch \\, gifts",,,Colour,"Red, Blue"\n'
    "12,variation,MUG-RED,Mug - Red,1,0,,12.50,,,id:11,Colour,Red\n"
    "13,variation,MUG-BLUE,Mug - Blue,1,0,10.00,12.50,,,MUG,Colour,Blue\n"
    "14,simple,,Gift wrapping,1,0,,1.00,,,,,\n"
    '15,"simple, virtual",CLASS-1,Latte art class,0,0,,45.00,Classes,,,,\n'
)


class TestWooCommerceCatalogue:
    def test_products_export(self, session: Session, settings: Settings, tmp_path: Path) -> None:
        path = write_csv(tmp_path, "wc-products.csv", WOO_PRODUCTS)
        report = import_products(session, path, fmt="woocommerce", settings=settings)
        # The variable parent is a container and the unnamed-SKU row cannot be ordered by SKU.
        assert (report.created, report.skipped, report.rejected) == (4, 2, 0)
        rows = session.execute(
            select(
                Product.sku, Product.name, Product.category, Product.price_amount, Product.active
            )
        )
        found = {str(r[0]): tuple(r[1:]) for r in rows}
        assert found == {
            "BEANS-HB": ("House blend", "Beans", 900, True),
            # Variations take the parent's category, by id or by SKU; the sale price is not the price.
            "MUG-RED": ("Mug - Red", "Merch , gifts", 1250, True),
            "MUG-BLUE": ("Mug - Blue", "Merch , gifts", 1250, True),
            "CLASS-1": ("Latte art class", "Classes", 4500, False),
        }
        again = import_products(session, path, fmt="woocommerce", settings=settings)
        assert (again.created, again.updated, again.unchanged) == (0, 0, 4)

    def test_products_without_a_price_are_refused_by_line(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = write_csv(
            tmp_path,
            "wc-products.csv",
            "ID,Type,SKU,Name,Published,Regular price,Categories\n"
            "1,simple,A-1,First,1,3.00,Tea\n"
            "2,simple,B-2,Second,1,,Tea\n",
        )
        before = table_counts(session)
        with pytest.raises(ImportRejected) as caught:
            import_products(session, path, fmt="woocommerce", settings=settings)
        (error,) = caught.value.row_errors
        assert (error.line, error.column) == (3, "Regular price")
        assert table_counts(session) == before

    def test_customers_from_an_extension_export(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = write_csv(
            tmp_path,
            "wc-customers.csv",
            "customer_id,first_name,last_name,user_email,billing_first_name,billing_email,"
            "billing_phone,billing_city,date_registered\n"
            "7,Layla,Haddad,layla@example.com,Layla,,+971 50 123 4567,Dubai,2024-02-01\n"
            "0,,,,سارا,sara@example.com,,Tehran,\n",
        )
        report = import_customers(session, path, fmt="woocommerce", settings=settings)
        assert (report.created, report.rejected) == (2, 0)
        layla = session.scalar(select(Customer).where(Customer.email == "layla@example.com"))
        assert layla is not None
        assert (layla.name, layla.phone, layla.city) == ("Layla Haddad", "+971501234567", "Dubai")
        ids = session.execute(select(CustomerExternalId.source, CustomerExternalId.external_id))
        # A customer_id of 0 is WooCommerce's guest: no external id for Sara.
        assert {(str(r[0]), str(r[1])) for r in ids} == {("woocommerce", "7")}
        sara = session.scalar(select(Customer).where(Customer.email == "sara@example.com"))
        assert sara is not None and (sara.name, sara.city) == ("سارا", "Tehran")

    def test_customers_from_the_analytics_download(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = write_csv(
            tmp_path,
            "customers-report.csv",
            "Name,Username,Last active,Date registered,Email,Orders,Total spend,AOV,"
            "Country / Region,City,Region,Postal code\n"
            "Omar Nasser,omar,2025-10-01,2024-01-05,omar@example.com,4,120.00,30.00,AE,Sharjah,,\n",
        )
        report = import_customers(session, path, fmt="woocommerce", settings=settings)
        assert report.created == 1
        omar = session.scalar(select(Customer).where(Customer.email == "omar@example.com"))
        assert omar is not None and (omar.name, omar.city) == ("Omar Nasser", "Sharjah")
