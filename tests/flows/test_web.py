"""The flows pages: the list with switches, a flow's page with steps, templates per
language and the lift report; Persian right to left."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.web.helpers import logged_in, post_form
from wafa.auth.models import Role
from wafa.flows import service


def test_list_switch_and_flow_page(client: TestClient, session: Session) -> None:
    logged_in(client, session, role=Role.manager)
    page = client.get("/flows")
    assert page.status_code == 200
    assert "Win-back: we miss you" in page.text and 'href="/flows"' in page.text
    switched = post_form(client, "/flows/win_back/switch", {}, page="/flows")
    assert switched.status_code == 303
    assert service.get_flow(session, "win_back").enabled
    flow = client.get("/flows/win_back")
    assert flow.status_code == 200
    assert "/messaging/templates/flow.win_back.miss?locale=fa" in flow.text
    assert "Does it work?" in flow.text


def test_persian_right_to_left(client: TestClient, session: Session) -> None:
    logged_in(client, session, role=Role.manager, locale="fa")
    listed = client.get("/flows")
    assert 'dir="rtl"' in listed.text and "جریان‌ها" in listed.text
    page = client.get("/flows/birthday")
    assert page.status_code == 200 and "هدیه تولد" in page.text
    assert "Steps" not in page.text


def test_cashiers_cannot_see_flows(client: TestClient, session: Session) -> None:
    logged_in(client, session, role=Role.cashier)
    assert client.get("/flows").status_code == 403


def test_settings_saved_and_bad_input_named(client: TestClient, session: Session) -> None:
    logged_in(client, session, role=Role.manager)
    client.get("/flows")
    saved = post_form(
        client,
        "/flows/win_back/settings",
        {"holdout_percent": "20", "conversion_days": "21", "cooldown_days": "60"},
        page="/flows/win_back",
    )
    assert saved.status_code == 303
    flow = service.get_flow(session, "win_back")
    assert (flow.holdout_percent, flow.conversion_days) == (20, 21)
    assert flow.definition["cooldown_days"] == 60
    bad = post_form(
        client,
        "/flows/win_back/settings",
        {"holdout_percent": "90", "conversion_days": "x", "cooldown_days": "60"},
        page="/flows/win_back",
    )
    assert bad.status_code == 422
    assert 'id="holdout_percent-error"' in bad.text and 'id="conversion_days-error"' in bad.text
    assert service.get_flow(session, "win_back").holdout_percent == 20


def test_the_customer_profile_shows_their_flows(client: TestClient, session: Session) -> None:
    from tests.factories import create_customer
    from wafa.flows import engine, presets
    from wafa.flows.service import get_flow

    presets.ensure_presets(session)
    customer = create_customer(session)
    engine.enrol(
        session,
        settings=client.app.state.settings,  # type: ignore[attr-defined]
        flow=get_flow(session, "welcome"),
        customer_id=customer.id,
        occasion="test",
    )
    session.flush()
    logged_in(client, session, role=Role.manager, locale="fa")
    page = client.get(f"/customers/{customer.id}")
    assert page.status_code == 200
    assert 'href="/flows/welcome"' in page.text and "اکنون در آن" in page.text
