"""The events pages: the owner's (create in English and in Persian with a Jalali day, the
event's page, invitations, cancel, check-in at the door), the customer's (the yes/no
link's page, the portal's events tab), the point of sale's check-in; every string in
Arabic and Persian."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.gatherings.helpers import city_segment, invited
from tests.portal.helpers import sign_in
from tests.web.helpers import logged_in, post_form
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.gatherings import links, service
from wafa.gatherings.models import Gathering
from wafa.gatherings.web import owner, pos
from wafa.portal.web import events as portal_events
from wafa.web import i18n
from wafa.web.templating import TEMPLATE_DIR


def _path(url: str, settings: Settings) -> str:
    return url.removeprefix(settings.public_url.rstrip("/"))


class TestOwnerPages:
    def test_a_cashier_may_not(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier)
        assert client.get("/events").status_code == 403

    def test_create_invite_and_cancel(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        logged_in(client, session, role=Role.manager)
        segment = city_segment(session, settings)
        assert "No events yet" in client.get("/events").text
        form = {
            "name_en": "Tasting evening",
            "name_fa": "شب چشیدن قهوه",
            "day": "2026-03-20",
            "starts_at": "19:00",
            "ends_at": "21:30",
            "place": "The shop",
            "capacity": "",
            "points": "40",
            "segment_id": str(segment.id),
        }
        bad = post_form(client, "/events/new", form, page="/events/new")
        assert bad.status_code == 422 and 'id="capacity-error"' in bad.text
        made = post_form(client, "/events/new", {**form, "capacity": "12"}, page="/events/new")
        assert made.status_code == 303, made.text
        g = session.scalar(select(Gathering))
        assert g is not None and g.capacity == 12 and g.points == 40
        assert g.starts_at == datetime(2026, 3, 20, 19, 0, tzinfo=UTC)
        page = client.get(made.headers["location"])
        assert page.status_code == 200 and "Send the invitations" in page.text
        sent = post_form(client, f"/events/{g.id}/invite", {}, page=f"/events/{g.id}")
        assert sent.status_code == 303
        session.refresh(g)
        assert g.status == "inviting"
        gone = post_form(client, f"/events/{g.id}/cancel", {}, page=f"/events/{g.id}")
        assert gone.status_code == 303
        session.refresh(g)
        assert g.status == "cancelled"

    def test_in_persian_the_day_is_jalali(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        logged_in(client, session, locale="fa")
        page = client.get("/events/new")
        assert page.status_code == 200 and 'dir="rtl"' in page.text and "رویداد تازه" in page.text
        made = post_form(
            client,
            "/events/new",
            {
                "name_en": "Tasting",
                "name_fa": "چشیدن",
                "day": "۱۴۰۵-۰۱-۰۱",  # Nowruz 1405 = 2026-03-21
                "starts_at": "۱۸:۳۰",
                "ends_at": "۲۰:۰۰",
                "place": "فروشگاه",
                "capacity": "۲۰",
                "points": "۰",
            },
            page="/events/new",
        )
        assert made.status_code == 303, made.text
        g = session.scalar(select(Gathering))
        assert g is not None and g.starts_at.date() == date(2026, 3, 21)
        detail = client.get(made.headers["location"])
        assert "فروردین" in detail.text

    def test_check_in_at_the_door_once(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        g, members = invited(session, settings, 2, starts_at=clock.now + timedelta(hours=1))
        service.answer(
            session, gathering_id=g.id, customer_id=members[0].id, answer="yes", source="link"
        )
        logged_in(client, session, role=Role.cashier)
        fragment = client.get(f"/pos/events/{members[0].id}")
        assert fragment.status_code == 200 and "Check in" in fragment.text
        assert client.get(f"/pos/events/{members[1].id}").text.strip() == ""
        action = re.search(r'action="([^"]+check-in[^"]+)"', fragment.text)
        assert action is not None
        url = action.group(1).replace("&amp;", "&")
        done = post_form(client, url, {}, page="/pos")
        assert done.status_code == 303 and done.headers["location"].startswith("/pos?customer=")
        again = post_form(client, url, {}, page="/pos")
        assert again.status_code == 303
        rsvp = service.find_rsvp(session, gathering_id=g.id, customer_id=members[0].id)
        assert rsvp.checked_in_at is not None and rsvp.points_awarded == 50
        assert "Checked in" in client.get(f"/pos/events/{members[0].id}").text


class TestProfilePanel:
    def test_the_profile_shows_their_events(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        g, members = invited(session, settings, 4, capacity=3)
        for m in members:
            service.answer(
                session, gathering_id=g.id, customer_id=m.id, answer="yes", source="link"
            )
        logged_in(client, session, role=Role.manager)
        page = client.get(f"/customers/{members[3].id}")
        assert page.status_code == 200 and 'id="events-panel"' in page.text
        assert "Waiting" in page.text and "Tasting evening" in page.text
        stranger = create_customer(session)
        assert 'id="events-panel"' not in client.get(f"/customers/{stranger.id}").text


class TestCustomerPages:
    def test_the_link_shows_then_answers_on_the_button(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        g, members = invited(session, settings, 2, capacity=1, language="fa")
        url = links.rsvp_url(
            session, settings=settings, gathering=g, customer_id=members[0].id, answer="yes"
        )
        path = _path(url, settings)
        shown = client.get(path)
        assert shown.status_code == 200 and "شب چشیدن قهوه" in shown.text
        assert 'dir="rtl"' in shown.text
        rsvp = service.find_rsvp(session, gathering_id=g.id, customer_id=members[0].id)
        assert rsvp.status == "invited"  # opening the link answers nothing
        answered = client.post(path, data={"answer": "yes"})
        assert answered.status_code == 200
        session.refresh(rsvp)
        assert rsvp.status == "yes"
        altered = path[:-2] + ("A" if path[-2] != "A" else "B") + path[-1]
        refused = client.get(altered)
        assert refused.status_code == 403 and "شب چشیدن" not in refused.text

    def test_the_portal_lists_and_answers(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        g, members = invited(session, settings, 2, capacity=1)
        service.answer(
            session, gathering_id=g.id, customer_id=members[1].id, answer="yes", source="link"
        )
        sign_in(client, session, settings, members[0])
        page = client.get("/portal/events")
        assert page.status_code == 200 and "Tasting evening" in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        answered = client.post(
            f"/portal/events/{g.id}",
            data={"answer": "yes", "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert answered.status_code == 303 and answered.headers["location"].endswith("waiting")
        assert "waiting list" in client.get("/portal/events?answered=waiting").text

    def test_another_customers_event_is_not_theirs(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        g, _ = invited(session, settings, 1)
        stranger = create_customer(session)
        sign_in(client, session, settings, stranger)
        assert "Tasting evening" not in client.get("/portal/events").text
        page = client.get("/portal/events")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        tried = client.post(
            f"/portal/events/{g.id}",
            data={"answer": "yes", "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert tried.status_code == 404
        session.refresh(g)
        assert g.accepted == 0


def _msgids() -> set[str]:
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: set[str] = set()
    templates = [
        *(TEMPLATE_DIR / "gatherings").glob("*.html"),
        TEMPLATE_DIR / "portal" / "events.html",
        TEMPLATE_DIR / "portal" / "rsvp.html",
    ]
    for path in templates:
        for _, msg, _, _ in extract_from_file(
            "jinja2", str(path), keywords=keywords, options={"extensions": "jinja2.ext.do"}
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    for module in (owner, pos, portal_events):
        for _, msg, _, _ in extract_from_file(
            "python", str(Path(str(module.__file__))), keywords=keywords
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    return found


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_every_string_is_translated(language: str) -> None:
    catalogue = i18n.translations(language)
    msgids = _msgids()
    assert len(msgids) > 40
    assert sorted(m for m in msgids if m not in catalogue) == []
