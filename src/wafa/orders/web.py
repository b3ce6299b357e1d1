"""Dashboard pages for orders: the list with search and filters, and the order page."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import AppSettings, ReadSession
from wafa.auth.models import Role
from wafa.auth.permissions import Permission
from wafa.core.time import utcnow
from wafa.orders import delivery
from wafa.orders import queries as order_queries
from wafa.orders.models import Channel, OrderStatus
from wafa.web.auth import Staff, may
from wafa.web.i18n import N_, DateContext
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


def _uuid_or_none(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


@router.get("/orders/late", response_class=HTMLResponse)
def late_orders(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Staff,
    which: Annotated[str | None, Query(max_length=32)] = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    location: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """Orders that broke their promise, and the on-time rates by channel, location, month.

    The filter form sends empty values for "all": they, and values that name nothing
    (an old bookmark), mean no filter.
    """
    now = utcnow()
    filters = delivery.LateFilters(
        which=delivery.Lateness(which) if which in set(delivery.Lateness) else None,
        channel=channel if channel in {c.value for c in Channel} else None,
        location_id=_uuid_or_none(location),
    )
    rows, total = delivery.late_orders(
        session, now=now, filters=filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    calendar = DateContext(str(request.state.language), settings.zone, settings.calendar)
    by = {
        name: delivery.rates(
            session,
            by=name,
            now=now,
            timezone=settings.timezone,
            calendar=calendar.display_calendar,
            since=now - timedelta(days=366) if name == "month" else None,
        )
        for name in ("channel", "location", "month")
    }
    return render(
        request,
        "orders/late.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "filters": filters,
            "channels": [c.value for c in Channel],
            "locations": delivery.location_choices(session),
            "rates": by,
            "kinds": list(delivery.Lateness),
            # The Delay notice flow tells an overdue order's customer; its page switches
            # and edits it (for those who may run messages).
            "delay_flow": may(user, Permission.message),
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
    nav=(
        NavItem(N_("Orders"), "/orders", min_role=Role.cashier, icon="receipt", order=30),
        NavItem(N_("Late orders"), "/orders/late", min_role=Role.cashier, icon="clock", order=31),
    ),
)
