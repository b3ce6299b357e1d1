"""Editing a flow's waits on its page: saved for the next customers, those already
waiting keep their time and get no step twice; bad input named per field; managers
only; Persian digits read."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.flows.helpers import drain, due, enrolments, messages, no_limits, runs
from tests.loyalty.helpers import place
from tests.messaging.helpers import subscriber
from tests.web.helpers import logged_in, post_form
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.flows import presets, service


def _waits(**changes: str) -> dict[str, str]:
    form = {"w_day_days": "1", "w_day_hours": "", "w_day_minutes": "", "w_day_at": "10:00"}
    form.update(changes)
    return form


def test_waits_saved_and_bad_input_named(client: TestClient, session: Session) -> None:
    logged_in(client, session, role=Role.manager, locale="fa")
    page = client.get("/flows/thank_you")
    assert page.status_code == 200
    assert 'action="/flows/thank_you/waits"' in page.text and 'id="w_day_at"' in page.text
    assert "انتظارها" in page.text
    bad = post_form(
        client,
        "/flows/thank_you/waits",
        _waits(w_day_days="x", w_day_at="25:00"),
        page="/flows/thank_you",
    )
    assert bad.status_code == 422
    assert 'id="w_day_days-error"' in bad.text and 'id="w_day_at-error"' in bad.text
    assert service.get_flow(session, "thank_you").definition["steps"][1]["days"] == 1
    none = post_form(
        client,
        "/flows/thank_you/waits",
        _waits(w_day_days="", w_day_at=""),
        page="/flows/thank_you",
    )
    assert none.status_code == 422 and 'id="w_day_days-error"' in none.text
    saved = post_form(
        client,
        "/flows/thank_you/waits",
        _waits(w_day_days="۲", w_day_hours="3", w_day_at="9:30"),  # Persian digits
        page="/flows/thank_you",
    )
    assert saved.status_code == 303
    session.expire_all()
    flow = service.get_flow(session, "thank_you")
    wait = flow.definition["steps"][1]
    assert (wait["key"], wait["days"], wait["hours"], wait["at"]) == ("day", 2, 3, "09:30")
    assert [s["key"] for s in flow.definition["steps"]] == ["thanks", "day", "check"]


def test_cashiers_cannot_edit_waits(client: TestClient, session: Session) -> None:
    presets.ensure_presets(session)
    logged_in(client, session, role=Role.cashier)
    refused = post_form(client, "/flows/thank_you/waits", _waits(), page="/")
    assert refused.status_code == 403
    assert service.get_flow(session, "thank_you").definition["steps"][1]["at"] == "10:00"


def test_an_edit_mid_way_sends_no_step_twice(
    client: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    from wafa.orders import service as orders
    from wafa.orders.schemas import OrderStatusUpdate

    no_limits(session)
    presets.ensure_presets(session)
    flow = service.set_enabled(session, key="thank_you", enabled=True, by="test")
    flow.holdout_percent = 0
    first = subscriber(session)
    order = place(session, first, placed_at=clock.now)
    orders.update_order_status(
        session, order_id=order.id, data=OrderStatusUpdate(status="delivered")
    )
    session.commit()
    drain(session_factory, settings)  # thanks sent; waiting until tomorrow 10:00
    [way] = enrolments(session, flow)
    promised = way.due_at
    assert promised is not None
    logged_in(client, session, role=Role.manager)
    client.get("/flows/thank_you")
    saved = post_form(
        client, "/flows/thank_you/waits", _waits(w_day_days="3", w_day_at="16:00"), page="/"
    )
    assert saved.status_code == 303
    [way] = enrolments(session, flow)
    assert way.due_at == promised  # the one already waiting keeps their time
    clock.set(promised + timedelta(minutes=1))
    due(session_factory, settings)
    due(session_factory, settings)
    assert [m.template_key for m in messages(session, flow, first.id)] == [
        "flow.thank_you.thanks",
        "flow.thank_you.check",
    ]
    [way] = enrolments(session, flow)
    assert runs(session, way) == {"thanks": "sent", "day": "waited", "check": "sent"}
    assert way.status == "done"


def test_a_time_of_day_is_the_customer_s_own(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    """10:00 for a customer in Tehran (UTC+3:30) is 06:30 UTC; without a timezone, the
    business's (UTC in tests)."""
    from datetime import UTC, datetime

    from tests.flows.helpers import flow, template
    from wafa.messaging import consent

    no_limits(session)
    template(session, "t.morning", "Good morning")
    morning = flow(
        session,
        "morning",
        [
            {"key": "at", "type": "wait", "minutes": 1, "at": "10:00"},
            {"key": "hello", "type": "send", "template": "t.morning"},
        ],
    )
    tehran = subscriber(session)
    consent.ensure_preferences(session, tehran.id).timezone = "Asia/Tehran"
    here = subscriber(session)
    for customer in (tehran, here):
        place(session, customer, placed_at=clock.now)
    session.commit()
    drain(session_factory, settings)
    due_at = {e.customer_id: e.due_at for e in enrolments(session, morning)}
    assert due_at == {
        tehran.id: datetime(2026, 3, 16, 6, 30, tzinfo=UTC),
        here.id: datetime(2026, 3, 16, 10, 0, tzinfo=UTC),
    }
