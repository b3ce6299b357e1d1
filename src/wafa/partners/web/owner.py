"""Dashboard pages for partner businesses (the owner): the list, adding one, one partner's
page (its link made and copied, or revoked; codes issued; the monthly statement in the
business calendar with the months before and after)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.auth.models import Role, StaffUser
from wafa.auth.permissions import Permission
from wafa.core.calendars import add_months, from_ymd, ymd
from wafa.core.errors import Conflict
from wafa.core.settings import Settings
from wafa.loyalty import codes as human_codes
from wafa.partners import access, service
from wafa.partners.models import Partner
from wafa.partners.schemas import CodesIssue, PartnerCreate, PartnerUpdate
from wafa.web import forms
from wafa.web.auth import permitted, see_other, staff_label
from wafa.web.forms import FormData, FormReader, amount_text
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.pages import CustomerPanel
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)
MayPartners = Annotated[StaffUser, permitted(Permission.partners)]

NAV = NavItem(N_("Partners"), "/partners", min_role=Role.owner, icon="store", order=47)

_REFUSALS = (
    forms.Refusal(
        service.PartnerNameTaken, N_("A partner with this name exists already."), field="name"
    ),
)


@router.get("/partners", response_class=HTMLResponse)
def partner_list(
    request: Request, session: ReadSession, settings: AppSettings, user: MayPartners
) -> HTMLResponse:
    year, month = service.current_month(settings)
    rows = [
        (p, service.statement(session, settings=settings, partner_id=p.id, year=year, month=month))
        for p in service.list_partners(session)
    ]
    return render(request, "partners/list.html", {"rows": rows})


def _form(
    request: Request,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    editing: Partner | None = None,
) -> HTMLResponse:
    return render(
        request,
        "partners/new.html",
        {"values": values or {}, "errors": errors or {}, "editing": editing},
        status_code=status_code,
    )


def _read(form: FormData, settings: Settings) -> dict[str, Any]:
    """The partner form's fields, checked (``Invalid`` naming the field)."""
    f = FormReader(form, currency=settings.currency)
    values = {
        "name": f.text("name", required=True),
        "offer": f.text("offer", required=True, max_length=500),
        "offer_value": f.money("offer_value", default=0) or 0,
        "contact_name": f.text("contact_name"),
        "phone": f.text("phone", max_length=40),
        "email": f.text("email", max_length=320),
    }
    f.check()
    return values


@router.get("/partners/new", response_class=HTMLResponse)
def new_partner(request: Request, user: MayPartners) -> HTMLResponse:
    return _form(request)


@router.post("/partners/new", response_class=HTMLResponse)
def create_partner(
    request: Request, session: DbSession, settings: AppSettings, user: MayPartners, form: FormData
) -> Response:
    def save() -> Response:
        data = PartnerCreate.model_validate(_read(form, settings))
        partner = service.create_partner(session, settings=settings, data=data)
        flash(request, N_("Partner %(name)s added."), name=partner.name)
        return see_other(f"/partners/{partner.id}")

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _form(
            request, values=form, errors=errors, status_code=status
        ),
        refusals=_REFUSALS,
    )


@router.get("/partners/{partner_id}/edit", response_class=HTMLResponse)
def edit_partner(
    partner_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayPartners,
) -> HTMLResponse:
    partner = service.get_partner(session, partner_id)
    values = {
        "name": partner.name,
        "offer": partner.offer,
        "offer_value": amount_text(partner.offer_value_amount, partner.currency),
        "contact_name": partner.contact_name or "",
        "phone": partner.phone or "",
        "email": partner.email or "",
    }
    return _form(request, values=values, editing=partner)


@router.post("/partners/{partner_id}/edit", response_class=HTMLResponse)
def save_partner(
    partner_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayPartners,
    form: FormData,
) -> Response:
    partner = service.get_partner(session, partner_id)

    def save() -> Response:
        data = PartnerUpdate.model_validate(_read(form, settings))
        service.update_partner(session, partner_id=partner.id, data=data)
        flash(request, N_("Partner %(name)s saved."), name=partner.name)
        return see_other(f"/partners/{partner.id}")

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _form(
            request, values=form, errors=errors, status_code=status, editing=partner
        ),
        refusals=_REFUSALS,
    )


def _month(settings: Settings, year: int | None, month: int | None) -> tuple[int, int]:
    if year is None or month is None:
        return service.current_month(settings)
    return year, month


def _shift(settings: Settings, year: int, month: int, by: int) -> tuple[int, int]:
    moved = add_months(from_ymd(year, month, 1, settings.calendar), by, settings.calendar)
    y, m, _ = ymd(moved, settings.calendar)
    return y, m


def _detail(
    request: Request,
    session: Any,
    settings: Settings,
    partner: Partner,
    *,
    year: int,
    month: int,
    link: access.IssuedLink | None = None,
    issued: list[str] | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    statement = service.statement(
        session, settings=settings, partner_id=partner.id, year=year, month=month
    )
    return render(
        request,
        "partners/detail.html",
        {
            "partner": partner,
            "statement": statement,
            "month_day": from_ymd(year, month, 1, settings.calendar),
            "before": _shift(settings, year, month, -1),
            "after": _shift(settings, year, month, 1),
            "codes": [
                (human_codes.display(c.code), d, c)
                for c, d in service.list_codes(session, partner_id=partner.id, limit=30)
            ],
            "link": link,
            "issued": issued or [],
            "values": values or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/partners/{partner_id}", response_class=HTMLResponse)
def partner_page(
    partner_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayPartners,
    year: Annotated[int | None, Query(ge=1, le=9999)] = None,
    month: Annotated[int | None, Query(ge=1, le=12)] = None,
) -> HTMLResponse:
    partner = service.get_partner(session, partner_id)
    y, m = _month(settings, year, month)
    return _detail(request, session, settings, partner, year=y, month=m)


@router.post("/partners/{partner_id}/link", response_class=HTMLResponse)
def make_link(
    partner_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayPartners,
) -> HTMLResponse:
    """A new link, shown on the answer page to copy (links already given keep working)."""
    partner = service.get_partner(session, partner_id)
    link = access.issue_link(session, settings=settings, partner_id=partner.id)
    y, m = service.current_month(settings)
    return _detail(request, session, settings, partner, year=y, month=m, link=link)


@router.post("/partners/{partner_id}/revoke")
def revoke(
    partner_id: uuid.UUID, request: Request, session: DbSession, user: MayPartners
) -> Response:
    access.revoke_links(session, partner_id=partner_id)
    flash(
        request, N_("Every link given so far is cancelled and the partner's phones are signed out.")
    )
    return see_other(f"/partners/{partner_id}")


@router.post("/partners/{partner_id}/archive")
def archive(
    partner_id: uuid.UUID, request: Request, session: DbSession, user: MayPartners
) -> Response:
    partner = service.archive_partner(session, partner_id=partner_id)
    flash(request, N_("Partnership with %(name)s ended. Its history stays."), name=partner.name)
    return see_other("/partners")


def _field_for(loc: tuple[str | int, ...]) -> str:
    name = str(loc[-1]) if loc else forms.WHOLE_FORM
    return "percent" if name == "percent_bp" else name


@router.post("/partners/{partner_id}/codes", response_class=HTMLResponse)
def issue_codes(
    partner_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayPartners,
    form: FormData,
) -> Response:
    partner = service.get_partner(session, partner_id)
    y, m = service.current_month(settings)

    def save() -> Response:
        f = FormReader(form, currency=settings.currency)
        direction = f.choice("direction", ["offer", "reciprocal"])
        count = f.integer("count", required=True, minimum=1, maximum=500)
        days = f.integer("valid_days", required=True, minimum=1, maximum=730)
        kind = (
            f.choice("kind", ["discount_fixed", "discount_percent", "gift"])
            if direction == "reciprocal"
            else None
        )
        amount = f.money("amount") if kind == "discount_fixed" else None
        percent = (
            f.integer("percent", minimum=1, maximum=100) if kind == "discount_percent" else None
        )
        f.check()
        data = CodesIssue.model_validate(
            {
                "direction": direction or "offer",
                "count": count or 1,
                "valid_days": days or 90,
                "kind": kind,
                "amount": amount,
                "percent_bp": percent * 100 if percent else None,
            }
        )
        issued = service.issue_codes(
            session, settings=settings, partner_id=partner.id, data=data, by=staff_label(user)
        )
        return _detail(
            request,
            session,
            settings,
            partner,
            year=y,
            month=m,
            issued=[human_codes.display(c.code) for c in issued],
            status_code=201,
        )

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _detail(
            request,
            session,
            settings,
            partner,
            year=y,
            month=m,
            values=form,
            errors=errors,
            status_code=status,
        ),
        field_for=_field_for,
        refusals=(forms.Refusal(Conflict, N_("This partnership has ended.")),),
    )


def _referral_panel(session: Any, customer: Any) -> dict[str, Any] | None:
    found = service.referral_of(session, customer.id)
    if found is None:
        return None
    referral, name = found
    return {
        "partner_id": referral.partner_id,
        "name": name,
        "at": referral.at,
        "amount": referral.order_amount,
        "currency": referral.currency,
    }


#: On the customer profile: the partner whose code brought this customer, if one did.
PANEL = CustomerPanel(
    "partner",
    template="partners/_profile_panel.html",
    load=_referral_panel,
    column="side",
    order=60,
)
