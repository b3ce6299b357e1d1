"""Hand-written payloads in the shapes Shopify's and WooCommerce's documentation give.

Shopify: the REST Admin API ``Order``, ``Refund`` and ``Customer`` resources as the
``orders/*``, ``refunds/create`` and ``customers/*`` webhooks send them; the privacy
topics' bodies from the "Privacy law compliance" page. WooCommerce: the REST API v3
order and customer as the ``order.*`` and ``customer.*`` webhooks send them.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from typing import Any


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_headers(
    secret: str, body: bytes, topic: str, webhook_id: str, *, signature: str | None = None
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature if signature is not None else sign(secret, body),
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Shop-Domain": "souq-al-qahwa.myshopify.com",
        "X-Shopify-API-Version": "2025-01",
    }


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


SHOPIFY_ORDER: dict[str, Any] = {
    "id": 820982911946154508,
    "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
    "name": "#1001",
    "order_number": 1001,
    "email": "layla@example.com",
    "phone": None,
    "created_at": "2026-03-01T10:00:00+03:00",
    "updated_at": "2026-03-01T10:00:05+03:00",
    "processed_at": "2026-03-01T10:00:00+03:00",
    "cancelled_at": None,
    "cancel_reason": None,
    "currency": "SAR",
    "presentment_currency": "SAR",
    "financial_status": "pending",
    "fulfillment_status": None,
    "source_name": "web",
    "buyer_accepts_marketing": True,
    "taxes_included": False,
    "subtotal_price": "90.00",
    "total_discounts": "0.00",
    "total_tax": "13.50",
    "total_price": "118.50",
    "total_shipping_price_set": {
        "shop_money": {"amount": "15.00", "currency_code": "SAR"},
        "presentment_money": {"amount": "15.00", "currency_code": "SAR"},
    },
    "discount_codes": [],
    "customer": {
        "id": 115310627314723954,
        "email": "layla@example.com",
        "first_name": "ليلى",
        "last_name": "الحربي",
        "phone": "+966501234567",
        "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in"},
        "sms_marketing_consent": None,
    },
    "billing_address": {
        "name": "ليلى الحربي",
        "address1": "شارع التحلية",
        "city": "جدة",
        "zip": "23434",
        "country": "Saudi Arabia",
        "phone": "+966501234567",
    },
    "shipping_address": {
        "name": "ليلى الحربي",
        "address1": "شارع التحلية",
        "address2": None,
        "city": "جدة",
        "zip": "23434",
        "province": "Makkah",
        "country": "Saudi Arabia",
        "phone": "+966501234567",
    },
    "line_items": [
        {
            "id": 466157049,
            "name": "قهوة عربية - 250 غ",
            "title": "قهوة عربية",
            "sku": "ARB-250",
            "quantity": 2,
            "price": "30.00",
            "total_discount": "0.00",
            "fulfillment_status": None,
        },
        {
            "id": 518995019,
            "name": "دلة نحاس",
            "title": "دلة نحاس",
            "sku": "DALLAH-1",
            "quantity": 1,
            "price": "30.00",
            "total_discount": "0.00",
            "fulfillment_status": None,
        },
    ],
    "fulfillments": [],
    "refunds": [],
}


def shopify_order(**changes: Any) -> dict[str, Any]:
    order = copy.deepcopy(SHOPIFY_ORDER)
    order.update(changes)
    return order


def shopify_refund(**changes: Any) -> dict[str, Any]:
    refund: dict[str, Any] = {
        "id": 509562969,
        "order_id": SHOPIFY_ORDER["id"],
        "created_at": "2026-03-03T09:00:00+03:00",
        "note": "الدلة وصلت مكسورة",
        "restock": False,
        "refund_line_items": [
            {
                "id": 104689539,
                "line_item_id": 518995019,
                "quantity": 1,
                "restock_type": "no_restock",
                "subtotal": 30.0,
                "total_tax": 4.5,
            }
        ],
        "transactions": [
            {
                "id": 179259969,
                "kind": "refund",
                "status": "success",
                "amount": "34.50",
                "currency": "SAR",
            }
        ],
    }
    refund.update(changes)
    return refund


SHOPIFY_CUSTOMER: dict[str, Any] = {
    "id": 706405506930370084,
    "email": "dariush@example.com",
    "first_name": "داریوش",
    "last_name": "رضایی",
    "phone": "+989121234567",
    "created_at": "2026-03-01T09:00:00-05:00",
    "updated_at": "2026-03-01T09:00:00-05:00",
    "email_marketing_consent": {"state": "not_subscribed", "opt_in_level": None},
    "sms_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in"},
    "default_address": {"city": "تهران", "country": "Iran", "phone": "+989121234567"},
}


WOO_ORDER: dict[str, Any] = {
    "id": 727,
    "parent_id": 0,
    "number": "727",
    "order_key": "wc_order_58d2d042d1d",
    "created_via": "checkout",
    "status": "processing",
    "currency": "KWD",
    "date_created": "2026-03-02T13:03:00",
    "date_created_gmt": "2026-03-02T10:03:00",
    "date_modified": "2026-03-02T13:05:00",
    "date_modified_gmt": "2026-03-02T10:05:00",
    "discount_total": "0.000",
    "shipping_total": "1.500",
    "total": "13.500",
    "total_tax": "0.000",
    "customer_id": 26,
    "billing": {
        "first_name": "فاطمة",
        "last_name": "العنزي",
        "city": "الكويت",
        "email": "fatima@example.com",
        "phone": "+96550012345",
    },
    "shipping": {
        "first_name": "فاطمة",
        "last_name": "العنزي",
        "address_1": "شارع الخليج",
        "address_2": "",
        "city": "الكويت",
        "state": "",
        "postcode": "13001",
        "country": "KW",
    },
    "payment_method": "cod",
    "date_paid_gmt": "2026-03-02T10:04:00",
    "date_completed_gmt": None,
    "line_items": [
        {
            "id": 315,
            "name": "Woo Single #1",
            "product_id": 93,
            "sku": "WOO-1",
            "quantity": 2,
            "subtotal": "12.000",
            "total": "12.000",
            "price": 6,
        }
    ],
    "refunds": [],
}


def woo_order(**changes: Any) -> dict[str, Any]:
    order = copy.deepcopy(WOO_ORDER)
    order.update(changes)
    return order


def woo_headers(
    secret: str, body: bytes, topic: str, delivery_id: str, *, signature: str | None = None
) -> dict[str, str]:
    resource, _, event = topic.partition(".")
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://dukkan.example.com/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": signature if signature is not None else sign(secret, body),
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": delivery_id,
    }
