"""The portal's home page: points, tier, stamp cards, badges and rewards.

The page most often opened, by a crowd at once: it is kept per customer
(``portal.pagecache``) and shown again while the versions read with the session check
(one statement) are those it was built at. The settings' version comes in that statement
too, so ``app.live_settings`` leaves this path alone.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from wafa.api.deps import ReadSession, public
from wafa.api.routing import request_slots, take_slot
from wafa.core.calendars import local_date
from wafa.core.time import utcnow
from wafa.portal import views
from wafa.portal.pagecache import Entry, PageCache
from wafa.portal.web.common import (
    COOKIE,
    LANGUAGES,
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


def _key(
    state: Any,
    *,
    member: int | None,
    catalogue: int | None,
    token: str | None,
    zone: Any,
    language: str,
    name: str | None,
    now: datetime,
) -> tuple[Hashable, ...]:
    """The kept page's key (``portal.pagecache``): the same for both paths."""
    return (member, catalogue, token, state.logo_version, local_date(now, zone), language, name)


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
    key = _key(
        request.app.state,
        member=found.member,
        catalogue=found.catalogue,
        token=found.settings_token,
        zone=settings.zone,
        language=language,
        name=customer.name,
        now=now,
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


def _route_path(scope: Scope) -> str:
    """The request's path below the app's mount point (``root_path``), as the router sees it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _cookies(scope: Scope) -> dict[str, str]:
    for name, value in scope["headers"]:
        if name == b"cookie":
            return cookie_parser(value.decode("latin-1"))
    return {}


def _kept_answer(request: Request, secret: str) -> Response | None:
    """The kept home page for the session ``secret`` exactly as ``home`` would answer it,
    or ``None`` (the full path decides: no session, a merged or erased customer, no
    account, settings this process has not loaded, no kept page or a stale one).

    One statement on a connection in autocommit (no BEGIN, no COMMIT or ROLLBACK round
    trip): the session check and the page's versions, as ``home`` reads them."""
    state = request.app.state
    cache: PageCache | None = getattr(state, "portal_pages", None)
    if cache is None:
        return None
    try:
        with _connect(state) as conn:
            found = views.signed_in_row(conn, secret)
    except (DBAPIError, SQLAlchemyTimeoutError):
        return None  # the full path answers (retrying the connection, or a 503)
    if found is None or not found.live or found.member is None or found.catalogue is None:
        return None
    if found.settings_token != state.settings_version:
        return None  # the full path reloads the settings first
    settings = state.settings
    language = found.language if found.language in LANGUAGES else language_of(request)
    now = utcnow()
    key = _key(
        state,
        member=found.member,
        catalogue=found.catalogue,
        token=found.settings_token,
        zone=settings.zone,
        language=language,
        name=found.name,
        now=now,
    )
    html = cache.get("home", found.customer_id, key, now)
    if html is None:
        return None
    return page_response(html.replace(cache.mark, csrf_for(request, secret)), language)


def _connect(state: Any) -> AbstractContextManager[Connection]:
    """A connection of the app's read sessions' bind for the fast path: its engine in
    autocommit on PostgreSQL (the pool shared; no BEGIN, and nothing to end), SQLite's as
    it is (its connections begin their transactions themselves); a bound connection (a
    test's) as it is."""
    bind = state.read_sessions.kw.get("bind")
    if isinstance(bind, Connection):
        return nullcontext(bind)
    kept: tuple[Engine, Engine] | None = getattr(state, "portal_kept_reads", None)
    if kept is None or kept[0] is not bind:
        reads = bind
        if bind.dialect.name == "postgresql":
            reads = bind.execution_options(isolation_level="AUTOCOMMIT")
        kept = state.portal_kept_reads = (bind, reads)
    return kept[1].connect()


#: Threads that look kept pages up at once. Each holds its thread for one short statement;
#: more threads than this only contend for the interpreter's lock (and a waiting request
#: waits in the event loop, without a thread). Its own limiter, not the request threads':
#: the fast path never takes a thread a route's next hop needs.
KEPT_THREADS = 4


class KeptHome:
    """ASGI middleware: ``GET /portal/`` answered from the kept page in one thread hop.

    For exactly ``GET /portal/`` (no query string) with the portal's cookie and no staff
    session cookie (``staff_cookie``: its middleware could add a ``Set-Cookie``), the
    session check and the page's versions are read in one statement and the kept page is
    sent with the headers ``home`` sends; anything else goes to the application unchanged. The request
    takes one of the process's request slots for its hop (on a thread of its own limiter,
    ``KEPT_THREADS``), as a route does
    (``wafa.api.routing``: a hop must never wait for a thread that a request blocked on
    its connection holds); a request that waits ``ADMISSION_TIMEOUT`` for a slot goes to
    the application, which answers 503. ``app.state.portal_fast_path = False`` turns it off
    (tests compare both paths).
    """

    def __init__(self, app: ASGIApp, *, staff_cookie: str) -> None:
        self.app = app
        self.staff_cookie = staff_cookie
        self.limiter: anyio.CapacityLimiter | None = None

    def _threads(self) -> anyio.CapacityLimiter:
        """At most ``KEPT_THREADS`` kept pages looked up at once (made in the event loop)."""
        if self.limiter is None:
            self.limiter = anyio.CapacityLimiter(KEPT_THREADS)
        return self.limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and _route_path(scope) == PATH
            and not scope["query_string"]
        ):
            cookies = _cookies(scope)
            secret = cookies.get(COOKIE)
            request = Request(scope)
            state = request.app.state
            fast = getattr(state, "portal_fast_path", False)
            if fast and secret and self.staff_cookie not in cookies and await take_slot(state):
                try:
                    answer = await anyio.to_thread.run_sync(
                        _kept_answer, request, secret, limiter=self._threads()
                    )
                finally:
                    request_slots(state).release()
                if answer is not None:
                    await answer(scope, receive, send)
                    return
        await self.app(scope, receive, send)
