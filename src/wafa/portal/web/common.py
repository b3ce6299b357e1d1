"""What every portal page shares: its route class, the signed-in customer, the layout.

The portal is apart from the staff dashboard: its own cookie (``wafa_portal``: a random
secret, ``HttpOnly``, ``SameSite=Lax``, ``Secure`` when the request came over HTTPS, path
``/portal``), its own CSRF token (an HMAC of that secret), its own layout and error pages.
No staff session is read or written here.

``PortalRoute`` is the dashboard's ``WebRoute`` (commit before the answer) with the
portal's checks in place of the staff session's CSRF: a signed-in form must carry the
token of its session; a form sent before signing in (ask for a link, type a code) must
come from this site (``Origin``). Errors become portal pages in the customer's language.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from wafa.api.routing import AutoCommitRoute, limit_body
from wafa.core.errors import Forbidden, Unauthorized, WafaError
from wafa.customers.models import Customer
from wafa.portal import access
from wafa.web import i18n
from wafa.web.routing import SAFE_METHODS, WebRoute
from wafa.web.security import same_origin, sent_form_token, visitor_csrf
from wafa.web.templating import SECURITY_HEADERS, templates_of, url_with

COOKIE = "wafa_portal"
COOKIE_PATH = "/portal"
LANGUAGES = ("en", "ar", "fa")
#: The bottom tabs whose pages exist.
TABS = frozenset({"home", "rewards", "history", "referral", "feedback", "events", "me"})


class SignInNeeded(Unauthorized):
    code = "portal-sign-in"


class PortalCsrf(Forbidden):
    code = "portal-csrf"


def cookie_secret(request: Request) -> str | None:
    """The session secret the browser sent, if any."""
    return request.cookies.get(COOKIE)


def csrf_for(request: Request, secret: str) -> str:
    """The CSRF token of a portal session: bound to its secret, keyed by the app's key."""
    return visitor_csrf(request, "portal", secret)


async def _check_form(request: Request) -> None:
    if not same_origin(request):
        raise PortalCsrf("this form did not come from this site")
    secret = cookie_secret(request)
    if secret is None:
        return  # a form sent before signing in: the origin check is all there is to bind
    sent = await sent_form_token(
        request
    )  # the body is kept: the form and the NUL check read it again
    if sent and not hmac.compare_digest(sent, csrf_for(request, secret)):
        raise PortalCsrf("this form expired; reload the page and try again")
    if not sent and not _anonymous(request.url.path):
        raise PortalCsrf("this form expired; reload the page and try again")


#: Forms that may be sent without a signed-in token (asking for a link, typing a code,
#: confirming erasure: the second link's token is the authority there).
ANONYMOUS_FORMS = frozenset({"/portal/login", "/portal/login/code"})


def _anonymous(path: str) -> bool:
    return path in ANONYMOUS_FORMS or path.startswith("/portal/erase/")


class PortalRoute(WebRoute):
    """Commit before the answer; the portal's own form checks and error pages."""

    # Not a staff page: the customer signs in to the portal itself (the role matrix test
    # reads this as the route's declaration, see wafa.api.deps.public).
    wafa_public = "the customer portal, behind its own sign-in"

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = AutoCommitRoute.get_route_handler(self)

        async def route(request: Request) -> Response:
            try:
                limit_body(request, self.body_limit)
                if request.method not in SAFE_METHODS:
                    await _check_form(request)
                return await handler(request)
            except SignInNeeded:
                target = request.url.path if request.method == "GET" else "/portal/"
                return RedirectResponse(url_with("/portal/login", next=target), status_code=303)
            except WafaError as exc:
                return error_page(request, status=exc.status, code=exc.code)
            except RequestValidationError:
                return error_page(request, status=422, code="invalid")

        return route


def language_of(request: Request, customer: Customer | None = None) -> str:
    """The page's language: the customer's, else ``?lang=``, else the business's."""
    for choice in (
        customer.language if customer is not None else None,
        request.query_params.get("lang"),
        str(request.app.state.settings.locale),
    ):
        if choice in LANGUAGES:
            return str(choice)
    return "en"


def current_customer(request: Request) -> Customer:
    """Dependency: the signed-in customer, or the sign-in page (then back here)."""
    cached: Customer | None = getattr(request.state, "portal_customer", None)
    if cached is not None:
        return cached
    # The request's own session when the route asked for one first (``session: ReadSession``
    # before ``me: Me``): one connection, one transaction for the whole page.
    own: Session | None = getattr(request.state, "session", None)
    if own is not None:
        customer = access.session_customer(own, cookie_secret(request))
    else:
        with request.app.state.read_sessions() as session:
            customer = access.session_customer(session, cookie_secret(request))
    if customer is None:
        raise SignInNeeded("sign in to open this page")
    request.state.portal_customer = customer
    request.state.language = language_of(request, customer)
    return customer


Me = Annotated[Customer, Depends(current_customer)]


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    customer: Customer | None = None,
    status: int = 200,
) -> HTMLResponse:
    """A portal page in the reader's language; never sets a staff cookie."""
    html, language = page_html(request, name, context, customer=customer)
    return page_response(html, language, status=status)


def page_html(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    customer: Customer | None = None,
    csrf_token: str | None = None,
) -> tuple[str, str]:
    """The page's HTML and its language (``csrf_token``: written instead of the session's,
    for a page kept to be shown again, see ``portal.pagecache``)."""
    customer = customer or getattr(request.state, "portal_customer", None)
    language = getattr(request.state, "language", None) or language_of(request, customer)
    secret = cookie_secret(request)
    if csrf_token is None:
        csrf_token = csrf_for(request, secret) if secret and customer is not None else ""
    values: dict[str, Any] = {
        "request": request,
        "user": None,
        "customer": customer,
        "csrf_token": csrf_token,
        "current_path": request.url.path,
        "flashes": [],
        "available_tabs": TABS,
        "tab": None,
        "logo_version": getattr(request.app.state, "logo_version", None),
        **(context or {}),
    }
    return templates_of(request).env(language).get_template(name).render(values), language


def page_response(html: str, language: str, *, status: int = 200) -> HTMLResponse:
    """A portal page's answer: the security headers, never stored by the browser."""
    headers = dict(SECURITY_HEADERS)
    headers["Content-Language"] = language
    headers["Cache-Control"] = "no-store"
    headers["Referrer-Policy"] = "no-referrer"  # sign-in tokens stay out of other sites' logs
    return HTMLResponse(html, status_code=status, headers=headers)


MESSAGES = {
    "portal-link": i18n.N_("This link does not work"),
    "too-many-requests": i18n.N_("Too many tries. Wait a few minutes and try again."),
    "not-found": i18n.N_("We couldn't find this page."),
    "invalid": i18n.N_("Please check what you typed and try again. Nothing was changed."),
    "portal-csrf": i18n.N_("This form expired. Go back, reload the page and try again."),
    "opened-at-counter": i18n.N_(
        "This page was opened at the counter. To download your data, ask for a link to your "
        "own email or phone on the My data section of your preferences."
    ),
}


def error_page(request: Request, *, status: int, code: str) -> HTMLResponse:
    """A short page naming what went wrong, with no customer data."""
    message = MESSAGES.get(code) or i18n.N_("This could not be done. Nothing was changed.")
    return render(
        request, "portal/error.html", {"message": message, "status": status}, status=status
    )


def set_session_cookie(request: Request, response: Response, secret: str) -> None:
    """The portal cookie: ``HttpOnly``, ``SameSite=Lax``, ``Secure`` over HTTPS."""
    response.set_cookie(
        COOKIE,
        secret,
        max_age=int(access.SESSION_TTL.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def is_https(request: Request) -> bool:
    """Whether the customer reached us over HTTPS (directly or through a proxy)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    return request.url.scheme == "https" or forwarded == "https"


def client_ip(request: Request) -> str:
    """The address rate limits count (the proxy's view when uvicorn trusts it)."""
    return request.client.host if request.client else "unknown"
