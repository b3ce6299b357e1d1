"""Dashboard pages for customers: the list with search, the profile, edit, merge, export, erase.

Routes parse the form, check the permission (``Counter``: ``wafa.auth.permissions``), call one
service or query function, and render. Expected errors become pages in the user's
language (``wafa.web.errors``); form errors are shown next to their fields.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.core.errors import Invalid
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.models import ConsentChannel, Customer
from wafa.customers.schemas import Birthday, ConsentIn, CustomerCreate, CustomerUpdate
from wafa.web import forms, i18n
from wafa.web.auth import Counter, see_other, staff_label
from wafa.web.i18n import LANGUAGES, N_
from wafa.web.pages import Pages
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render, request_language

router = APIRouter(route_class=WebRoute, include_in_schema=False)


PAGE_SIZE = 25
Text = Annotated[str, Field(max_length=5000)]


class CustomerForm(BaseModel):
    """The customer form as posted: text fields; the schema validates them."""

    model_config = ConfigDict(extra="ignore")

    name: Text = ""
    email: Text = ""
    phone: Text = ""
    city: Text = ""
    address: Text = ""
    gender: Text = ""
    marital_status: Text = ""
    language: Text = ""
    tags: Text = ""
    notes: Text = ""
    birth_day: Text = ""
    birth_month: Text = ""
    birth_year: Text = ""
    birth_calendar: Text = ""
    email_consent: Text = ""
    sms_consent: Text = ""

    def values(self) -> dict[str, Any]:
        """The fields as the customer schemas take them (empty → ``None``)."""
        raw = self.model_dump()
        out: dict[str, Any] = {
            name: forms.text(raw, name)
            for name in (
                "name",
                "email",
                "phone",
                "city",
                "address",
                "gender",
                "marital_status",
                "language",
                "notes",
            )
        }
        out["tags"] = forms.tags(raw)
        out["birthday"] = self.birthday()
        return out

    def birthday(self) -> Birthday | None:
        """Day and month together (year optional), or no birthday at all."""
        raw = self.model_dump()
        day, month = forms.number(raw, "birth_day"), forms.number(raw, "birth_month")
        if day is None and month is None:
            return None
        if day is None or month is None:
            raise Invalid.field(("birthday",), "give both the day and the month")
        try:
            return Birthday.model_validate(
                {
                    "day": day,
                    "month": month,
                    "year": forms.number(raw, "birth_year"),
                    "calendar": forms.text(raw, "birth_calendar"),
                }
            )
        except ValidationError:
            raise Invalid.field(("birthday",), "not a day of the year") from None


def _form_from(customer: Customer, default_calendar: str) -> dict[str, str]:
    birthday = customer.birthday
    return {
        "name": customer.name or "",
        "email": customer.email or "",
        "phone": customer.phone or "",
        "city": customer.city or "",
        "address": customer.address or "",
        "gender": customer.gender or "",
        "marital_status": customer.marital_status or "",
        "language": customer.language or "",
        "tags": ", ".join(customer.tags or []),
        "notes": customer.notes or "",
        "birth_day": str(birthday.day) if birthday else "",
        "birth_month": str(birthday.month) if birthday else "",
        "birth_year": str(birthday.year) if birthday and birthday.year else "",
        "birth_calendar": birthday.calendar if birthday else default_calendar,
    }


def _form_page(
    request: Request,
    *,
    customer: Customer | None,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    conflict_id: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "customers/form.html",
        {
            "customer": customer,
            "values": values,
            "errors": errors or {},
            "conflict_id": conflict_id,
            "customer_languages": LANGUAGES,
            "calendars": [k.value for k in CalendarKind],
        },
        status_code=status_code,
    )


def _errors(request: Request, exc: Exception) -> tuple[dict[str, str], str | None, int]:
    language = request_language(request)
    if isinstance(exc, ValidationError):
        return forms.validation_errors(exc, language), None, 422
    if isinstance(exc, customers.CustomerConflict):
        field = str(exc.context.get("field") or "email")
        return (
            {field: i18n.gettext(language, N_("Another customer already has this."))},
            str(exc.context.get("customer_id") or "") or None,
            409,
        )
    assert isinstance(exc, Invalid)
    return forms.invalid_errors(exc, language), None, 422


# --------------------------------------------------------------------------- create


def _display_calendar(request: Request, settings: Settings) -> str:
    """The calendar dates are shown in for this user (Jalali for Persian, or a Jalali business)."""
    language = request_language(request)
    return str(i18n.DateContext(language, settings.zone, settings.calendar).display_calendar)


@router.get("/customers/new", response_class=HTMLResponse)
def new_customer(request: Request, settings: AppSettings, user: Counter) -> HTMLResponse:
    values = {"birth_calendar": _display_calendar(request, settings)}
    return _form_page(request, customer=None, values=values)


@router.post("/customers/new", response_class=HTMLResponse)
def create_customer(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Counter,
    form: Annotated[CustomerForm, Form()],
) -> Response:
    source = f"dashboard ({staff_label(user)})"[:120]
    try:
        consent = [
            ConsentIn(channel=channel, granted=True, source=source)
            for channel, ticked in (
                (ConsentChannel.email, form.email_consent),
                (ConsentChannel.sms, form.sms_consent),
            )
            if ticked
        ]
        data = CustomerCreate(**form.values(), source="dashboard", consent=consent)
        customer = customers.create_customer(
            session, data=data, region=settings.phone_region, calendar=settings.calendar
        )
    except (ValidationError, Invalid, customers.CustomerConflict) as exc:
        session.rollback()  # nothing half-written stays in the request's transaction
        errors, conflict, status = _errors(request, exc)
        values = form.model_dump()
        return _form_page(
            request,
            customer=None,
            values=values,
            errors=errors,
            conflict_id=conflict,
            status_code=status,
        )
    flash(request, N_("Customer added."))
    return see_other(f"/customers/{customer.id}")


# --------------------------------------------------------------------------- edit


@router.get("/customers/{customer_id}/edit", response_class=HTMLResponse)
def edit_customer(
    customer_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Counter,
) -> HTMLResponse:
    customer = customers.get_live_customer(session, customer_id)
    values = _form_from(customer, _display_calendar(request, settings))
    return _form_page(request, customer=customer, values=values)


@router.post("/customers/{customer_id}/edit", response_class=HTMLResponse)
def update_customer(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Counter,
    form: Annotated[CustomerForm, Form()],
) -> Response:
    try:
        data = CustomerUpdate(**form.values())
        customer = customers.update_customer(
            session,
            customer_id=customer_id,
            data=data,
            region=settings.phone_region,
            calendar=settings.calendar,
        )
    except (ValidationError, Invalid, customers.CustomerConflict) as exc:
        session.rollback()  # nothing half-written stays in the request's transaction
        errors, conflict, status = _errors(request, exc)
        return _form_page(
            request,
            customer=customers.get_customer(session, customer_id),
            values=form.model_dump(),
            errors=errors,
            conflict_id=conflict,
            status_code=status,
        )
    flash(request, N_("Changes saved."))
    return see_other(f"/customers/{customer.id}")


@router.post("/customers/{customer_id}/consent")
def record_consent(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    user: Counter,
    channel: Annotated[ConsentChannel, Form()],
    granted: Annotated[bool, Form()],
) -> Response:
    customer = customers.get_live_customer(session, customer_id)
    customers.record_consent(
        session,
        customer=customer,
        consent=ConsentIn(
            channel=channel, granted=granted, source=f"dashboard ({staff_label(user)})"[:120]
        ),
    )
    flash(request, N_("Consent updated.") if granted else N_("Consent withdrawn."))
    return see_other(f"/customers/{customer.id}#consent")


PAGES = Pages(routers=(router,))
