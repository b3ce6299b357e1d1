"""The portal's home page: points, tier, stamp cards, badges and rewards.

The page most often opened, by a crowd at once: it is kept per customer
(``portal.pagecache``) and shown again while the versions read with the session check
(one statement) are those it was built at. The settings' version comes in that statement
too, so ``app.live_settings`` leaves this path alone.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import ReadSession, public
from wafa.core.calendars import local_date
from wafa.core.time import utcnow
from wafa.portal import views
from wafa.portal.pagecache import Entry, PageCache
from wafa.portal.web.common import (
    PortalRoute,
    SignInNeeded,
    cookie_secret,
    csrf_for,
    language_of,
    page_html,
    page_response,
)

PATH = "/portal/"

router = APIRouter(
    route_class=PortalRoute,
    include_in_schema=False,
    dependencies=[public("the customer's own portal, behind the portal's own sign-in")],
)

_make_cache = threading.Lock()


def _pages(request: Request) -> PageCache:
    state = request.app.state
    cache: PageCache | None = getattr(state, "portal_pages", None)
    if cache is None:
        with _make_cache:
            cache = getattr(state, "portal_pages", None)
            if cache is None:
                cache = state.portal_pages = PageCache()
    return cache


@router.get(PATH)
def home(request: Request, session: ReadSession) -> HTMLResponse:
    """Greeting, balance with release and expiry dates, tier progress, rewards now and next."""
    secret = cookie_secret(request)
    found = views.signed_in(session, secret)
    if found is None or secret is None:
        raise SignInNeeded("sign in to open this page")
    customer = found.customer
    settings = request.app.state.settings_for(found.settings_token)
    language = language_of(request, customer)
    request.state.portal_customer = customer
    request.state.language = language
    now = utcnow()
    key = (
        found.member,
        found.catalogue,
        found.settings_token,
        request.app.state.logo_version,
        local_date(now, settings.zone),
        language,
        customer.name,
    )
    cache = _pages(request)
    # No account (or no catalogue row): nothing says when such a page changes; it is built
    # every time.
    keep = found.member is not None and found.catalogue is not None
    html = cache.get("home", customer.id, key, now) if keep else None
    if html is None:
        page = views.home(session, settings=settings, customer_id=customer.id, known=customer)
        html, _ = page_html(
            request,
            "portal/home.html",
            {"page": page, "tab": "home"},
            customer=customer,
            csrf_token=cache.mark,
        )
        if keep:
            until = views.home_valid_until(session, customer_id=customer.id, now=now)
            cache.put("home", customer.id, Entry(key=key, until=until, html=html))
    return page_response(html.replace(cache.mark, csrf_for(request, secret)), language)
