"""The partner's own page, ``/partner/``: a phone at the partner's counter, reached by the
partner's signed link. The cashier types (or scans, with a scanner that types) a code,
sees whether it is good and what for, then marks it used.

Apart from the staff dashboard, like the customer portal: its own cookie (``wafa_partner``:
a random secret, ``HttpOnly``, ``SameSite=Lax``, ``Secure`` over HTTPS, path ``/partner``),
its own CSRF token (an HMAC of that secret), same-origin forms, its own error pages. No
customer data is shown: a code, its offer, its dates.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse

from wafa.api.deps import AppSettings, DbSession
from wafa.api.routing import AutoCommitRoute, limit_body
from wafa.core.errors import Forbidden, Unauthorized, WafaError
from wafa.partners import access, service
from wafa.partners.models import Partner
from wafa.web import i18n
from wafa.web.routing import SAFE_METHODS, WebRoute
from wafa.web.security import same_origin, sent_form_token, visitor_csrf
from wafa.web.templating import SECURITY_HEADERS, templates_of

COOKIE = "wafa_partner"
COOKIE_PATH = "/partner"
LANGUAGES = ("en", "ar", "fa")


class SignInNeeded(Unauthorized):
    code = "partner-sign-in"


class PartnerCsrf(Forbidden):
    code = "partner-csrf"


def _secret(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def csrf_for(request: Request, secret: str) -> str:
    """The CSRF token of a partner session: bound to its secret, keyed by the app's key."""
    return visitor_csrf(request, "partner", secret)


async def _check_form(request: Request) -> None:
    if not same_origin(request):
        raise PartnerCsrf("this form did not come from this site")
    secret = _secret(request)
    sent = await sent_form_token(request) if secret else None
    if not secret or not sent or not hmac.compare_digest(sent, csrf_for(request, secret)):
        raise PartnerCsrf("this form expired; reload the page and try again")


class PartnerRoute(WebRoute):
    """Commit before the answer; the partner page's own form checks and error pages."""

    # Not a staff page: the partner opens it with its own signed link (the role matrix
    # test reads this as the route's declaration, see wafa.api.deps.public).
    wafa_public = "a partner's counter page, behind the partner's signed link"

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = AutoCommitRoute.get_route_handler(self)

        async def route(request: Request) -> Response:
            try:
                limit_body(request, self.body_limit)
                if request.method not in SAFE_METHODS:
                    await _check_form(request)
                return await handler(request)
            except SignInNeeded:
                return error_page(request, status=401, code="partner-sign-in")
            except WafaError as exc:
                return error_page(request, status=exc.status, code=exc.code)
            except RequestValidationError:
                return error_page(request, status=422, code="invalid")

        return route


def language_of(request: Request) -> str:
    """``?lang=``, else the business's language."""
    for choice in (request.query_params.get("lang"), str(request.app.state.settings.locale)):
        if choice in LANGUAGES:
            return str(choice)
    return "en"


def current_partner(request: Request) -> Partner:
    """Dependency: the partner of this phone's session, or a page saying to open the link."""
    with request.app.state.read_sessions() as session:
        partner = access.session_partner(session, _secret(request))
    if partner is None:
        raise SignInNeeded("open your link to use this page")
    request.state.partner = partner
    return partner


Me = Annotated[Partner, Depends(current_partner)]


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """A partner page in the reader's language; never sets a staff cookie."""
    language = language_of(request)
    partner = getattr(request.state, "partner", None)
    secret = _secret(request)
    values: dict[str, Any] = {
        "request": request,
        "user": None,
        "partner": partner,
        "csrf_token": csrf_for(request, secret) if secret and partner is not None else "",
        "current_path": request.url.path,
        "flashes": [],
        **(context or {}),
    }
    html = templates_of(request).env(language).get_template(name).render(values)
    headers = dict(SECURITY_HEADERS)
    headers["Content-Language"] = language
    headers["Cache-Control"] = "no-store"
    headers["Referrer-Policy"] = "no-referrer"  # the link's token stays out of other logs
    return HTMLResponse(html, status_code=status, headers=headers)


MESSAGES = {
    "partner-link": i18n.N_("This link does not work"),
    "partner-sign-in": i18n.N_("Open this page with the link the shop sent you."),
    "partner-csrf": i18n.N_("This form expired. Go back, reload the page and try again."),
    "invalid": i18n.N_("Please check what you typed and try again. Nothing was changed."),
    "not-found": i18n.N_("We couldn't find this page."),
}


def error_page(request: Request, *, status: int, code: str) -> HTMLResponse:
    """A short page naming what went wrong."""
    message = MESSAGES.get(code) or i18n.N_("This could not be done. Nothing was changed.")
    return render(request, "partners/error.html", {"message": message}, status=status)


def _is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    return request.url.scheme == "https" or forwarded == "https"


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


router = APIRouter(route_class=PartnerRoute, include_in_schema=False)


@router.get("/partner/login/{token}")
def open_link(token: str, request: Request, session: DbSession, settings: AppSettings) -> Response:
    """The partner's link: a session on this phone, then the page."""
    try:
        _, secret = access.sign_in(session, settings=settings, token=token)
    except access.LinkRefused as refused:
        reason = refused.context.get("reason", "invalid")
        return render(
            request, "partners/link_refused.html", {"reason": reason}, status=refused.status
        )
    lang = request.query_params.get("lang")
    response = RedirectResponse(
        "/partner/" + (f"?lang={lang}" if lang in LANGUAGES else ""), status_code=303
    )
    response.set_cookie(
        COOKIE,
        secret,
        max_age=int(access.SESSION_TTL.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=_is_https(request),
    )
    return response


def _page(request: Request, session: Any, partner: Partner, **context: Any) -> HTMLResponse:
    status = context.pop("status", 200)
    values = {
        "result": None,
        "typed": "",
        "recent": service.recent_uses(session, partner_id=partner.id, limit=5),
        **context,
    }
    return render(request, "partners/counter.html", values, status=status)


@router.get("/partner/", response_class=HTMLResponse)
def counter_page(request: Request, session: DbSession, partner: Me) -> HTMLResponse:
    return _page(request, session, partner)


CodeField = Annotated[str, Form(max_length=64)]


@router.post("/partner/check", response_class=HTMLResponse)
def check(request: Request, session: DbSession, partner: Me, code: CodeField = "") -> Response:
    """Is this code good here, and what for? Misses count against the rate limit."""
    result = service.check_code(session, partner_id=partner.id, code=code, ip=_ip(request))
    status = 429 if result.status == "limited" else 200
    return _page(request, session, partner, result=result, typed=code, status=status)


@router.post("/partner/use", response_class=HTMLResponse)
def use(request: Request, session: DbSession, partner: Me, code: CodeField = "") -> Response:
    """Mark the code used: once, whatever the taps."""
    result = service.use_code(session, partner_id=partner.id, code=code, ip=_ip(request))
    status = 429 if result.status == "limited" else 200
    return _page(request, session, partner, result=result, typed="", status=status)


@router.post("/partner/logout")
def logout(request: Request, session: DbSession, partner: Me) -> Response:
    access.end_session(session, _secret(request))
    response = render(request, "partners/signed_out.html")
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response
