"""WooCommerce: the order exports of the common export extensions, and the REST order JSON.

WooCommerce itself exports no orders; the extensions do, in two layouts that this
description reads alike:

* WebToffee's "Order Export & Order Import for WooCommerce" (which "Customer / Order /
  Coupon CSV Import Suite" shares): one row per order, snake_case headers, each order
  line in its own ``line_item_1``, ``line_item_2``… cell as
  ``name:Flat white|product_id:13|sku:FW-1|quantity:2|total:9.00|sub_total:9.00``, refunds
  in ``refund_items`` (``amount:5.00|reason:Late|date:2024-01-02 10:00:00;…``) and coupons
  in ``coupon_items`` (``code:SAVE10|amount:10.00;…``);
* "one row per item" (WebToffee's option, SkyVerge's "Customer/Order CSV Export"): the
  order's cells repeated on each of its rows, the line in ``line_item_*`` or ``item_*``
  columns, the refunded amount in ``refunded_total``.

Rows are grouped by ``order_id``. WooCommerce writes local times: a time without an
offset is read in the business's timezone. Statuses (a ``wc-`` prefix is dropped):
``pending`` and ``on-hold`` are placed, ``processing`` paid, ``completed`` fulfilled,
``cancelled`` and ``failed`` cancelled (at the completed date, else when placed), and
``refunded`` paid and refunded in full (the whole total when no refund is listed, dated
at the completed, else paid, else placed date). A line's unit price is its subtotal
divided by its quantity (rounded up) and its discount the difference to its total.

Who: ``customer_id`` (``customer_user``; 0 is a guest), ``billing_email`` (else
``customer_email``), ``billing_phone`` (else ``shipping_phone``). WooCommerce exports
carry no marketing consent. Column headers of other extensions that name the same facts
(``Order ID``, ``Order Total``, ``Billing Email``…) are read too.

The REST API's order JSON (``/wp-json/wc/v3/orders``, the ``order.created`` webhook)
carries the same facts: see the ``json`` paths and ``wafa.ingest.shopjson``.
"""

from __future__ import annotations

from wafa.ingest.describe import (
    Column,
    JsonShape,
    Kind,
    Level,
    OrderFormat,
    Pick,
    RefundMeaning,
    Refunds,
    Role,
    Vocabulary,
    Word,
)

__all__ = ["JSON_SHAPE", "STATUS", "WOOCOMMERCE"]

STATUS = Vocabulary(
    Role.status,
    {
        "pending": Word("placed"),
        "on-hold": Word("placed"),
        "processing": Word("paid"),
        "completed": Word("fulfilled"),
        "cancelled": Word("cancelled"),
        "failed": Word("cancelled"),
        "refunded": Word("paid", RefundMeaning.whole),
    },
    prefix="wc-",
    attribute="woocommerce_status",
)

_MONEY = Kind.money
_LINE = Level.line

#: The REST order and customer JSON beyond the columns' ``json`` paths. An order's
#: refunds carry no date or lines (their ``total`` is negative): they are dated when
#: the order was last modified.
JSON_SHAPE = JsonShape(
    order_id="id",
    updated_at="date_modified_gmt",
    customer_id="customer_id",
    lines="line_items",
    line_id="id",
    refunds="refunds",
    refund_id="id",
    refund_order_id=None,
    refund_at=None,
    refund_reason="reason",
    refund_amount="total",
    refund_transactions=None,
    refund_lines=None,
    refund_line_ref="",
    refund_line_quantity="",
    customer={
        Role.customer_id: ("id",),
        Role.email: ("email", "billing.email"),
        Role.phone: ("billing.phone", "shipping.phone"),
        Role.first_name: ("first_name", "billing.first_name"),
        Role.last_name: ("last_name", "billing.last_name"),
        Role.city: ("billing.city", "shipping.city"),
    },
)

WOOCOMMERCE = OrderFormat(
    name="woocommerce",
    title="WooCommerce order export",
    columns=(
        Column(Role.order_key, ("order_id", "Order ID"), json=("id",)),
        Column(Role.number, ("order_number", "Order Number"), json=("number",)),
        Column(
            Role.placed_at,
            ("order_date", "date_created", "Order Date", "Date"),
            Kind.instant,
            json=("date_created_gmt",),
        ),
        Column(Role.paid_at, ("paid_date",), Kind.instant, json=("date_paid_gmt",)),
        Column(Role.fulfilled_at, ("completed_date",), Kind.instant, json=("date_completed_gmt",)),
        Column(
            Role.status,
            ("status", "order_status", "Order Status"),
            Kind.word,
            json=("status",),
        ),
        Column(
            Role.currency,
            ("order_currency", "currency", "Order Currency"),
            Kind.currency,
            json=("currency",),
        ),
        Column(Role.total, ("order_total", "Order Total", "total"), _MONEY, json=("total",)),
        Column(Role.shipping, ("shipping_total",), _MONEY, json=("shipping_total",)),
        Column(Role.tax, ("tax_total",), _MONEY, json=("total_tax",)),
        Column(
            Role.order_discount,
            ("discount_total", "cart_discount"),
            _MONEY,
            json=("discount_total",),
        ),
        Column(
            Role.refunded,
            ("refunded_total", "order_refund", "Refund Total", "Refunded Total"),
            _MONEY,
        ),
        Column(Role.refund_items, ("refund_items",), Kind.pairs),
        Column(Role.coupon_codes, ("coupon_items",), Kind.pairs),
        Column(
            Role.shipping_address,
            (
                "shipping_address_1",
                "shipping_address_2",
                "shipping_city",
                "shipping_postcode",
                "shipping_state",
                "shipping_country",
            ),
            pick=Pick.joined,
            json=(
                "shipping.address_1",
                "shipping.address_2",
                "shipping.city",
                "shipping.postcode",
                "shipping.state",
                "shipping.country",
            ),
        ),
        Column(
            Role.customer_id,
            ("customer_id", "customer_user", "Customer ID", "Customer User ID"),
            json=("customer_id",),
            none_words=("0",),
        ),
        Column(
            Role.email,
            ("billing_email", "customer_email", "Billing Email", "Email (Billing)"),
            Kind.email,
            json=("billing.email",),
        ),
        Column(
            Role.phone,
            ("billing_phone", "shipping_phone"),
            Kind.phone,
            json=("billing.phone", "shipping.phone"),
        ),
        Column(Role.first_name, ("billing_first_name",), json=("billing.first_name",)),
        Column(Role.last_name, ("billing_last_name",), json=("billing.last_name",)),
        Column(Role.city, ("billing_city",), json=("billing.city",)),
        Column(Role.line_items, (), Kind.pairs, _LINE, pattern=r"line_item_(\d+)"),
        Column(Role.line_name, ("line_item_name", "item_name"), level=_LINE, json=("name",)),
        Column(
            Role.line_sku,
            ("line_item_sku", "item_sku", "sku", "Item SKU"),
            level=_LINE,
            json=("sku",),
        ),
        Column(
            Role.line_quantity,
            ("line_item_quantity", "item_quantity", "quantity", "Item Quantity", "Qty"),
            Kind.quantity,
            _LINE,
            json=("quantity",),
        ),
        Column(
            Role.line_subtotal,
            ("line_item_subtotal", "item_subtotal"),
            _MONEY,
            _LINE,
            json=("subtotal",),
        ),
        Column(Role.line_total, ("line_item_total", "item_total"), _MONEY, _LINE, json=("total",)),
    ),
    required=(Role.order_key, Role.placed_at, Role.status, Role.total),
    line_roles=(Role.line_name, Role.line_quantity, Role.line_total),
    statuses=(STATUS,),
    refunds=Refunds(
        amount=Role.refunded,
        items=Role.refund_items,
        external_id="woocommerce-refund-1",
        item_id="woocommerce-refund",
        reason="order refunded",
        dated_by=(Role.fulfilled_at, Role.paid_at, Role.placed_at),
    ),
    customer=(Role.customer_id, Role.email, Role.phone),
    cancel_dated_by=(Role.fulfilled_at, Role.placed_at),
    json_times_utc=True,
    kept=(
        ("payment_method_title", "payment_method"),
        ("shipping_method", "shipping_method"),
        ("customer_note", "notes"),
    ),
    ignored=(
        "shipping_tax_total",
        "fee_total",
        "fee_tax_total",
        "order_discount",
        "order_subtotal",
        "order_key",
        "payment_method",
        "transaction_id",
        "customer_ip_address",
        "customer_user_agent",
        "billing_company",
        "billing_address_1",
        "billing_address_2",
        "billing_postcode",
        "billing_state",
        "billing_country",
        "shipping_first_name",
        "shipping_last_name",
        "shipping_company",
        "wt_import_key",
        "shipping_items",
        "fee_items",
        "tax_items",
        "order_notes",
        "download_permissions",
        "line_item_product_id",
        "line_item_subtotal_tax",
        "line_item_total_tax",
        "item_refunded",
        "item_refunded_qty",
        "item_meta",
    ),
    ignored_patterns=(r"meta:.+", r"line_item_\d+_\w+"),
    json_shape=JSON_SHAPE,
)
