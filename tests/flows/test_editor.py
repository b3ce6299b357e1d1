"""Editing a flow on its page beyond its waits: who receives it (a saved segment's rules,
copied into the flow), each message's channel and second channel, and the coupons and
points it gives; the messages name the offer as saved; every string in en/ar/fa."""

from __future__ import annotations

from datetime import timedelta

import pytest
from babel.messages.extract import extract_from_file
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.flows.helpers import due, enrolments, messages, no_limits
from tests.loyalty.helpers import place
from tests.messaging.conftest import Sink, body_of
from tests.messaging.helpers import subscriber
from tests.web.helpers import logged_in, post_form
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.flows import presets, service
from wafa.messaging.pipeline import Pipeline
from wafa.messaging.segments import service as segments
from wafa.messaging.segments.schemas import SegmentCreate
from wafa.web import i18n
from wafa.web.templating import TEMPLATE_DIR
from wafa.worker.batch import drain_batched

WIN_BACK = {
    "s_miss_channel": "email",
    "s_miss_fallback": "sms",
    "c_offer_name": "We miss you",
    "c_offer_percent": "10",
    "c_offer_amount": "",
    "c_offer_valid_days": "30",
    "s_again_channel": "email",
    "s_again_fallback": "",
    "c_stronger_name": "Come back",
    "c_stronger_percent": "20",
    "c_stronger_amount": "",
    "c_stronger_valid_days": "30",
}


def _step(session: Session, flow_key: str, step_key: str) -> dict[str, object]:
    [step] = [
        s for s in service.get_flow(session, flow_key).definition["steps"] if s["key"] == step_key
    ]
    return dict(step)


def test_the_audience_is_a_saved_segment_s_rules(
    client: TestClient, session: Session, settings: Settings
) -> None:
    presets.ensure_presets(session)
    gold = segments.create_segment(
        session,
        settings=settings,
        data=SegmentCreate.model_validate(
            {
                "name": "Big spenders",
                "rules": {"all": [{"field": "total_spent", "op": ">=", "value": 100}]},
            }
        ),
        by="test",
    )
    logged_in(client, session, role=Role.manager)
    page = client.get("/flows/win_back")
    assert 'action="/flows/win_back/audience"' in page.text and "Big spenders" in page.text
    saved = post_form(
        client, "/flows/win_back/audience", {"segment": str(gold.id)}, page="/flows/win_back"
    )
    assert saved.status_code == 303
    filters = service.get_flow(session, "win_back").definition["filters"]
    assert filters == segments.stored_rules(gold).as_json()
    page = client.get("/flows/win_back")
    assert f'<option value="{gold.id}" selected>' in page.text
    bad = post_form(client, "/flows/win_back/audience", {"segment": "nope"}, page="/flows/win_back")
    assert bad.status_code == 422 and 'id="segment-error"' in bad.text
    assert service.get_flow(session, "win_back").definition["filters"] == filters
    everyone = post_form(client, "/flows/win_back/audience", {"segment": ""}, page="/")
    assert everyone.status_code == 303
    assert service.get_flow(session, "win_back").definition["filters"] == {"all": []}


def test_channels_coupons_and_points_saved_and_bad_input_named(
    client: TestClient, session: Session
) -> None:
    presets.ensure_presets(session)
    logged_in(client, session, role=Role.manager, locale="fa")
    page = client.get("/flows/win_back")
    assert 'action="/flows/win_back/steps"' in page.text and "کانال‌ها و پیشنهادها" in page.text
    assert 'id="c_offer_percent"' in page.text and 'value="10"' in page.text
    before = service.get_flow(session, "win_back").definition
    bad = post_form(
        client,
        "/flows/win_back/steps",
        {
            **WIN_BACK,
            "s_miss_fallback": "email",  # the same as the channel
            "c_offer_percent": "۱۵",
            "c_offer_amount": "5",  # and an amount: not both
            "c_stronger_valid_days": "900",
            "s_again_channel": "fax",
        },
        page="/flows/win_back",
    )
    assert bad.status_code == 422
    for field in ("s_miss_fallback", "c_offer_percent", "c_stronger_valid_days", "s_again_channel"):
        assert f'id="{field}-error"' in bad.text, field
    assert service.get_flow(session, "win_back").definition == before
    saved = post_form(
        client,
        "/flows/win_back/steps",
        {
            **WIN_BACK,
            "s_miss_channel": "sms",
            "s_miss_fallback": "email",
            "c_offer_percent": "",
            "c_offer_amount": "۷٫۵",
            "c_stronger_percent": "۲۵",
        },
        page="/flows/win_back",
    )
    assert saved.status_code == 303, saved.text
    assert _step(session, "win_back", "miss")["channel"] == "sms"
    assert _step(session, "win_back", "miss")["fallback"] == "email"
    offer = _step(session, "win_back", "offer")
    assert (offer["percent"], offer["amount"]) == (None, 750)
    assert _step(session, "win_back", "stronger")["percent"] == 25


def test_points_saved(client: TestClient, session: Session) -> None:
    presets.ensure_presets(session)
    definition = service.get_flow(session, "welcome").definition
    steps = [*definition["steps"], {"key": "gift", "type": "points", "points": 50, "reason": "Hi"}]
    service.update_flow(
        session, key="welcome", by="test", definition={**definition, "steps": steps}
    )
    logged_in(client, session, role=Role.owner)
    form = _form_of(client.get("/flows/welcome").text)
    assert form["p_gift_points"] == "50"
    form["p_gift_points"] = "0"
    bad = post_form(client, "/flows/welcome/steps", form, page="/")
    assert bad.status_code == 422 and 'id="p_gift_points-error"' in bad.text
    form["p_gift_points"] = "۷۵"
    assert post_form(client, "/flows/welcome/steps", form, page="/").status_code == 303
    assert _step(session, "welcome", "gift")["points"] == 75


def _form_of(html: str) -> dict[str, str]:
    import re

    part = html[html.index("<form", html.index('id="offers-title"')) :]
    part = part[: part.index("</form>")]
    values = dict(re.findall(r'name="([a-z0-9_]+)"[^>]*value="([^"]*)"', part))
    for name, body in re.findall(
        r'<select id="[^"]+" name="([a-z0-9_]+)"(.*?)</select>', part, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        values[name] = chosen.group(1) if chosen else ""
    values.pop("csrf_token", None)
    return values


def test_cashiers_cannot_edit_steps_or_audience(client: TestClient, session: Session) -> None:
    presets.ensure_presets(session)
    before = service.get_flow(session, "win_back").definition
    logged_in(client, session, role=Role.cashier)
    assert post_form(client, "/flows/win_back/steps", WIN_BACK, page="/").status_code == 403
    assert (
        post_form(client, "/flows/win_back/audience", {"segment": ""}, page="/").status_code == 403
    )
    assert service.get_flow(session, "win_back").definition == before


def test_the_message_names_the_offer_as_saved(
    client: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    mail_settings: Settings,
    clock: FrozenClock,
    pipeline: Pipeline,
    smtp_sink: Sink,
) -> None:
    """The delay notice's apology changed from 10 % to 5.00 off: the emails say so, in
    English and in Persian (read at the SMTP server)."""
    from wafa.app.domains import consumers

    no_limits(session)
    presets.ensure_presets(session)
    delay = service.set_enabled(session, key="delay_notice", enabled=True, by="test")
    logged_in(client, session, role=Role.manager)
    form = _form_of(client.get("/flows/delay_notice").text)
    form.update({"c_sorry_percent": "", "c_sorry_amount": "5"})
    assert post_form(client, "/flows/delay_notice/steps", form, page="/").status_code == 303
    promise = clock.now + timedelta(hours=2)
    for email, language in (("late@example.com", "en"), ("dir@example.com", "fa")):
        late = subscriber(session, email=email, language=language)
        place(session, late, placed_at=clock.now, promised_at=promise.isoformat())
    session.commit()
    drain_batched(session_factory, consumers(mail_settings))
    assert len(enrolments(session, delay)) == 2
    clock.advance(hours=3)
    due(session_factory, mail_settings)
    notices = messages(session, delay)
    assert {m.context["coupon"]["value"] for m in notices} == {"$5.00"}
    codes = {m.context["coupon"]["code"] for m in notices}
    pipeline.run_once()

    def notice_to(address: str) -> str:
        bodies = [body_of(mail, "plain") for mail in smtp_sink.to(address)]
        [body] = [b for b in bodies if any(code in b for code in codes)]
        return body

    assert "takes $5.00 off" in notice_to("late@example.com")
    persian = notice_to("dir@example.com")
    assert "$۵.۰۰" in persian and "۱۰٪" not in persian


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_every_flow_page_string_is_translated(language: str) -> None:
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: set[str] = set()
    for path in (TEMPLATE_DIR / "flows").glob("*.html"):
        for _, msg, _, _ in extract_from_file(
            "jinja2", str(path), keywords=keywords, options={"extensions": "jinja2.ext.do"}
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    from wafa.flows import web

    for _, msg, _, _ in extract_from_file("python", web.__file__, keywords=keywords):
        found.add(msg if isinstance(msg, str) else msg[0])
    catalogue = i18n.translations(language)
    missing = sorted(m for m in found if m not in catalogue)
    assert len(found) > 50 and not missing, missing
