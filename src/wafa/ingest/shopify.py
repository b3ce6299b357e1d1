"""Shopify: the Orders export (Admin > Orders > Export) and the REST order JSON.

The export has one row per line item. Order-level cells are filled on the first row of
each order and blank on the rows after it; rows are grouped by ``Name`` (``#1001``),
which is also the order number people see. Timestamps look like
``2025-10-07 09:50:26 +0200``; amounts are decimals in the order's ``Currency``.

Statuses: ``Cancelled at`` cancels the order; ``Financial Status`` ``paid``,
``partially_paid`` are paid, ``refunded`` is paid and refunded in full (the whole total
when ``Refunded Amount`` is blank), ``partially_refunded`` is paid and refunded in part
(``Refunded Amount`` required), ``pending``, ``authorized`` and ``expired`` are placed,
and ``voided`` (the payment was voided: nothing was ever taken) is **cancelled**, with or
without a cancel date; ``Fulfillment Status`` ``fulfilled`` is fulfilled (its other
words say nothing more). The export has no refund date: a refund is dated at
``Cancelled at``, else at the latest of ``Created at``, ``Paid at`` and ``Fulfilled at``.

Who: ``Email``, else the first filled of ``Phone``, ``Billing Phone``, ``Shipping Phone``
(an order with neither is a guest's); the name and city from billing, else shipping;
consent from ``Accepts Marketing`` (or ``Accepts Email Marketing``) and ``Accepts SMS
Marketing``. ``Source`` ``pos`` is the shop's point of sale (channel ``in_store``).

Every other documented export column is accepted and ignored; a column Shopify does
not export is refused by the importer unless ``--map`` renames or skips it.

The REST Admin API's order JSON (``orders/create`` webhooks) carries the same facts:
see the ``json`` paths of the columns and ``wafa.ingest.shopjson``.
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

__all__ = ["JSON_SHAPE", "REFUND_ID", "SHOPIFY"]

#: The external id of the one refund an export row can describe (a running total).
REFUND_ID = "shopify-export-refund"

_PAID = Word("paid")

FINANCIAL = Vocabulary(
    Role.financial_status,
    {
        "paid": _PAID,
        "partially_paid": _PAID,
        "refunded": Word("paid", RefundMeaning.whole),
        "partially_refunded": Word("paid", RefundMeaning.partial),
        "pending": Word("placed"),
        "authorized": Word("placed"),
        "expired": Word("placed"),
        # A voided payment was never taken: the order is not a sale, cancel date or not.
        "voided": Word("cancelled"),
    },
    attribute="financial_status",
)
FULFILLMENT = Vocabulary(
    Role.fulfillment_status,
    {
        "fulfilled": Word("fulfilled"),
        "partial": Word("placed"),
        "unfulfilled": Word("placed"),
        "restocked": Word("placed"),
    },
    strict=False,
)

_MONEY = Kind.money
_LINE = Level.line

#: The REST order, refund and customer JSON beyond the columns' ``json`` paths.
JSON_SHAPE = JsonShape(
    order_id="id",
    updated_at="updated_at",
    customer_id="customer.id",
    lines="line_items",
    line_id="id",
    refunds="refunds",
    refund_id="id",
    refund_order_id="order_id",
    refund_at="created_at",
    refund_reason="note",
    refund_amount=None,
    refund_transactions="transactions",
    refund_lines="refund_line_items",
    refund_line_ref="line_item_id",
    refund_line_quantity="quantity",
    customer={
        Role.customer_id: ("id",),
        Role.email: ("email",),
        Role.phone: ("phone", "default_address.phone"),
        Role.first_name: ("first_name",),
        Role.last_name: ("last_name",),
        Role.city: ("default_address.city",),
        Role.email_consent: ("email_marketing_consent.state", "accepts_marketing"),
        Role.sms_consent: ("sms_marketing_consent.state",),
    },
)

SHOPIFY = OrderFormat(
    name="shopify",
    title="Shopify Orders export",
    columns=(
        Column(Role.order_key, ("Name",), json=("name",)),
        Column(Role.placed_at, ("Created at",), Kind.instant, json=("created_at",)),
        Column(Role.paid_at, ("Paid at",), Kind.instant, json=("processed_at",)),
        Column(
            Role.fulfilled_at, ("Fulfilled at",), Kind.instant, json=("fulfillments.0.created_at",)
        ),
        Column(Role.cancelled_at, ("Cancelled at",), Kind.instant, json=("cancelled_at",)),
        Column(Role.currency, ("Currency",), Kind.currency, json=("currency",)),
        Column(Role.total, ("Total",), _MONEY, json=("total_price",)),
        Column(Role.subtotal, ("Subtotal",), _MONEY, json=("subtotal_price",)),
        Column(Role.order_discount, ("Discount Amount",), _MONEY, json=("total_discounts",)),
        Column(
            Role.shipping,
            ("Shipping",),
            _MONEY,
            json=("total_shipping_price_set.shop_money.amount",),
        ),
        Column(Role.tax, ("Taxes",), _MONEY, json=("total_tax",)),
        Column(Role.refunded, ("Refunded Amount",), _MONEY),
        Column(Role.financial_status, ("Financial Status",), Kind.word, json=("financial_status",)),
        Column(
            Role.fulfillment_status,
            ("Fulfillment Status",),
            Kind.word,
            json=("fulfillment_status",),
        ),
        Column(Role.channel, ("Source",), Kind.word, json=("source_name",)),
        Column(Role.location, ("Location",)),
        Column(Role.coupon_codes, ("Discount Code",), Kind.words),
        Column(
            Role.shipping_address,
            (
                "Shipping Address1",
                "Shipping Address2",
                "Shipping City",
                "Shipping Zip",
                "Shipping Province",
                "Shipping Country",
            ),
            pick=Pick.joined,
            json=(
                "shipping_address.address1",
                "shipping_address.address2",
                "shipping_address.city",
                "shipping_address.zip",
                "shipping_address.province",
                "shipping_address.country",
            ),
        ),
        Column(Role.email, ("Email",), Kind.email, json=("email", "customer.email")),
        Column(
            Role.phone,
            ("Phone", "Billing Phone", "Shipping Phone"),
            Kind.phone,
            json=("phone", "customer.phone", "billing_address.phone", "shipping_address.phone"),
        ),
        Column(
            Role.customer_name,
            ("Billing Name", "Shipping Name"),
            json=("billing_address.name", "shipping_address.name"),
        ),
        Column(
            Role.city,
            ("Billing City", "Shipping City"),
            json=("billing_address.city", "shipping_address.city"),
        ),
        Column(
            Role.email_consent,
            ("Accepts Marketing", "Accepts Email Marketing"),
            Kind.flag,
            json=("customer.email_marketing_consent.state", "buyer_accepts_marketing"),
        ),
        Column(
            Role.sms_consent,
            ("Accepts SMS Marketing",),
            Kind.flag,
            json=("customer.sms_marketing_consent.state",),
        ),
        Column(Role.line_name, ("Lineitem name",), level=_LINE, json=("name",)),
        Column(Role.line_sku, ("Lineitem sku",), level=_LINE, json=("sku",)),
        Column(
            Role.line_quantity, ("Lineitem quantity",), Kind.quantity, _LINE, json=("quantity",)
        ),
        Column(Role.line_price, ("Lineitem price",), _MONEY, _LINE, json=("price",)),
        Column(Role.line_discount, ("Lineitem discount",), _MONEY, _LINE, json=("total_discount",)),
    ),
    required=(Role.order_key, Role.placed_at),
    line_roles=(Role.line_quantity, Role.line_name, Role.line_price),
    statuses=(FINANCIAL, FULFILLMENT),
    cancelled_by=Role.cancelled_at,
    refunds=Refunds(
        amount=Role.refunded,
        external_id=REFUND_ID,
        item_id=REFUND_ID,
        reason="from the Shopify export",
        dated_by=(Role.cancelled_at,),
    ),
    customer=(Role.email, Role.phone),
    channels={"pos": "in_store"},
    other_channel="online",
    key_is_number=True,
    # ``Id`` is the order's id in the Admin API, unique across every Shopify store: a
    # webhook's ``id``. An order imported and received by webhook is one order.
    shop_ref="shopify_id",
    kept=(
        ("Id", "shopify_id"),
        ("Tags", "tags"),
        ("Notes", "notes"),
        ("Payment Method", "payment_method"),
        ("Employee", "employee"),
        ("Location", "location"),
        ("Risk Level", "risk_level"),
    ),
    ignored=(
        "Shipping Method",
        "Lineitem compare at price",
        "Lineitem requires shipping",
        "Lineitem taxable",
        "Lineitem fulfillment status",
        "Billing Street",
        "Billing Address1",
        "Billing Address2",
        "Billing Company",
        "Billing Zip",
        "Billing Province",
        "Billing Country",
        "Shipping Street",
        "Shipping Company",
        "Note Attributes",
        "Payment Reference",
        "Vendor",
        "Outstanding Balance",
        "Device ID",
        "Receipt Number",
        "Duties",
        "Billing Province Name",
        "Shipping Province Name",
        "Payment ID",
        "Payment Terms Name",
        "Next Payment Due At",
        "Payment References",
    ),
    ignored_patterns=(r"Tax \d+ (Name|Value)",),
    json_shape=JSON_SHAPE,
)
