"""Dashboard pages for orders: the list with search and filters, and the order page."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import ReadSession
from wafa.auth.models import Role
from wafa.orders import queries as order_queries
from wafa.orders.models import Channel, OrderStatus
from wafa.web.auth import Staff
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.pages import Pages
from wafa.web.routing import WebRoute
from wafa.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 30


@router.get("/orders", response_class=HTMLResponse)
def order_list(
    request: Request,
    session: ReadSession,
    user: Staff,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    customer: uuid.UUID | None = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> HTMLResponse:
    filters = order_queries.OrderFilters(
        q=q, status=status or None, channel=channel or None, customer_id=customer
    )
    rows, next_cursor = order_queries.search_orders(
        session, filters=filters, limit=PAGE_SIZE, cursor=cursor
    )
    return render(
        request,
        "orders/list.html",
        {
            "rows": rows,
            "next_cursor": next_cursor,
            "filters": filters,
            "cursor": cursor or "",
            "statuses": [s.value for s in OrderStatus],
            "channels": [c.value for c in Channel],
        },
    )


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(
    order_id: uuid.UUID, request: Request, session: ReadSession, user: Staff
) -> HTMLResponse:
    detail = order_queries.order_detail(session, order_id)
    return render(request, "orders/detail.html", {"detail": detail, "order": detail.order})


PAGES = Pages(
    routers=(router,),
    nav=(NavItem(N_("Orders"), "/orders", min_role=Role.cashier, icon="receipt", order=30),),
)
