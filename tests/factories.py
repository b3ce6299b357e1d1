"""Plain factories: build real rows through the real services."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from wafa.core.settings import CalendarKind
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.customers.schemas import CustomerCreate
from wafa.orders import service as orders
from wafa.orders.models import Order
from wafa.orders.schemas import OrderCreate

_seq = itertools.count(1)


def create_customer(session: Session, **overrides: Any) -> Customer:
    n = next(_seq)
    values: dict[str, Any] = {"name": f"Customer {n}", "email": f"customer{n}@example.com"}
    values.update(overrides)
    return customers.create_customer(
        session, data=CustomerCreate(**values), region="US", calendar=CalendarKind.gregorian
    )


def order_payload(**overrides: Any) -> dict[str, Any]:
    n = next(_seq)
    payload: dict[str, Any] = {
        "source": "test",
        "external_id": f"order-{n}",
        "channel": "online",
        "placed_at": datetime(2026, 3, 1, 10, 0, tzinfo=UTC).isoformat(),
        "currency": "USD",
        "customer": {"email": f"buyer{n}@example.com", "name": f"Buyer {n}"},
        "lines": [{"sku": "COF-1", "name": "Flat white", "quantity": 2, "unit_price": 450}],
    }
    payload.update(overrides)
    return payload


def create_order(session: Session, **overrides: Any) -> Order:
    order, _ = orders.create_order(
        session, data=OrderCreate.model_validate(order_payload(**overrides)), region="US"
    )
    return order
