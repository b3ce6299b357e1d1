"""/api/v1/customers: create, read, update, search, consent (merge, export, erase: ``wafa.people``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from wafa.api.deps import AppSettings, DbSession, Idempotent, Reader, ReadSession, Writer
from wafa.api.routing import AutoCommitRoute
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.customers.schemas import (
    ConsentIn,
    CustomerCreate,
    CustomerPage,
    CustomerRead,
    CustomerUpdate,
)

router = APIRouter(tags=["customers"], route_class=AutoCommitRoute)

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]


@router.get("/customers", response_model=CustomerPage)
def list_customers(
    session: ReadSession,
    _: Reader,
    q: Annotated[str | None, Query(max_length=200, description="Name, email or phone.")] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    items, next_cursor = customers.search_customers(session, q=q, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.post("/customers", status_code=201, response_model=CustomerRead, dependencies=[Idempotent])
def create_customer(
    body: CustomerCreate, session: DbSession, settings: AppSettings, _: Writer
) -> Customer:
    return customers.create_customer(
        session, data=body, region=settings.phone_region, calendar=settings.calendar
    )


@router.get("/customers/{customer_id}", response_model=CustomerRead)
def get_customer(customer_id: uuid.UUID, session: ReadSession, _: Reader) -> Customer:
    return customers.get_customer(session, customer_id)


@router.patch("/customers/{customer_id}", response_model=CustomerRead)
def update_customer(
    customer_id: uuid.UUID,
    body: CustomerUpdate,
    session: DbSession,
    settings: AppSettings,
    _: Writer,
) -> Customer:
    return customers.update_customer(
        session,
        customer_id=customer_id,
        data=body,
        region=settings.phone_region,
        calendar=settings.calendar,
    )


@router.post("/customers/{customer_id}/consent", response_model=CustomerRead)
def record_consent(
    customer_id: uuid.UUID, body: ConsentIn, session: DbSession, _: Writer
) -> Customer:
    customer = customers.get_live_customer(session, customer_id)
    customers.record_consent(session, customer=customer, consent=body)
    return customer
