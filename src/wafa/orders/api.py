"""/api/v1 orders, refunds, products and locations."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from wafa.api.deps import (
    AppSettings,
    DbSession,
    Idempotent,
    MayEditCatalogue,
    MayRefund,
    Reader,
    ReadSession,
    Writer,
)
from wafa.api.routing import AutoCommitRoute
from wafa.core.time import utcnow
from wafa.orders import delivery
from wafa.orders import service as orders
from wafa.orders.models import Channel, Location, Order, Product
from wafa.orders.schemas import (
    LateOrderPage,
    LocationCreate,
    LocationRead,
    OnTimeRate,
    OrderCreate,
    OrderPage,
    OrderRead,
    OrderStatusUpdate,
    ProductCreate,
    ProductPage,
    ProductRead,
    ProductUpdate,
    RefundCreate,
    RefundRead,
)

router = APIRouter(tags=["orders"], route_class=AutoCommitRoute)

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]


@router.post(
    "/orders",
    response_model=OrderRead,
    status_code=201,
    responses={
        200: {"model": OrderRead, "description": "Seen before: the stored order, unchanged."},
        201: {"model": OrderRead, "description": "Created."},
    },
    summary="Record an order (idempotent on source + external_id)",
)
def create_order(
    body: OrderCreate, session: DbSession, settings: AppSettings, _: Writer
) -> JSONResponse:
    order, created = orders.create_order(
        session, data=body, region=settings.phone_region, same_order_only=True
    )
    payload = OrderRead.model_validate(order).model_dump(mode="json")
    return JSONResponse(payload, status_code=201 if created else 200)


@router.get("/orders", response_model=OrderPage)
def list_orders(
    session: ReadSession,
    _: Reader,
    customer_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: str | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    items, nxt = orders.list_orders(
        session, customer_id=customer_id, q=q, status=status, limit=limit, cursor=cursor
    )
    return {"items": items, "next_cursor": nxt}


@router.get("/orders/late", response_model=LateOrderPage)
def list_late_orders(
    session: ReadSession,
    _: Reader,
    which: delivery.Lateness | None = None,
    channel: Channel | None = None,
    location_id: uuid.UUID | None = None,
    limit: Limit = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Orders whose promise passed without delivery, and orders delivered after it."""
    rows, total = delivery.late_orders(
        session,
        now=utcnow(),
        filters=delivery.LateFilters(
            which=which, channel=channel.value if channel else None, location_id=location_id
        ),
        limit=limit,
        offset=offset,
    )
    items = [
        {
            "order": OrderRead.model_validate(row.order),
            "which": row.which.value,
            "hours_late": round(row.late_by.total_seconds() / 3600, 2),
        }
        for row in rows
    ]
    return {"items": items, "total": total}


@router.get("/orders/on-time", response_model=list[OnTimeRate])
def on_time_rates(
    session: ReadSession,
    settings: AppSettings,
    _: Reader,
    by: Annotated[Literal["channel", "location", "month"], Query()] = "channel",
) -> list[dict[str, Any]]:
    """On-time delivery by channel, location or month of the promise (business calendar)."""
    found = delivery.rates(
        session, by=by, now=utcnow(), timezone=settings.timezone, calendar=settings.calendar
    )
    return [
        {
            "key": r.key,
            "delivered": r.delivered,
            "on_time": r.on_time,
            "overdue": r.overdue,
            "rate": r.rate,
        }
        for r in found
    ]


@router.get("/orders/{order_id}", response_model=OrderRead)
def get_order(order_id: uuid.UUID, session: ReadSession, _: Reader) -> Order:
    return orders.get_order(session, order_id)


@router.post("/orders/{order_id}/status", response_model=OrderRead, dependencies=[Idempotent])
def update_status(
    order_id: uuid.UUID, body: OrderStatusUpdate, session: DbSession, _: MayRefund
) -> Order:
    orders.update_order_status(session, order_id=order_id, data=body)
    return orders.get_order(session, order_id)


@router.post(
    "/orders/{order_id}/refunds",
    response_model=RefundRead,
    status_code=201,
    responses={200: {"model": RefundRead, "description": "Seen before: the stored refund."}},
    summary="Refund an order, fully or partly (idempotent on external_id)",
)
def refund_order(
    order_id: uuid.UUID, body: RefundCreate, session: DbSession, _: MayRefund
) -> JSONResponse:
    refund, created = orders.refund_order(session, order_id=order_id, data=body)
    payload = RefundRead.model_validate(refund).model_dump(mode="json")
    return JSONResponse(payload, status_code=201 if created else 200)


@router.get("/products", response_model=ProductPage)
def list_products(
    session: ReadSession,
    _: Reader,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    items, nxt = orders.list_products(session, q=q, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": nxt}


@router.post("/products", response_model=ProductRead, status_code=201, dependencies=[Idempotent])
def create_product(
    body: ProductCreate, session: DbSession, settings: AppSettings, _: MayEditCatalogue
) -> Product:
    return orders.create_product(session, data=body, default_currency=settings.currency)


@router.get("/products/{product_id}", response_model=ProductRead)
def get_product(product_id: uuid.UUID, session: ReadSession, _: Reader) -> Product:
    return orders.get_product(session, product_id)


@router.patch("/products/{product_id}", response_model=ProductRead)
def update_product(
    product_id: uuid.UUID, body: ProductUpdate, session: DbSession, _: MayEditCatalogue
) -> Product:
    return orders.update_product(session, product_id=product_id, data=body)


@router.get("/locations", response_model=list[LocationRead])
def list_locations(session: ReadSession, _: Reader) -> list[Location]:
    return orders.list_locations(session)


@router.post("/locations", response_model=LocationRead, status_code=201, dependencies=[Idempotent])
def create_location(body: LocationCreate, session: DbSession, _: MayEditCatalogue) -> Location:
    return orders.create_location(session, data=body)
