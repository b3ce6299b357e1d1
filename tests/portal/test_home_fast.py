"""The kept home page's fast path (``wafa.portal.web.home.KeptHome``).

It must answer exactly as the full path does (status, every header, every byte of the
body), and only when the full path would show the kept page; in every other case the
request must reach the application unchanged. Which path answered is told by the SQL sent:
the fast path sends one statement that builds no customer entity; the full path's session
check selects the whole customer row (``customers.search_name`` among its columns).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.portal.helpers import link_path, member, sign_in
from tests.sqlcount import counting
from wafa.app.factory import SESSION_COOKIE, create_app
from wafa.auth import business
from wafa.core.db import session_scope
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.customers.schemas import CustomerUpdate
from wafa.loyalty import service as loyalty
from wafa.people import service as people
from wafa.portal import access
from wafa.portal.web.common import COOKIE

NOON = datetime(2026, 3, 10, 12, tzinfo=UTC)


def _open(client: TestClient, url: str = "/portal/") -> tuple[Response, str]:
    """The answer and which path gave it ("fast", "full")."""
    with counting() as seen:
        answer = client.get(url, follow_redirects=False)
    queries = seen.queries
    full = any("customers.search_name" in q for q in queries)
    fast = (
        len(queries) == 1
        and "customers.language, customers.merged_into_id" in queries[0]
        and "portal_sessions" in queries[0]
    )
    assert not (fast and full)
    return answer, "fast" if fast else "full"


def _full(app: FastAPI, client: TestClient, url: str = "/portal/") -> Response:
    """The full path's answer (the fast path turned off for one request)."""
    app.state.portal_fast_path = False
    try:
        answer, path = _open(client, url)
    finally:
        app.state.portal_fast_path = True
    assert path == "full"
    return answer


def _kept(client: TestClient, session: Session, settings: Settings, email: str) -> Customer:
    customer = member(session, settings, points=1250, email=email)
    sign_in(client, session, settings, customer)
    first, path = _open(client)
    assert (first.status_code, path) == (200, "full")  # nothing kept yet: built
    return customer


class TestSameAnswer:
    def test_the_fast_answer_is_the_full_answer_byte_for_byte(
        self,
        app: FastAPI,
        client: TestClient,
        session: Session,
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        clock.set(NOON)
        _kept(client, session, settings, "same@example.com")
        fast, path = _open(client)
        assert path == "fast"
        full = _full(app, client)
        assert fast.status_code == full.status_code == 200
        # Every header, in order, and the body. Nothing differs per request: the CSRF token
        # is per session (an HMAC of its secret), and the page carries no nonce.
        assert fast.headers.raw == full.headers.raw
        assert fast.content == full.content
        for name in ("content-security-policy", "x-frame-options", "cache-control"):
            assert name in fast.headers
        assert fast.headers["cache-control"] == "no-store"
        assert fast.headers["referrer-policy"] == "no-referrer"
        assert "set-cookie" not in fast.headers

    def test_in_persian_too(
        self,
        app: FastAPI,
        client: TestClient,
        session: Session,
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        clock.set(NOON)
        customer = _kept(client, session, settings, "fa@example.com")
        customers.update_customer(
            session,
            customer_id=customer.id,
            data=CustomerUpdate(language="fa"),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        session.flush()
        built, path = _open(client)
        assert path == "full"  # the language is in the key
        fast, path = _open(client)
        assert path == "fast"
        full = _full(app, client)
        assert fast.headers.raw == full.headers.raw
        assert fast.content == full.content == built.content
        assert fast.headers["content-language"] == "fa"
        assert 'dir="rtl"' in fast.text

    def test_each_session_gets_its_own_form_token(
        self, app: FastAPI, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        with TestClient(app) as one, TestClient(app) as two:
            customer = _kept(one, session, settings, "both@example.com")
            sign_in(two, session, settings, customer)
            a, path_a = _open(one)
            b, path_b = _open(two)
            assert (path_a, path_b) == ("fast", "fast")
            token = 'name="csrf_token" value="'
            assert a.text.split(token, 1)[1][:40] != b.text.split(token, 1)[1][:40]
            assert b.content == _full(app, two).content


class TestFallsThrough:
    def test_no_cookie_an_unknown_cookie_and_a_staff_cookie(
        self,
        app: FastAPI,
        client: TestClient,
        session: Session,
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        clock.set(NOON)
        _kept(client, session, settings, "cookies@example.com")
        secret = client.cookies.get(COOKIE)
        assert secret is not None
        with TestClient(app) as other:
            answer, path = _open(other)
            assert (answer.status_code, path) == (303, "full")
            other.cookies.set(COOKIE, "x" * 40, path="/portal")
            answer, path = _open(other)
            assert (answer.status_code, path) == (303, "full")
            other.cookies.set(COOKIE, "x" * 101, path="/portal")
            answer, path = _open(other)
            assert (answer.status_code, path) == (303, "full")
        with TestClient(app) as staff:
            staff.cookies.set(COOKIE, secret, path="/portal")
            staff.cookies.set(SESSION_COOKIE, "anything")
            answer, path = _open(staff)
            assert (answer.status_code, path) == (200, "full")

    def test_another_method_a_query_string_another_path(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        _kept(client, session, settings, "method@example.com")
        with counting() as seen:
            head = client.head("/portal/")
        assert not any("customers.language, customers.merged_into_id" in q for q in seen.queries)
        assert head.status_code in (200, 405)
        answer, path = _open(client, "/portal/?lang=fa")
        assert (answer.status_code, path) == (200, "full")
        answer, path = _open(client, "/portal")
        assert path == "full"
        answer, path = _open(client, "/portal/rewards")
        assert (answer.status_code, path) == (200, "full")
        with counting() as seen:
            client.post("/portal/", headers={"Origin": "http://testserver"})
        assert not any("customers.language, customers.merged_into_id" in q for q in seen.queries)

    def test_expired_signed_out_and_revoked_sessions(
        self, app: FastAPI, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        with TestClient(app) as a, TestClient(app) as b, TestClient(app) as c:
            customer = _kept(a, session, settings, "ends@example.com")
            sign_in(b, session, settings, customer)
            assert _open(a)[1] == _open(b)[1] == "fast"
            access.end_session(session, a.cookies.get(COOKIE))
            session.flush()
            answer, path = _open(a)
            assert (answer.status_code, path) == (303, "full")
            assert _open(b)[1] == "fast"
            access.revoke_access(session, customer_id=customer.id)
            session.flush()
            answer, path = _open(b)
            assert (answer.status_code, path) == (303, "full")
            clock.advance(seconds=1)  # a link issued after the revocation
            sign_in(c, session, settings, customer)
            assert _open(c)[1] == "fast"
            clock.advance(seconds=access.SESSION_TTL.total_seconds() + 1)
            answer, path = _open(c)
            assert (answer.status_code, path) == (303, "full")

    def test_another_customer_never_gets_the_kept_page(
        self, app: FastAPI, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        with TestClient(app) as a, TestClient(app) as b:
            _kept(a, session, settings, "first@example.com")
            other = member(session, settings, points=77, email="second@example.com")
            sign_in(b, session, settings, other)
            answer, path = _open(b)
            assert (answer.status_code, path) == (200, "full")
            assert 'data-testid="available">77<' in answer.text
            again, path = _open(b)
            assert path == "fast"
            assert 'data-testid="available">77<' in again.text
            mine, path = _open(a)
            assert path == "fast"
            assert 'data-testid="available">1,250<' in mine.text or "1250" in mine.text

    def test_erased_and_merged_customers(
        self, app: FastAPI, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        with TestClient(app) as a, TestClient(app) as b:
            gone = _kept(a, session, settings, "gone@example.com")
            people.erase_customer(
                session,
                settings=settings,
                customer_id=gone.id,
                erased_by="test",
                hooks=app.state.people_hooks,
            )
            session.flush()
            answer, path = _open(a)
            assert (answer.status_code, path) == (303, "full")
            loser = _kept(b, session, settings, "loser@example.com")
            winner = member(session, settings, points=5, email="winner@example.com")
            people.merge_customers(
                session,
                winner_id=winner.id,
                loser_id=loser.id,
                merged_by="test",
            )
            session.flush()
            answer, path = _open(b)
            assert path == "full"  # the full path follows the merge

    def test_a_change_of_version_settings_or_name_rebuilds(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        customer = _kept(client, session, settings, "changes@example.com")
        loyalty.adjust(
            session,
            settings=settings,
            customer_id=customer.id,
            points=5,
            reason="x",
            by="t",
        )
        session.flush()
        answer, path = _open(client)
        assert path == "full"
        assert 'data-testid="available">1,255<' in answer.text or "1255" in answer.text
        assert _open(client)[1] == "fast"
        business.save(
            session,
            base=settings,
            values={"brand_colour": "#123456"},
            orders_exist=False,
        )
        session.flush()
        answer, path = _open(client)
        assert path == "full"
        assert "--brand: #123456" in answer.text
        assert _open(client)[1] == "fast"
        customers.update_customer(
            session,
            customer_id=customer.id,
            data=CustomerUpdate(name="Zed Other"),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        session.flush()
        answer, path = _open(client)
        assert path == "full"
        assert "Zed" in answer.text
        assert _open(client)[1] == "fast"
        clock.advance(days=1)  # the next local day
        assert _open(client)[1] == "full"

    def test_a_customer_without_an_account_is_always_built(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        customer = member(session, settings, email="noaccount@example.com")
        sign_in(client, session, settings, customer)
        for _ in range(2):
            answer, path = _open(client)
            assert (answer.status_code, path) == (200, "full")

    def test_a_dropped_kept_page_is_built_again(
        self,
        app: FastAPI,
        client: TestClient,
        session: Session,
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        clock.set(NOON)
        _kept(client, session, settings, "dropped@example.com")
        app.state.portal_pages._entries.clear()
        assert _open(client)[1] == "full"
        assert _open(client)[1] == "fast"


def test_on_the_real_engine_with_commits(committed_db: Settings) -> None:
    """The fast path on the app's own engine (in autocommit on PostgreSQL), data committed
    by another session as another process would: the same bytes, and a change is seen."""
    settings = committed_db
    with session_scope(settings) as s:
        customer = member(s, settings, points=40, email="real@example.com")
        path = link_path(s, settings, customer)
        cid = customer.id
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get(path, follow_redirects=False).status_code == 303
        assert _open(client)[1] == "full"
        fast, how = _open(client)
        assert how == "fast"
        full = _full(app, client)
        assert fast.headers.raw == full.headers.raw
        assert fast.content == full.content
        with session_scope(settings) as s:
            loyalty.adjust(s, settings=settings, customer_id=cid, points=2, reason="x", by="t")
        answer, how = _open(client)
        assert how == "full"
        assert 'data-testid="available">42<' in answer.text
        assert _open(client)[1] == "fast"
