"""Writes the import fixtures in this folder: ``python tests/data/imports/make_fixtures.py``.

The files are small, hand-designed exports: every scenario the import tests check is
spelled out below, row by row.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

SHOPIFY_HEADER = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
    "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name",
    "Lineitem price", "Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping",
    "Lineitem taxable", "Lineitem fulfillment status", "Billing Name", "Billing Street",
    "Billing Address1", "Billing Address2", "Billing Company", "Billing City", "Billing Zip",
    "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping Address1", "Shipping Address2", "Shipping Company", "Shipping City",
    "Shipping Zip", "Shipping Province", "Shipping Country", "Shipping Phone", "Notes",
    "Note Attributes", "Cancelled at", "Payment Method", "Payment Reference", "Refunded Amount",
    "Vendor", "Outstanding Balance", "Employee", "Location", "Device ID", "Id", "Tags",
    "Risk Level", "Source", "Lineitem discount", "Tax 1 Name", "Tax 1 Value", "Tax 2 Name",
    "Tax 2 Value", "Tax 3 Name", "Tax 3 Value", "Tax 4 Name", "Tax 4 Value", "Tax 5 Name",
    "Tax 5 Value", "Phone", "Receipt Number", "Duties", "Billing Province Name",
    "Shipping Province Name", "Payment ID", "Payment Terms Name", "Next Payment Due At",
    "Payment References",
]  # fmt: skip


def order_row(**cells: str) -> list[str]:
    row = dict.fromkeys(SHOPIFY_HEADER, "")
    row.update(cells)
    return [row[h] for h in SHOPIFY_HEADER]


def line(
    name: str, qty: str, price: str, sku: str, order: str, created: str, **extra: str
) -> dict[str, str]:
    return {"Name": order, "Created at": created, "Lineitem quantity": qty, "Lineitem name": name,
            "Lineitem price": price, "Lineitem sku": sku, "Lineitem requires shipping": "true",
            "Lineitem taxable": "true", "Lineitem discount": "0.00", **extra}  # fmt: skip


T1 = "2025-10-07 09:50:26 +0200"
T2 = "2025-10-09 18:05:00 +0330"
T3 = "2025-10-12 08:00:00 +0000"
T4 = "2025-11-02 12:30:00 +0200"
T5 = "2025-11-03 10:00:00 +0200"
T6 = "2025-11-20 16:45:10 +0400"

# Physical lines: 1 header; #1001 lines 2-3 (a two-line note) and 4; #1002 line 5;
# #1003 line 6; #1004 lines 7, 8, 9; #1005 line 10; #1006 lines 11, 12.
SHOPIFY_ROWS = [
    # #1001: Sara, email + phone, opted in, paid and fulfilled, two items, a note on two lines.
    order_row(
        **line("Flat white", "2", "4.50", "COF-FW", "#1001", T1),
        **{
            "Email": "sara.mansouri@example.com",
            "Financial Status": "paid",
            "Paid at": T1,
            "Fulfillment Status": "fulfilled",
            "Fulfilled at": "2025-10-07 10:05:00 +0200",
            "Accepts Marketing": "yes",
            "Currency": "USD",
            "Subtotal": "12.50",
            "Shipping": "0.00",
            "Taxes": "0.00",
            "Total": "12.50",
            "Discount Amount": "0.00",
            "Billing Name": "سارة المنصوري",
            "Billing City": "Dubai",
            "Billing Phone": "+971 50 123 4567",
            "Shipping Name": "سارة المنصوري",
            "Shipping Address1": "12 Al Wasl Rd",
            "Shipping City": "Dubai",
            "Shipping Country": "AE",
            "Notes": "Leave at the door\nring twice",
            "Payment Method": "Card",
            "Refunded Amount": "0.00",
            "Id": "820001",
            "Tags": "vip",
            "Risk Level": "Low",
            "Source": "web",
        },
    ),
    order_row(**line("Almond croissant", "1", "3.50", "PAS-AC", "#1001", T1)),
    # #1002: Ali, phone only, bought in the shop (POS), fully refunded.
    order_row(
        **line("Espresso beans 250g", "1", "9.00", "BEA-ES250", "#1002", T2),
        **{
            "Financial Status": "refunded",
            "Paid at": T2,
            "Accepts Marketing": "no",
            "Currency": "USD",
            "Subtotal": "9.00",
            "Shipping": "0.00",
            "Taxes": "0.00",
            "Total": "9.00",
            "Billing Name": "علی رضایی",
            "Billing City": "Tehran",
            "Phone": "+98 912 345 6789",
            "Refunded Amount": "9.00",
            "Id": "820002",
            "Source": "pos",
            "Location": "Downtown",
        },
    ),
    # #1003: a guest: no email, no phone.
    order_row(
        **line("Cappuccino", "1", "4.00", "COF-CAP", "#1003", T3),
        **{
            "Financial Status": "paid",
            "Paid at": T3,
            "Currency": "USD",
            "Subtotal": "4.00",
            "Shipping": "0.00",
            "Taxes": "0.00",
            "Total": "4.00",
            "Billing Name": "Walk-in",
            "Refunded Amount": "0.00",
            "Id": "820003",
            "Source": "web",
        },
    ),
    # #1004: Sara again (email in capitals), three items, partially refunded.
    order_row(
        **line("Flat white", "1", "4.50", "COF-FW", "#1004", T4),
        **{
            "Email": "Sara.Mansouri@Example.com",
            "Financial Status": "partially_refunded",
            "Paid at": T4,
            "Fulfillment Status": "fulfilled",
            "Fulfilled at": T4,
            "Accepts Marketing": "yes",
            "Currency": "USD",
            "Subtotal": "15.50",
            "Shipping": "2.00",
            "Taxes": "0.00",
            "Total": "17.50",
            "Billing Name": "سارة المنصوري",
            "Refunded Amount": "3.50",
            "Id": "820004",
            "Source": "web",
        },
    ),
    order_row(**line("Almond croissant", "1", "3.50", "PAS-AC", "#1004", T4)),
    order_row(**line("Pour-over kettle", "1", "7.50", "EQP-KET", "#1004", T4)),
    # #1005: cancelled before payment.
    order_row(
        **line("Cold brew", "2", "5.00", "COF-CB", "#1005", T5),
        **{
            "Email": "maryam.karimi@example.com",
            "Financial Status": "voided",
            "Currency": "USD",
            "Subtotal": "10.00",
            "Shipping": "0.00",
            "Taxes": "0.00",
            "Total": "10.00",
            "Billing Name": "مریم کریمی",
            "Cancelled at": "2025-11-03 11:00:00 +0200",
            "Refunded Amount": "0.00",
            "Id": "820005",
            "Source": "web",
        },
    ),
    # #1006: a discount code and a line discount; opted out.
    order_row(
        **line(
            "Espresso beans 1kg",
            "1",
            "30.00",
            "BEA-ES1K",
            "#1006",
            T6,
            **{"Lineitem discount": "3.00"},
        ),
        **{
            "Email": "john.smith@example.com",
            "Financial Status": "paid",
            "Paid at": T6,
            "Accepts Marketing": "no",
            "Currency": "USD",
            "Subtotal": "31.50",
            "Shipping": "0.00",
            "Taxes": "0.00",
            "Total": "31.50",
            "Discount Code": "WELCOME10",
            "Discount Amount": "3.00",
            "Billing Name": "John Smith",
            "Billing City": "Dubai",
            "Refunded Amount": "0.00",
            "Id": "820006",
            "Source": "web",
        },
    ),
    order_row(**line("Latte", "1", "4.50", "COF-LAT", "#1006", T6)),
]

WOO_HEADER = [
    "order_id", "order_number", "order_date", "paid_date", "status", "shipping_total",
    "shipping_tax_total", "fee_total", "fee_tax_total", "tax_total", "cart_discount",
    "order_discount", "discount_total", "order_total", "order_currency", "payment_method",
    "payment_method_title", "transaction_id", "customer_ip_address", "customer_user_agent",
    "shipping_method", "customer_id", "customer_user", "customer_email", "billing_first_name",
    "billing_last_name", "billing_company", "billing_email", "billing_phone", "billing_address_1",
    "billing_address_2", "billing_postcode", "billing_city", "billing_state", "billing_country",
    "shipping_first_name", "shipping_last_name", "shipping_company", "shipping_phone",
    "shipping_address_1", "shipping_address_2", "shipping_postcode", "shipping_city",
    "shipping_state", "shipping_country", "customer_note", "wt_import_key", "shipping_items",
    "fee_items", "tax_items", "coupon_items", "refund_items", "order_notes",
    "download_permissions", "line_item_1", "line_item_2", "meta:_wc_order_attribution_source_type",
]  # fmt: skip


def woo_row(**cells: str) -> list[str]:
    row = dict.fromkeys(WOO_HEADER, "")
    row.update(cells)
    return [row[h] for h in WOO_HEADER]


WOO_ROWS = [
    # 501: a registered customer (id 17), two items, a coupon, completed.
    woo_row(order_id="501", order_number="501", order_date="2025-09-01 10:15:00",
            paid_date="2025-09-01 10:16:00", status="completed", shipping_total="2.00",
            tax_total="0.00", discount_total="1.00", order_total="14.00", order_currency="USD",
            payment_method_title="Credit card", customer_id="17", customer_user="17",
            billing_first_name="Layla", billing_last_name="Haddad",
            billing_email="layla.haddad@example.com", billing_phone="+1 202 555 0143",
            billing_city="Beirut", coupon_items="code:welcome|amount:1.00",
            line_item_1="name:Flat white|product_id:13|sku:COF-FW|quantity:2|total:8.00|sub_total:9.00|tax:0.00",
            line_item_2="name:Almond croissant|product_id:14|sku:PAS-AC|quantity:1|total:4.00|sub_total:4.00|tax:0.00"),
    # 502: a guest (customer id 0) who paid; partially refunded once.
    woo_row(order_id="502", order_number="502", order_date="2025-09-03 18:40:00",
            paid_date="2025-09-03 18:41:00", status="processing", shipping_total="0.00",
            tax_total="0.00", discount_total="0.00", order_total="9.00", order_currency="USD",
            customer_id="0", billing_first_name="رضا", billing_last_name="محمدی",
            billing_email="reza.mohammadi@example.com", billing_city="Shiraz",
            refund_items="amount:4.50|reason:Cold drink|date:2025-09-04 09:00:00",
            line_item_1="name:Iced latte|sku:COF-IL|quantity:2|total:9.00|sub_total:9.00"),
    # 503: refunded in full (no refund_items: the status says it).
    woo_row(order_id="503", order_number="503", order_date="2025-09-05 08:00:00",
            status="refunded", order_total="30.00", order_currency="USD", customer_id="17",
            billing_email="layla.haddad@example.com", billing_first_name="Layla",
            line_item_1="name:Espresso beans 1kg|sku:BEA-ES1K|quantity:1|total:30.00"),
]  # fmt: skip

GENERIC_HEADER = ["Order Nr", "Date", "Client Email", "Client Phone", "Client", "Item",
                  "Code", "Qty", "Price", "Channel", "Internal Ref"]  # fmt: skip
GENERIC_ROWS = [
    ["A-1", "2025-08-01T09:00:00+04:00", "omar@example.com", "", "Omar Nasser", "Flat white", "COF-FW", "1", "4.50", "in_store", "x1"],
    ["A-1", "2025-08-01T09:00:00+04:00", "omar@example.com", "", "Omar Nasser", "Brownie", "PAS-BR", "2", "3.25", "in_store", "x1"],
    ["A-2", "2025-08-02 14:00", "", "+1 202 555 0188", "", "Cold brew", "COF-CB", "1", "5.00", "online", "x2"],
]  # fmt: skip
GENERIC_MAPPING = {
    "Order Nr": "order_id", "Date": "placed_at", "Client Email": "customer_email",
    "Client Phone": "customer_phone", "Client": "customer_name", "Item": "name",
    "Code": "sku", "Qty": "quantity", "Price": "unit_price", "Channel": "channel",
    "Internal Ref": None,
}  # fmt: skip

CUSTOMERS = [
    ["name", "email", "phone", "birthday", "birthday_calendar", "city", "tags", "accepts_email_marketing", "accepts_sms_marketing"],
    ["Nadia Farouk", "nadia@example.com", "", "1991-04-12", "", "Cairo", "vip,beans", "yes", ""],
    ["زهرا احمدی", "", "+98 912 000 1122", "1370-01-15", "jalali", "Isfahan", "", "", "yes"],
    ["Sam Lee", "sam@example.com", "+1 202 555 0199", "12-24", "", "", "wholesale", "no", "no"],
]  # fmt: skip
PRODUCTS = [
    ["sku", "name", "category", "price", "repeatable"],
    ["COF-FW", "Flat white", "coffee drinks", "4.50", "yes"],
    ["EQP-GRD", "Hand grinder", "equipment", "45.00", "no"],
    ["BEA-ES250", "Espresso beans 250g", "beans", "9.00", ""],
]  # fmt: skip


def write(name: str, header: list[str], rows: list[list[str]]) -> None:
    with (HERE / name).open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        out.writerows(rows)


def main() -> None:
    write("shopify_orders.csv", SHOPIFY_HEADER, SHOPIFY_ROWS)
    write("woocommerce_orders.csv", WOO_HEADER, WOO_ROWS)
    write("generic_orders.csv", GENERIC_HEADER, GENERIC_ROWS)
    (HERE / "generic_mapping.json").write_text(
        json.dumps(GENERIC_MAPPING, indent=2) + "\n", encoding="utf-8"
    )
    write("customers.csv", CUSTOMERS[0], CUSTOMERS[1:])
    write("products.csv", PRODUCTS[0], PRODUCTS[1:])


if __name__ == "__main__":
    main()
