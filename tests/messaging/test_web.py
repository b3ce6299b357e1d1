"""Messaging's dashboard pages: channels and rules, templates with preview, the delivery log,
the suppression list, preferences on the customer profile."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.messaging.conftest import Sink
from tests.messaging.helpers import queue, subscriber
from tests.web.helpers import html_attrs, logged_in, post_form
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.messaging.models import MessageTemplate, Suppression, TopicConsent
from wafa.messaging.policy import load_policy
from wafa.messaging.queue import Content

PAGES = ("/messaging", "/messaging/templates", "/messaging/log", "/messaging/suppressions")


class TestPages:
    def test_every_page_opens_in_english_and_persian(
        self, client: TestClient, session: Session
    ) -> None:
        for language in ("en", "fa"):
            client.cookies.clear()
            logged_in(client, session, role=Role.manager, locale=language)
            for path in PAGES:
                page = client.get(path)
                assert page.status_code == 200, (path, page.text[:500])
                attrs = html_attrs(page.text)
                assert attrs["lang"] == language
                assert attrs["dir"] == ("rtl" if language == "fa" else "ltr")
                assert 'href="/messaging/log"' in page.text  # in the sidebar

    def test_cashiers_may_not_open_them(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier)
        assert client.get("/messaging/log").status_code == 403


class TestRules:
    def test_saving_the_rules(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.owner)
        answer = post_form(
            client,
            "/messaging/policy",
            {
                "email_cap": "12",
                "sms_cap": "48",
                "whatsapp_cap": "24",
                "quiet_start": "22:00",
                "quiet_end": "09:30",
                "quiet_weekend": "true",
                "holiday_country": "ir",
                "double_opt_in": "true",
            },
            page="/messaging",
        )
        assert answer.status_code == 303
        policy = load_policy(session)
        assert policy.email.cap_hours == 12 and policy.sms.cap_hours == 48
        assert policy.email.quiet is not None and policy.email.quiet.start.hour == 22
        assert policy.quiet_weekend and policy.holiday_country == "IR" and policy.double_opt_in

    def test_quiet_hours_by_weekday(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager, locale="fa")
        page = client.get("/messaging")
        assert 'action="/messaging/policy/weekdays"' in page.text
        assert page.text.count("data-weekday=") == 7 and "پنجشنبه" in page.text
        form = {f"quiet_{d}": "same" for d in range(7)}
        # Thursday evening quiet from 18:00 (Persian digits as typed), Friday none.
        form |= {"quiet_3": "own", "from_3": "۱۸:۰۰", "until_3": "08:00", "quiet_4": "none"}
        answer = post_form(client, "/messaging/policy/weekdays", form, page="/messaging")
        assert answer.status_code == 303, answer.text
        policy = load_policy(session)
        for channel in (policy.email, policy.sms, policy.whatsapp):
            assert set(channel.by_weekday) == {3, 4} and channel.by_weekday[4] is None
            thursday = channel.by_weekday[3]
            assert thursday is not None and (thursday.start.hour, thursday.end.hour) == (18, 8)
        shown = client.get("/messaging").text
        assert 'value="18:00"' in shown
        # The main rules form keeps the weekdays; a bad time is named and writes nothing.
        bad = form | {"from_2": "", "quiet_2": "own", "until_2": "7", "quiet_5": "own"}
        bad |= {"from_5": "10:00", "until_5": "10:00", "quiet_6": "sometimes"}
        refused = post_form(client, "/messaging/policy/weekdays", bad, page="/messaging")
        assert refused.status_code == 422
        for field in ("from_2", "until_2", "until_5", "quiet_6"):
            assert f'id="{field}-error"' in refused.text, field
        session.expire_all()
        assert load_policy(session).email.by_weekday == policy.email.by_weekday

    def test_send_a_test_to_me(
        self, client: TestClient, session: Session, smtp_sink: Sink, mail_settings: object
    ) -> None:
        client.app.state.settings = mail_settings  # type: ignore[attr-defined]
        user = logged_in(client, session, role=Role.manager)
        answer = post_form(client, "/messaging/test", {}, page="/messaging")
        assert answer.status_code == 303
        assert len(smtp_sink.to(user.email)) == 1


class TestTemplates:
    def test_save_then_preview_in_persian_right_to_left(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.manager)
        subscriber(session, name="مریم رضایی", email="m@example.com", language="fa")
        answer = post_form(
            client,
            "/messaging/templates",
            {
                "key": "welcome",
                "name": "Welcome",
                "channel": "email",
                "kind": "marketing",
                "topic": "loyalty",
                "subject_en": "Welcome {{ customer.first_name }}",
                "text_en": "Hello {{ customer.first_name }}",
                "subject_fa": "خوش آمدید {{ customer.first_name }}",
                "text_fa": "سلام {{ customer.first_name }}، {{ points.available }} امتیاز دارید",
                "html_fa": "<p>سلام <b>{{ customer.first_name }}</b></p><script>alert(1)</script>",
            },
            page="/messaging/templates/new",
        )
        assert answer.status_code == 303, answer.text[:500]
        page = client.get(answer.headers["location"])
        assert page.status_code == 200
        assert "خوش آمدید مریم" in page.text
        assert "srcdoc=" in page.text
        assert "&lt;html lang=&#34;fa&#34; dir=&#34;rtl&#34;" in page.text
        assert "alert(1)" not in page.text  # staff HTML is cleaned when saved
        saved = session.scalar(select(MessageTemplate).where(MessageTemplate.key == "welcome"))
        assert saved is not None and saved.topic == "loyalty"

    def test_a_broken_template_shows_the_error_next_to_the_field(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.manager)
        answer = post_form(
            client,
            "/messaging/templates",
            {
                "key": "broken",
                "name": "Broken",
                "channel": "sms",
                "kind": "transactional",
                "topic": "",
                "text_en": "Hi {{ customer.first_name ",
            },
            page="/messaging/templates/new",
        )
        assert answer.status_code == 422
        assert 'id="body.en-error"' in answer.text
        assert session.scalar(select(MessageTemplate)) is None

    def test_a_test_copy_to_staff_cannot_act_for_the_customer(
        self,
        client: TestClient,
        session: Session,
        smtp_sink: Sink,
        mail_settings: Settings,
    ) -> None:
        # The copy carried the customer's own unsubscribe link and header: a staff member
        # clicking it would have unsubscribed the customer.
        client.app.state.settings = mail_settings  # type: ignore[attr-defined]
        user = logged_in(client, session, role=Role.manager)
        customer = subscriber(session, name="Maryam Ahmadi")
        answer = post_form(
            client,
            "/messaging/templates",
            {
                "key": "news",
                "name": "News",
                "channel": "email",
                "kind": "marketing",
                "topic": "newsletters",
                "subject_en": "News for {{ customer.first_name }}",
                "text_en": "Hello {{ customer.first_name }}",
            },
            page="/messaging/templates/new",
        )
        assert answer.status_code == 303, answer.text[:500]
        sent = post_form(
            client,
            "/messaging/templates/news/test",
            {"customer": str(customer.id), "locale": "en"},
            page="/messaging/templates/news",
        )
        assert sent.status_code == 303, sent.text[:500]
        got = smtp_sink.to(user.email)
        assert len(got) == 1
        mail = got[0].message
        assert str(mail["Subject"]) == "[TEST] News for Maryam"
        assert str(mail["X-Wafa-Test"]) == "template news"
        assert str(mail["List-Unsubscribe"]).endswith("/u/test>")
        assert client.post("/u/test", data={"List-Unsubscribe": "One-Click"}).status_code == 404


class TestLog:
    def test_lists_and_exports_formula_safe(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        customer = subscriber(session, name="=HYPERLINK(1)")
        queue(session, customer, content=Content(text={"en": "hi"}))
        page = client.get("/messaging/log")
        assert "=HYPERLINK(1)" in page.text
        export = client.get("/messaging/log.csv")
        assert export.status_code == 200
        rows = list(csv.reader(io.StringIO(export.text)))
        assert rows[0][:3] == ["id", "queued_at", "settled_at"]
        assert rows[1][4] == "'=HYPERLINK(1)"


class TestSuppressions:
    def test_block_then_lift(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        answer = post_form(
            client,
            "/messaging/suppressions",
            {"address": "block@example.com"},
            page="/messaging/suppressions",
        )
        assert answer.status_code == 303
        entry = session.scalar(select(Suppression))
        assert entry is not None and entry.address == "block@example.com"
        assert "block@example.com" in client.get("/messaging/suppressions").text
        post_form(
            client, f"/messaging/suppressions/{entry.id}/lift", {}, page="/messaging/suppressions"
        )
        session.expire_all()
        assert session.scalar(select(Suppression)) is None


class TestProfilePanel:
    def test_preferences_on_the_profile_and_their_form(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        customer = subscriber(session, email="panel@example.com")
        page = client.get(f"/customers/{customer.id}")
        assert page.status_code == 200
        assert 'id="msg-prefs-title"' in page.text
        answer = post_form(
            client,
            f"/messaging/customers/{customer.id}/preferences",
            {"consent_email": "1", "keep": "email:loyalty", "timezone": "Asia/Tehran"},
            page=f"/customers/{customer.id}",
        )
        assert answer.status_code == 303
        refused = session.scalars(
            select(TopicConsent.topic).where(
                TopicConsent.customer_id == customer.id,
                TopicConsent.channel == "email",
                TopicConsent.granted.is_(False),
            )
        ).all()
        assert sorted(refused) == ["newsletters", "offers", "surveys"]


def _messaging_msgids() -> set[str]:
    from pathlib import Path

    from babel.messages.extract import extract_from_file

    import wafa

    root = Path(wafa.__file__).parent
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: set[str] = set()
    for path in sorted((root / "web/templates/messaging").glob("*.html")):
        for _, msg, _, _ in extract_from_file(
            "jinja2", str(path), keywords=keywords, options={"extensions": "jinja2.ext.do"}
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    for path in [root / "messaging/texts.py", *sorted((root / "messaging/web").glob("*.py"))]:
        for _, msg, _, _ in extract_from_file("python", str(path), keywords=keywords):
            found.add(msg if isinstance(msg, str) else msg[0])
    return found


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_every_messaging_string_is_translated(language: str) -> None:
    from wafa.web import i18n

    catalogue = i18n.translations(language)
    msgids = _messaging_msgids()
    assert len(msgids) > 150
    missing = sorted(m for m in msgids if m not in catalogue)
    assert not missing, f"untranslated in {language}: {missing}"
