"""Staff answer for a customer: yes, no or the waiting list, through the customer's own
service path (the seat guard, the waiting list in order, the first waiter told), from the
event's page and from the customer's profile card; each refusal named."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.gatherings.helpers import invited
from tests.web.helpers import logged_in, post_form
from wafa.auth.models import Role
from wafa.core.errors import Invalid
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.gatherings import service
from wafa.gatherings.models import Rsvp


def _told(session: Session) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(OutboxEvent.subject_id)
            .where(OutboxEvent.topic == "gathering.seat_given")
            .order_by(OutboxEvent.id)
        )
    )


def _answer(session: Session, g_id: uuid.UUID, customer_id: uuid.UUID, answer: str) -> Rsvp:
    return service.answer(
        session, gathering_id=g_id, customer_id=customer_id, answer=answer, source="staff"
    )


def _status(session: Session, g_id: uuid.UUID, customer_id: uuid.UUID) -> tuple[str, int | None]:
    r = service.find_rsvp(session, gathering_id=g_id, customer_id=customer_id)
    session.refresh(r)
    return r.status, r.waiting_seq


class TestService:
    def test_a_seat_moved_to_the_waiting_list_goes_to_the_first_waiter(
        self, session: Session, settings: Settings
    ) -> None:
        g, m = invited(session, settings, 5)  # capacity 3
        for c in m:
            _answer(session, g.id, c.id, "yes")
        assert [_status(session, g.id, c.id)[0] for c in m] == ["yes"] * 3 + ["waiting"] * 2
        moved = _answer(session, g.id, m[0].id, "waiting")
        assert (moved.status, moved.waiting_seq, moved.source) == ("waiting", 3, "staff")
        assert _status(session, g.id, m[3].id)[0] == "yes"  # the first waiter
        assert _status(session, g.id, m[4].id) == ("waiting", 2)
        assert _told(session) == [m[3].id]
        session.refresh(g)
        assert g.accepted == 3
        # Saying it twice changes nothing.
        _answer(session, g.id, m[0].id, "waiting")
        assert _told(session) == [m[3].id] and _status(session, g.id, m[0].id) == ("waiting", 3)
        # A "no" for a seated customer seats the next waiter, who is told.
        _answer(session, g.id, m[1].id, "no")
        assert _status(session, g.id, m[4].id)[0] == "yes"
        assert _told(session) == [m[3].id, m[4].id]

    def test_the_waiting_list_with_a_free_seat_is_refused(
        self, session: Session, settings: Settings
    ) -> None:
        g, m = invited(session, settings, 2)
        with session.begin_nested(), pytest.raises(service.SeatFree):
            _answer(session, g.id, m[0].id, "waiting")
        session.refresh(g)
        assert g.accepted == 0 and _status(session, g.id, m[0].id) == ("invited", None)

    def test_moving_the_only_seat_holder_with_nobody_waiting_is_refused(
        self, session: Session, settings: Settings
    ) -> None:
        g, m = invited(session, settings, 2)
        _answer(session, g.id, m[0].id, "yes")
        try:
            with session.begin_nested():
                _answer(session, g.id, m[0].id, "waiting")
        except service.NobodyWaiting:
            pass
        else:
            raise AssertionError("moved with nobody waiting")
        session.refresh(g)
        assert g.accepted == 1 and _status(session, g.id, m[0].id) == ("yes", None)
        assert _told(session) == []

    def test_full_then_the_waiting_list_is_the_end_of_it(
        self, session: Session, settings: Settings
    ) -> None:
        g, m = invited(session, settings, 5)
        for c in m[:4]:
            _answer(session, g.id, c.id, "yes")
        assert _answer(session, g.id, m[4].id, "waiting").waiting_seq == 2

    def test_a_customer_cannot_put_themselves_on_the_waiting_list(
        self, session: Session, settings: Settings
    ) -> None:
        g, m = invited(session, settings, 1)
        for source in ("portal", "link"):
            with pytest.raises(Invalid) as caught:
                service.answer(
                    session, gathering_id=g.id, customer_id=m[0].id, answer="waiting", source=source
                )
            assert caught.value.errors[0][0] == ("answer",)


def _form_of(page: str, customer_id: uuid.UUID) -> str:
    found = re.search(rf'action="([^"]+/answer/{customer_id}[^"]*)"', page)
    assert found is not None, page
    return found.group(1).replace("&amp;", "&")


class TestPages:
    def test_from_the_events_page(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        g, m = invited(session, settings, 4)
        logged_in(client, session, role=Role.manager)
        page = client.get(f"/events/{g.id}")
        assert page.status_code == 200
        for c in m:
            url = _form_of(page.text, c.id)
            done = post_form(client, url, {"answer": "yes"}, page=f"/events/{g.id}")
            assert done.status_code == 303 and done.headers["location"] == f"/events/{g.id}"
        shown = client.get(f"/events/{g.id}").text
        assert "Saved: on the waiting list, number 1." in shown
        assert [_status(session, g.id, c.id)[0] for c in m] == ["yes"] * 3 + ["waiting"]
        # Give m[0]'s seat to the waiting list: m[3] has it and is told.
        post_form(client, _form_of(shown, m[0].id), {"answer": "waiting"}, page=f"/events/{g.id}")
        assert _status(session, g.id, m[3].id)[0] == "yes" and _told(session) == [m[3].id]
        # m[0] cannot come after all: nobody waits now, so moving m[1] to the waiting
        # list is refused, named, and undone.
        post_form(client, _form_of(shown, m[0].id), {"answer": "no"}, page=f"/events/{g.id}")
        assert _status(session, g.id, m[0].id)[0] == "no"
        refused = post_form(
            client, _form_of(shown, m[1].id), {"answer": "waiting"}, page=f"/events/{g.id}"
        )
        assert refused.status_code == 303
        again = client.get(f"/events/{g.id}").text
        assert "Nobody is waiting for this seat" in again
        assert _status(session, g.id, m[1].id) == ("yes", None)
        bad = post_form(
            client, _form_of(shown, m[1].id), {"answer": "maybe"}, page=f"/events/{g.id}"
        )
        assert bad.status_code == 303
        assert (
            "Choose an answer: coming, waiting or cannot come."
            in client.get(f"/events/{g.id}").text
        )
        stranger = create_customer(session)
        post_form(
            client,
            f"/events/{g.id}/answer/{stranger.id}",
            {"answer": "yes"},
            page=f"/events/{g.id}",
        )
        assert "not invited to this event" in client.get(f"/events/{g.id}").text

    def test_from_the_profile_card_in_persian(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        g, m = invited(session, settings, 2, capacity=1)
        logged_in(client, session, role=Role.manager, locale="fa")
        profile = client.get(f"/customers/{m[0].id}")
        url = _form_of(profile.text, m[0].id)
        assert "back=" in url
        done = post_form(client, url, {"answer": "yes"}, page=f"/customers/{m[0].id}")
        assert done.status_code == 303 and done.headers["location"] == f"/customers/{m[0].id}"
        assert "ثبت شد: می‌آید" in client.get(f"/customers/{m[0].id}").text
        other = client.get(f"/customers/{m[1].id}").text
        post_form(client, _form_of(other, m[1].id), {"answer": "waiting"}, page="/")
        assert _status(session, g.id, m[1].id) == ("waiting", 1)
        assert "نفر ۱" in client.get(f"/customers/{m[1].id}").text

    def test_after_the_start_no_form_and_no_answer(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        g, m = invited(session, settings, 1, starts_at=clock.now + timedelta(hours=1))
        logged_in(client, session, role=Role.manager)
        url = _form_of(client.get(f"/events/{g.id}").text, m[0].id)
        clock.advance(hours=2)
        assert "/answer/" not in client.get(f"/events/{g.id}").text
        post_form(client, url, {"answer": "yes"}, page=f"/events/{g.id}")
        assert "takes no answers now" in client.get(f"/events/{g.id}").text
        assert _status(session, g.id, m[0].id)[0] == "invited"

    def test_a_cashier_may_not(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        g, m = invited(session, settings, 1)
        logged_in(client, session, role=Role.cashier)
        refused = post_form(client, f"/events/{g.id}/answer/{m[0].id}", {"answer": "yes"}, page="/")
        assert refused.status_code == 403
        assert (
            session.scalar(select(func.count()).select_from(Rsvp).where(Rsvp.status == "yes")) == 0
        )


def test_the_api_answers_waiting_and_names_its_refusals(
    api: TestClient, session: Session, settings: Settings
) -> None:
    g, m = invited(session, settings, 4)
    base = f"/api/v1/events/{g.id}/rsvps"
    free = api.put(f"{base}/{m[0].id}", json={"answer": "waiting"})
    assert free.status_code == 409 and free.json()["type"].endswith("seat-free")
    session.refresh(g)
    assert g.accepted == 0
    for c in m[:3]:
        assert api.put(f"{base}/{c.id}", json={"answer": "yes"}).json()["status"] == "yes"
    alone = api.put(f"{base}/{m[0].id}", json={"answer": "waiting"})
    assert alone.status_code == 409 and alone.json()["type"].endswith("nobody-waiting")
    assert api.put(f"{base}/{m[3].id}", json={"answer": "waiting"}).json()["waiting_seq"] == 1
    moved = api.put(f"{base}/{m[0].id}", json={"answer": "waiting"})
    assert moved.status_code == 200 and moved.json()["status"] == "waiting"
    assert moved.json()["waiting_seq"] == 2
    assert _status(session, g.id, m[3].id)[0] == "yes" and _told(session) == [m[3].id]
    bad = api.put(f"{base}/{m[1].id}", json={"answer": "maybe"})
    assert bad.status_code == 422 and "answer" in bad.text
