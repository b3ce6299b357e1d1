"""The orders' share of the whole-person operations ``wafa.people`` orchestrates.

Merge moves a customer's orders, export lists them, erasure keeps the amounts for the
books and blanks whatever names the person.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from wafa.core.db import rowcount
from wafa.orders.models import (
    Order,
    Refund,
)
from wafa.orders.sales import sold
from wafa.orders.service import customer_orders


def reassign_orders(session: Session, *, from_customer: uuid.UUID, to_customer: uuid.UUID) -> int:
    """Move every order of one customer to another (a merge); returns how many moved."""
    return rowcount(
        session.execute(
            update(Order)
            .where(Order.customer_id == from_customer)
            .values(customer_id=to_customer)
            .execution_options(synchronize_session=False)
        )
    )


def anonymize_orders(session: Session, *, customer_id: uuid.UUID) -> int:
    """Remove personal details from a customer's orders, keeping the amounts for the books.

    The free text that can name the person goes too: the shop's own ``attributes`` (a
    gift message, a note to the courier) and the reasons given for refunds.
    """
    session.execute(
        update(Refund)
        .where(Refund.order_id.in_(select(Order.id).where(Order.customer_id == customer_id)))
        .values(reason=None)
        .execution_options(synchronize_session=False)
    )
    return rowcount(
        session.execute(
            update(Order)
            .where(Order.customer_id == customer_id)
            .values(
                contact_email=None,
                contact_phone=None,
                contact_name=None,
                shipping_address=None,
                attributes={},
            )
            .execution_options(synchronize_session=False)
        )
    )


def order_stats(session: Session, customer_id: uuid.UUID) -> dict[str, Any]:
    """Count, spend (net of refunds), first and last order of a customer's sales (``sales``)."""
    row = session.execute(
        select(
            func.count(Order.id),
            func.coalesce(func.sum(Order.total_amount - Order.refunded_amount), 0),
            func.min(Order.placed_at),
            func.max(Order.placed_at),
        ).where(Order.customer_id == customer_id, sold())
    ).one()
    return {"orders": int(row[0]), "spend": int(row[1]), "first": row[2], "last": row[3]}


def personal_data(session: Session, customer_id: uuid.UUID) -> dict[str, Any]:
    """A person's orders with their contact details, lines and refunds (for the export)."""
    return {
        "orders": [
            {
                "id": str(o.id),
                "source": o.source,
                "external_id": o.external_id,
                "number": o.number,
                "channel": o.channel,
                "status": o.status,
                "currency": o.currency,
                "total": o.total_amount,
                "refunded": o.refunded_amount,
                "placed_at": _iso(o.placed_at),
                "contact": {
                    "email": o.contact_email,
                    "phone": o.contact_phone,
                    "name": o.contact_name,
                    "shipping_address": o.shipping_address,
                },
                "attributes": o.attributes,
                "lines": [
                    {
                        "sku": ln.sku,
                        "name": ln.name,
                        "quantity": ln.quantity,
                        "unit_price": ln.unit_price_amount,
                        "total": ln.total_amount,
                    }
                    for ln in o.lines
                ],
                "refunds": [
                    {"amount": r.amount, "refunded_at": _iso(r.refunded_at), "reason": r.reason}
                    for r in o.refunds
                ],
            }
            for o in customer_orders(session, customer_id)
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
