"""The Settings page (owner): the shop's name, logo, colour, currency, timezone, language,
calendar and phone region, kept in the database (``wafa.auth.business``).

A ``WAFA_*`` environment variable wins over the page; such a field is shown as set by the
environment and cannot be changed here. Saving applies the settings to this server at once
(the dashboard's name, logo and colour, money, dates); other server processes apply them at
their next request (``wafa.app.live_settings``); the background worker reads them when it
starts.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import DbSession, ReadSession, public
from wafa.auth import business
from wafa.core.settings import Settings
from wafa.orders import queries as order_queries
from wafa.web.auth import MaySettings, see_other
from wafa.web.forms import FormData, Refusal, submit
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import Templates, flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

CURRENCY_LOCKED = N_(
    "The store has orders in %(currency)s, so its currency cannot change: every amount, "
    "reward and report is kept in %(currency)s. Start a new store to use %(asked)s."
)


def apply(request: Request, settings: Settings) -> None:
    """Put ``settings`` in force on this server: routes and templates read them from now on.

    The next request reads them again from the database (``settings_version`` set to
    ``""``, never a saved token): what it shows is what was committed.
    """
    request.app.state.settings = settings
    request.app.state.templates = Templates(settings)
    request.app.state.settings_version = ""


def _base(request: Request) -> Settings:
    base: Settings = request.app.state.base_settings
    return base


def _page(
    request: Request,
    *,
    orders_exist: bool,
    has_logo: bool,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    current: Settings = request.app.state.settings
    shown = {name: str(getattr(current, name) or "") for name in business.FIELDS}
    shown.update(values or {})
    return render(
        request,
        "people/settings.html",
        {
            "values": shown,
            "errors": errors or {},
            "pinned": business.from_environment(_base(request)),
            "orders_exist": orders_exist,
            "has_logo": has_logo,
        },
        status_code=status,
    )


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, session: ReadSession, user: MaySettings) -> HTMLResponse:
    return _page(
        request,
        orders_exist=order_queries.has_orders(session),
        has_logo=business.logo(session) is not None,
    )


@router.post("/settings")
def save_settings(
    request: Request, session: DbSession, user: MaySettings, form: FormData
) -> Response:
    values = {name: form.get(name, "") for name in business.FIELDS if name in form}
    orders_exist = order_queries.has_orders(session)

    def work() -> Response:
        saved = business.save(
            session, base=_base(request), values=values, orders_exist=orders_exist
        )
        apply(request, saved)
        flash(request, N_("Settings saved."))
        return see_other("/settings")

    def redraw(errors: dict[str, str], status: int) -> Response:
        return _page(
            request,
            orders_exist=orders_exist,
            has_logo=business.logo(session) is not None,
            values=values,
            errors=errors,
            status=status,
        )

    return submit(
        request,
        session,
        work,
        redraw=redraw,
        refusals=(
            Refusal(
                business.CurrencyLocked,
                CURRENCY_LOCKED,
                field="currency",
                params=lambda exc: exc.context,
            ),
        ),
    )


@router.post("/settings/logo")
def save_logo(
    request: Request,
    session: DbSession,
    user: MaySettings,
    logo: Annotated[UploadFile | None, File()] = None,
    remove: Annotated[str | None, File()] = None,
) -> Response:
    def work() -> Response:
        if remove:
            business.remove_logo(session)
            flash(request, N_("The logo was removed."))
        else:
            data = logo.file.read(business.MAX_LOGO_BYTES + 1) if logo is not None else b""
            business.save_logo(session, data=data)
            flash(request, N_("The logo was saved."))
        request.app.state.logo_version = _version(session)
        request.app.state.settings_version = ""  # read again once committed (see apply)
        return see_other("/settings")

    def redraw(errors: dict[str, str], status: int) -> Response:
        return _page(
            request,
            orders_exist=order_queries.has_orders(session),
            has_logo=business.logo(session) is not None,
            errors=errors,
            status=status,
        )

    return submit(request, session, work, redraw=redraw)


def _version(session: Session) -> str | None:
    found = business.logo(session)
    return found.version if found else None


@router.get(
    "/branding/logo", dependencies=[public("the shop's logo, also on the login page and receipts")]
)
def logo_image(session: ReadSession) -> Response:
    """The shop's logo (public: the login page shows it too)."""
    found = business.logo(session)
    if found is None:
        return Response(status_code=404)
    return Response(
        found.data,
        media_type=found.content_type,
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )
