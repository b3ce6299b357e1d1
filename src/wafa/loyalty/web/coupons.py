"""Coupons: campaign codes made by staff, and every coupon the program issued, to find or void."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.core.errors import Conflict
from wafa.core.settings import CalendarKind, Settings
from wafa.core.text import ascii_number
from wafa.core.time import utcnow
from wafa.loyalty import codes, coupons, queries, views
from wafa.loyalty.models import RewardKind
from wafa.loyalty.schemas.io import CouponCreate
from wafa.loyalty.web.common import LABELS, context
from wafa.loyalty.web.rewards import benefit_fields, field_for
from wafa.web import forms
from wafa.web.auth import MayCreateCoupons, see_other, staff_label
from wafa.web.forms import FormData, FormReader, Refusal
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render, safe_next

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE = 50
CODE = N_("Use 3 to 32 letters A–Z and digits.")


def display(code: str) -> str:
    """A code grouped for reading aloud (``ABCD-EFGH``)."""
    return codes.display(code)


def read_coupon(
    form: Mapping[str, Any], *, currency: str, calendar: CalendarKind, zone: ZoneInfo
) -> CouponCreate:
    """A campaign code from the coupon form."""
    f = FormReader(form, currency=currency, calendar=calendar, zone=zone)
    name = f.text("name", required=True)
    kind = f.choice("kind", [k.value for k in RewardKind]) or RewardKind.discount_fixed.value
    code = f.text("code", max_length=40)
    if code is not None:
        code = re.sub(r"[\s\-_.]+", "", ascii_number(code)).upper()
        if not re.match(r"^[A-Z0-9]{3,32}$", code):
            f.error("code", CODE)
    values = benefit_fields(f, kind)
    unlimited = f.flag("unlimited")
    values.update(
        max_uses=None if unlimited else f.integer("max_uses", required=True, minimum=1),
        per_customer_limit=f.integer("per_customer_limit", minimum=1),
        min_order_amount=f.money("min_order_amount", default=0),
        valid_from=f.start("valid_from"),
        expires_at=f.until("expires_at"),
    )
    f.check()
    return CouponCreate.model_validate({"name": name, "kind": kind, "code": code, **values})


@router.get("/loyalty/coupons", response_class=HTMLResponse)
def coupons_page(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayCreateCoupons,
    source: Annotated[str | None, Query(max_length=20)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    source = source if source in LABELS["coupon_source"] else None
    status = status if status in LABELS["coupon_status"] else None
    items, nxt = coupons.list_coupons(
        session, source=source, status=status, limit=PAGE, cursor=cursor
    )
    return render(
        request,
        "loyalty/coupons.html",
        context(
            request,
            settings,
            items=items,
            next_cursor=nxt,
            cursor=cursor or "",
            source=source or "",
            status=status or "",
            names=views.names_for(session, [c.customer_id for c in items]),
            products=queries.product_names(session, [c.product_sku for c in items]),
            now=utcnow(),
            display=display,
        ),
    )


def _coupon_form(
    request: Request,
    settings: Settings,
    *,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "loyalty/coupon_form.html",
        context(request, settings, values=values, errors=errors or {}),
        status_code=status_code,
    )


@router.get("/loyalty/coupons/new", response_class=HTMLResponse)
def new_coupon(request: Request, settings: AppSettings, user: MayCreateCoupons) -> HTMLResponse:
    return _coupon_form(request, settings, values={"kind": "discount_fixed", "max_uses": "100"})


@router.post("/loyalty/coupons/new", response_class=HTMLResponse)
def create_coupon(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayCreateCoupons,
    form: FormData,
) -> Response:
    def save() -> Response:
        data = read_coupon(
            form,
            currency=settings.currency,
            calendar=forms.form_calendar(request, settings),
            zone=settings.zone,
        )
        coupon = coupons.create_campaign(
            session, settings=settings, data=data, by=staff_label(user)
        )
        flash(request, N_("Coupon %(code)s created."), code=display(coupon.code))
        return see_other("/loyalty/coupons")

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _coupon_form(
            request, settings, values=form, errors=errors, status_code=status
        ),
        field_for=field_for,
        refusals=[Refusal(Conflict, N_("This code is taken. Choose another."), field="code")],
    )


@router.post("/loyalty/coupons/{code}/void")
def void_coupon(
    code: str,
    request: Request,
    session: DbSession,
    user: MayCreateCoupons,
    form: FormData,
) -> Response:
    def void() -> Response:
        reason = FormReader(form).text("reason", max_length=500)
        coupon = coupons.void(session, code=code, reason=reason, by=staff_label(user))
        flash(
            request,
            N_("Coupon %(code)s is void; it can no longer be used."),
            code=display(coupon.code),
        )
        return see_other(safe_next(form.get("next"), "/loyalty/coupons"))

    return forms.submit(
        request,
        session,
        void,
        redraw=forms.back_with_message(request, "/loyalty/coupons"),
        refusals=[
            Refusal(
                Conflict,
                N_(
                    "This coupon came from a redemption: cancel the redemption on the customer's "
                    "page to give the points back."
                ),
            )
        ],
    )
