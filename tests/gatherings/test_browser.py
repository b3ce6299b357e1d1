"""Members-only events in Chromium on a 390-pixel phone, in Persian: the owner creates an
event (its day typed in the Jalali calendar, Persian digits), invites a segment and reads
the event's page; the customer opens their portal's Events tab and says yes, then opens
the invitation's link page. Every page right to left, nothing wider than the screen, and
axe-core finds nothing serious."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.gatherings.helpers import city_segment, gathering
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.calendars import local_date, ymd
from wafa.core.db import session_factory, session_scope
from wafa.core.settings import CalendarKind, Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerCreate
from wafa.gatherings import jobs, links, service
from wafa.gatherings.models import Gathering
from wafa.messaging.segments.models import Segment
from wafa.portal import access

pytestmark = [pytest.mark.browser, needs_chromium]

OWNER, PASSWORD = "owner@example.com", "browser-test-password"
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def _seed(settings: Settings) -> str:
    with session_scope(settings) as session:
        auth.create_user(session, email=OWNER, password=PASSWORD, role=Role.owner, name="Owner")
        city_segment(session, settings)
        sara = customers.create_customer(
            session,
            data=CustomerCreate(
                name="سارا کریمی", email="sara@example.com", city="Shiraz", language="fa"
            ),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        return str(sara.id)


def _fits(page: object) -> None:
    overflow = page.evaluate(  # type: ignore[attr-defined]
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, overflow
    # A button clipped by its card does not widen the page: check each one's box too.
    clipped = page.evaluate(  # type: ignore[attr-defined]
        """[...document.querySelectorAll('main button, main .btn')]
            .filter(b => { const r = b.getBoundingClientRect();
                           return r.width > 0 && (r.left < -1 || r.right > innerWidth + 1); })
            .map(b => b.textContent.trim())"""
    )
    assert clipped == [], clipped


def test_an_event_made_in_persian_and_a_seat_taken_on_the_portal(committed_db: Settings) -> None:
    from playwright.sync_api import expect

    sara = _seed(committed_db)
    day = local_date(utcnow(), committed_db.zone) + timedelta(days=10)
    y, m, d = ymd(day, CalendarKind.jalali)
    jalali = f"{y:04d}-{m:02d}-{d:02d}".translate(PERSIAN_DIGITS)
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, base, OWNER, PASSWORD)
        page.goto(f"{base}/events")
        page.click(".lang-menu summary")
        page.click('.lang-menu button[value="fa"]')
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        assert_accessible(page, "events, none yet (fa, 390 px)")
        _fits(page)

        page.goto(f"{base}/events/new")
        assert_accessible(page, "a new event (fa, 390 px)")
        _fits(page)
        page.fill("#name_en", "Tasting evening")
        page.fill("#name_fa", "شب چشیدن قهوه")
        page.fill("#day", jalali)
        page.fill("#starts_at", "۱۹:۰۰")
        page.fill("#ends_at", "۲۱:۰۰")
        page.fill("#place", "فروشگاه، خیابان زند")
        page.fill("#capacity", "۲۰")
        page.fill("#points", "۵۰")
        page.select_option("#segment_id", label="In Shiraz")
        page.click("form button[type=submit].btn-primary")
        expect(page.locator("h1")).to_contain_text("شب چشیدن قهوه")
        assert_accessible(page, "the event's page (fa, 390 px)")
        _fits(page)
        page.click("form[action$='/invite'] button[type=submit]")
        expect(page.locator("main")).to_contain_text("دعوت‌نامه‌ها در راه‌اند")

        # The worker's invite job (run here, as the worker runs it).
        assert jobs.invite(session_factory(committed_db), committed_db)["invited"] == 1
        with session_scope(committed_db) as session:
            g = session.scalar(select(Gathering))
            assert g is not None and local_date(g.starts_at, committed_db.zone) == day
            link = access.issue_link(
                session, settings=committed_db, customer_id=uuid.UUID(sara), page="/portal/events"
            ).url
            rsvp_url = links.rsvp_url(
                session,
                settings=committed_db,
                gathering=g,
                customer_id=uuid.UUID(sara),
                answer="no",
            )
            g_id = g.id

        customer = browser.new_page(viewport={"width": 390, "height": 844})
        customer.on("pageerror", lambda exc: errors.append(str(exc)))
        parts = urlparse(link)
        customer.goto(f"{base}{parts.path}?{parts.query}")
        expect(customer.locator("html")).to_have_attribute("dir", "rtl")
        expect(customer.locator("main")).to_contain_text("شب چشیدن قهوه")
        assert_accessible(customer, "the portal's events (fa, 390 px)")
        _fits(customer)
        customer.click("button:has-text('می‌آیم')")
        expect(customer.locator("main")).to_contain_text("جای شما محفوظ است")
        assert_accessible(customer, "a seat taken on the portal (fa, 390 px)")
        _fits(customer)

        customer.goto(base + urlparse(rsvp_url).path)
        expect(customer.locator("main")).to_contain_text("شما می‌آیید")
        assert_accessible(customer, "the invitation's link page (fa, 390 px)")
        _fits(customer)

        page.goto(f"{base}/events/{g_id}")
        expect(page.locator("main")).to_contain_text("سارا کریمی")
        assert_accessible(page, "the event with its answer (fa, 390 px)")
        _fits(page)
        assert errors == [], errors

    with session_scope(committed_db) as session:
        rsvp = service.find_rsvp(session, gathering_id=g_id, customer_id=uuid.UUID(sara))
        assert rsvp.status == "yes" and rsvp.source == "portal"


def test_staff_answer_for_customers_in_persian(committed_db: Settings) -> None:
    """The owner answers for two customers on a phone: yes on the event's page (a seat),
    then the waiting list from the other's profile card (the event is full)."""
    from playwright.sync_api import expect

    sara = _seed(committed_db)
    with session_scope(committed_db) as session:
        reza = customers.create_customer(
            session,
            data=CustomerCreate(name="رضا احمدی", email="reza@example.com", city="Shiraz"),
            region="US",
            calendar=CalendarKind.gregorian,
        ).id
        segment = session.scalar(select(Segment).where(Segment.name == "In Shiraz"))
        g = gathering(session, committed_db, segment=segment, capacity=1)
        service.send_invitations(session, gathering_id=g.id)
        service.invite_batch(session, settings=committed_db, gathering_id=g.id)
        g_id = g.id
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, base, OWNER, PASSWORD)
        page.goto(f"{base}/events/{g_id}")
        page.click(".lang-menu summary")
        page.click('.lang-menu button[value="fa"]')
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        assert_accessible(page, "the event with the staff's answer forms (fa, 390 px)")
        _fits(page)
        page.select_option(f"#answer-{g_id}-{sara}", "yes")
        page.click(f"form:has(#answer-{g_id}-{sara}) button[type=submit]")
        expect(page.locator("main")).to_contain_text("ثبت شد: می‌آید")
        assert_accessible(page, "an answer saved by staff (fa, 390 px)")
        _fits(page)

        page.goto(f"{base}/customers/{reza}")
        expect(page.locator("#events-panel")).to_contain_text("شب چشیدن قهوه")
        page.select_option(f"#answer-{g_id}-{reza}", "waiting")
        page.click(f"form:has(#answer-{g_id}-{reza}) button[type=submit]")
        expect(page.locator("main")).to_contain_text("ثبت شد: در فهرست انتظار، نفر ۱")
        assert_accessible(page, "a customer put on the waiting list (fa, 390 px)")
        _fits(page)
        assert errors == [], errors

    with session_scope(committed_db) as session:
        seated = service.find_rsvp(session, gathering_id=g_id, customer_id=uuid.UUID(sara))
        waits = service.find_rsvp(session, gathering_id=g_id, customer_id=reza)
        assert (seated.status, seated.source) == ("yes", "staff")
        assert (waits.status, waits.waiting_seq) == ("waiting", 1)
