"""The unsubscribe link's page and its RFC 8058 one-click POST (``/u/<token>``).

No login and no cookie: the signed token is the customer's authority, so these routes
skip the dashboard's session CSRF check (there is no session to bind a token to; a
forged request would need the token itself). They still commit before answering.
A mail client's one-click POST (``List-Unsubscribe=One-Click``) answers ``200`` at once
and is idempotent; a GET never changes anything (link scanners open links).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse

from wafa.api.deps import AppSettings, DbSession
from wafa.api.routing import AutoCommitRoute
from wafa.core.i18n import N_
from wafa.messaging import optin, unsubscribe
from wafa.messaging.models import Topic
from wafa.web.auth import public
from wafa.web.routing import WebRoute
from wafa.web.templating import SECURITY_HEADERS, templates_of

TOPIC_LABELS = (
    (Topic.newsletters.value, N_("Newsletters")),
    (Topic.offers.value, N_("Offers and coupons")),
    (Topic.loyalty.value, N_("News about my points and rewards")),
    (Topic.surveys.value, N_("Surveys about my visits")),
)


class TokenRoute(WebRoute):
    """A public page authorised by the signed token in its URL: commit before the answer,
    no session CSRF (see the module)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return AutoCommitRoute.get_route_handler(self)


router = APIRouter(route_class=TokenRoute, include_in_schema=False)
UNSUBSCRIBE = public("a customer's signed unsubscribe link")


def _page(request: Request, language: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render without touching the session (no cookie is set)."""
    env = templates_of(request).env(language)
    values = {
        "request": request,
        "user": None,
        "nav": [],
        "csrf_token": "",
        "flashes": [],
        "current_path": request.url.path,
        "current_url": request.url.path,
        "topic_labels": TOPIC_LABELS,
        "invalid": False,
        "done": None,
        "already": False,
        "channel": "email",
        **context,
    }
    html = env.get_template("messaging/unsubscribe.html").render(values)
    headers = dict(SECURITY_HEADERS)
    headers["Content-Language"] = language
    headers["Cache-Control"] = "no-store"
    headers["Referrer-Policy"] = "no-referrer"  # the token stays out of other sites' logs
    return HTMLResponse(html, status_code=status, headers=headers)


@router.get("/u/{token}", dependencies=[UNSUBSCRIBE])
def unsubscribe_page(
    token: str, request: Request, session: DbSession, settings: AppSettings
) -> HTMLResponse:
    """Confirm, or choose topics; changes nothing by itself."""
    target = unsubscribe.read_token(session, settings=settings, token=token)
    if target is None:
        return _page(request, str(settings.locale), 404, invalid=True)
    return _page(
        request,
        target.locale,
        channel=target.channel,
        already=unsubscribe.is_unsubscribed(session, target),
        topics=unsubscribe.topic_state(session, target),
    )


@router.post("/u/{token}", dependencies=[UNSUBSCRIBE])
def unsubscribe_post(
    token: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    one_click: Annotated[str | None, Form(alias="List-Unsubscribe")] = None,
    action: Annotated[str | None, Form()] = None,
    keep: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """RFC 8058 one-click (``List-Unsubscribe=One-Click``) or the page's own forms."""
    target = unsubscribe.read_token(session, settings=settings, token=token)
    if target is None:
        return _page(request, str(settings.locale), 404, invalid=True)
    if one_click == "One-Click":
        unsubscribe.unsubscribe_channel(session, target=target, source=unsubscribe.ONE_CLICK_SOURCE)
        return _page(request, target.locale, done="unsubscribed", channel=target.channel)
    if action == "topics":
        refused = {t.value for t in Topic} - set(keep or [])
        unsubscribe.choose_topics(session, target=target, refused=refused)
        return _page(request, target.locale, done="topics", channel=target.channel)
    unsubscribe.unsubscribe_channel(session, target=target, source=unsubscribe.PAGE_SOURCE)
    return _page(request, target.locale, done="unsubscribed", channel=target.channel)


@router.get("/u/confirm/{token}", dependencies=[UNSUBSCRIBE])
def confirm_page(token: str, request: Request, settings: AppSettings) -> HTMLResponse:
    """The double opt-in link: a button (a GET confirms nothing; scanners open links)."""
    return _confirm_page(request, str(settings.locale), token=token)


@router.post("/u/confirm/{token}", dependencies=[UNSUBSCRIBE])
def confirm_post(
    token: str, request: Request, session: DbSession, settings: AppSettings
) -> HTMLResponse:
    """Record the confirmation as consent with its source and time."""
    customer = optin.confirm(session, settings=settings, token=token)
    if customer is None:
        return _page(request, str(settings.locale), 404, invalid=True)
    language = (
        customer.language if customer.language in ("en", "ar", "fa") else str(settings.locale)
    )
    return _confirm_page(request, language, token=token, confirmed=True)


def _confirm_page(request: Request, language: str, **context: Any) -> HTMLResponse:
    env = templates_of(request).env(language)
    html = env.get_template("messaging/confirm.html").render(
        {
            "request": request,
            "user": None,
            "nav": [],
            "csrf_token": "",
            "flashes": [],
            "current_path": request.url.path,
            "current_url": request.url.path,
            "confirmed": False,
            **context,
        }
    )
    return HTMLResponse(
        html,
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
