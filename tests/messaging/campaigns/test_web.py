"""The campaign pages: list, compose (per locale, refusals by field), the campaign with its
preview (right to left in Persian), send / pause / resume / cancel, the report."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.messaging.campaigns.conftest import audience, queue_all, segment_of
from tests.messaging.conftest import Sink, body_of
from tests.web.helpers import html_attrs, logged_in, post_form
from wafa.core.settings import Settings
from wafa.loyalty.models import Coupon
from wafa.messaging.campaigns.models import Campaign
from wafa.messaging.models import Message


def _form(segment_id: uuid.UUID, **overrides: str) -> dict[str, str]:
    data = {
        "name": "Nowruz offer",
        "segment": str(segment_id),
        "channel": "email",
        "topic": "offers",
        "holdout_percent": "۲۰",
        "schedule": "now",
        "report_days": "14",
        "subject_en": "Happy Nowruz",
        "body_en": "Hello {{ customer.first_name }}",
        "subject_fa": "نوروز مبارک",
        "body_fa": "سلام {{ customer.first_name }}، کد شما {{ coupon_code }}",
        "coupon_kind": "discount_percent",
        "coupon_value": "۱۵",
        "coupon_days": "30",
    }
    data.update(overrides)
    return data


def test_compose_preview_send_and_report(
    client: TestClient, session: Session, settings: Settings
) -> None:
    logged_in(client, session, locale="fa")
    audience(session, 4, language="fa")
    segment = segment_of(session, settings)
    listing = client.get("/campaigns")
    assert listing.status_code == 200 and 'href="/campaigns/new"' in listing.text
    page = client.get("/campaigns/new")
    assert page.status_code == 200
    assert html_attrs(page.text)["dir"] == "rtl"
    assert 'lang="fa" dir="rtl"' in page.text and 'lang="en" dir="ltr"' in page.text

    saved = post_form(client, "/campaigns/new", _form(segment), page="/campaigns/new")
    assert saved.status_code == 303, saved.text
    campaign = session.scalars(select(Campaign)).one()
    assert campaign.holdout_percent == 20 and campaign.coupon == {
        "kind": "discount_percent",
        "percent_bp": 1500,
        "valid_days": 30,
    }
    assert campaign.subject == {"en": "Happy Nowruz", "fa": "نوروز مبارک"}
    shown = client.get(saved.headers["location"])
    assert shown.status_code == 200
    assert 'data-campaign-status="draft"' in shown.text
    preview = re.search(r'<div class="msg-shown" lang="(\w+)" dir="(\w+)"', shown.text)
    assert preview and preview.groups() == ("fa", "rtl")
    assert "نوروز مبارک" in shown.text and "SAMPLE-CODE" in shown.text

    sent = post_form(client, f"/campaigns/{campaign.id}/send", {}, page=f"/campaigns/{campaign.id}")
    assert sent.status_code == 303
    queue_all(session, settings, campaign.id)
    after = client.get(f"/campaigns/{campaign.id}")
    assert 'data-campaign-status="sending"' in after.text
    assert 'action="/campaigns/' + str(campaign.id) + '/pause"' in after.text
    again = post_form(
        client, f"/campaigns/{campaign.id}/send", {}, page=f"/campaigns/{campaign.id}"
    )
    assert again.status_code == 303  # sending twice changes nothing
    paused = post_form(
        client, f"/campaigns/{campaign.id}/pause", {}, page=f"/campaigns/{campaign.id}"
    )
    assert paused.status_code == 303
    assert 'data-campaign-status="paused"' in client.get(f"/campaigns/{campaign.id}").text
    post_form(client, f"/campaigns/{campaign.id}/resume", {}, page=f"/campaigns/{campaign.id}")
    report = client.get(f"/campaigns/{campaign.id}/report")
    assert report.status_code == 200
    assert "Welch" in report.text or "ولش" in report.text
    assert re.search(r"data-recipients>[۰-۹]", report.text)
    cancelled = post_form(
        client, f"/campaigns/{campaign.id}/cancel", {}, page=f"/campaigns/{campaign.id}"
    )
    assert cancelled.status_code == 303
    refused = post_form(
        client, f"/campaigns/{campaign.id}/pause", {}, page=f"/campaigns/{campaign.id}"
    )
    assert refused.status_code == 303  # said on the page, nothing changed
    assert 'data-campaign-status="cancelled"' in client.get(f"/campaigns/{campaign.id}").text


def test_refusals_are_shown_by_their_field(
    client: TestClient, session: Session, settings: Settings
) -> None:
    logged_in(client, session)
    segment = segment_of(session, settings)
    cases = {
        "name": _form(segment, name=""),
        "segment": _form(segment, segment=""),
        "holdout_percent": _form(segment, holdout_percent="80"),
        "body_fa": _form(segment, body_fa="{{ customer.first_name "),
        "send_day": _form(segment, schedule="at"),
        "send_time": _form(segment, schedule="local", send_day="2027-03-20", send_time="25:99"),
        "coupon_value": _form(segment, coupon_value=""),
    }
    for field, data in cases.items():
        answer = post_form(client, "/campaigns/new", data, page="/campaigns/new")
        assert answer.status_code == 422, (field, answer.status_code)
        assert f'id="{field}-error"' in answer.text, field
    assert session.scalars(select(Campaign)).all() == []


def test_an_sms_campaign_shows_its_length(
    client: TestClient, session: Session, settings: Settings
) -> None:
    logged_in(client, session)
    audience(session, 1, phone="+15555550123")
    segment = segment_of(session, settings)
    post_form(
        client,
        "/campaigns/new",
        _form(segment, channel="sms", body_fa="س" * 80, coupon_kind=""),
        page="/campaigns/new",
    )
    campaign = session.scalars(select(Campaign)).one()
    page = client.get(f"/campaigns/{campaign.id}")
    length = re.search(r"data-sms-length>(.*?)</p>", page.text, re.S)
    assert length and "2 SMS" in length.group(1)  # 80 Persian letters: UCS-2, two messages


def test_campaigns_are_in_the_navigation(client: TestClient, session: Session) -> None:
    logged_in(client, session)
    assert 'href="/campaigns"' in client.get("/").text


def test_edit_a_draft_in_persian_then_refused_once_sending(
    client: TestClient, session: Session, settings: Settings
) -> None:
    logged_in(client, session, locale="fa")
    audience(session, 2, language="fa")
    segment = segment_of(session, settings)
    post_form(
        client,
        "/campaigns/new",
        _form(segment, schedule="at", send_day="2027-03-20", send_time="10:30"),
        page="/campaigns/new",
    )
    campaign = session.scalars(select(Campaign)).one()
    detail = client.get(f"/campaigns/{campaign.id}")
    assert f'href="/campaigns/{campaign.id}/edit"' in detail.text
    page = client.get(f"/campaigns/{campaign.id}/edit")
    assert page.status_code == 200 and html_attrs(page.text)["dir"] == "rtl"
    # The form shows what is stored: the text, the coupon, the schedule as typed.
    assert "نوروز مبارک" in page.text and 'value="15"' in page.text
    assert 'value="10:30"' in page.text and 'value="2027-03-20"' in page.text
    path = f"/campaigns/{campaign.id}/edit"
    refused = post_form(client, path, _form(segment, body_fa="{{ customer.first_name "), page=path)
    assert refused.status_code == 422 and 'id="body_fa-error"' in refused.text
    saved = post_form(
        client,
        path,
        _form(segment, name="Nowruz, second draft", subject_fa="عید شما مبارک", coupon_kind=""),
        page=path,
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/campaigns/{campaign.id}"
    session.expire_all()
    edited = session.get(Campaign, campaign.id)
    assert edited is not None
    assert edited.name == "Nowruz, second draft" and edited.coupon is None
    assert edited.subject["fa"] == "عید شما مبارک" and edited.schedule == "now"
    # Once sent: no Edit link, the form is not shown, a post changes nothing.
    post_form(client, f"/campaigns/{campaign.id}/send", {}, page=f"/campaigns/{campaign.id}")
    detail = client.get(f"/campaigns/{campaign.id}")
    assert f'href="/campaigns/{campaign.id}/edit"' not in detail.text
    away = client.get(path, follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == f"/campaigns/{campaign.id}"
    late = post_form(
        client, path, _form(segment, name="Too late"), page=f"/campaigns/{campaign.id}"
    )
    assert late.status_code == 409
    session.expire_all()
    assert session.get(Campaign, campaign.id).name == "Nowruz, second draft"  # type: ignore[union-attr]


def test_edit_a_scheduled_campaign_until_its_time(
    client: TestClient, session: Session, settings: Settings, clock: FrozenClock
) -> None:
    clock.set(datetime(2027, 3, 1, 10, 0, tzinfo=UTC))
    logged_in(client, session, locale="fa")
    audience(session, 2, language="fa")
    segment = segment_of(session, settings)
    later = _form(segment, schedule="at", send_day="2027-03-20", send_time="10:30")
    post_form(client, "/campaigns/new", later, page="/campaigns/new")
    campaign = session.scalars(select(Campaign)).one()
    post_form(client, f"/campaigns/{campaign.id}/send", {}, page=f"/campaigns/{campaign.id}")
    session.expire_all()
    first = session.get(Campaign, campaign.id)
    assert first is not None and first.status == "scheduled" and first.send_at is not None
    first_at = first.send_at
    detail = client.get(f"/campaigns/{campaign.id}")
    # Scheduled: Edit is offered (Send is not: it is sent already, for later).
    assert f'href="/campaigns/{campaign.id}/edit"' in detail.text
    assert f'action="/campaigns/{campaign.id}/send"' not in detail.text
    path = f"/campaigns/{campaign.id}/edit"
    moved = {**later, "name": "Nowruz, moved", "send_time": "12:00"}
    saved = post_form(client, path, moved, page=path)
    assert saved.status_code == 303, saved.text
    session.expire_all()
    edited = session.get(Campaign, campaign.id)
    assert edited is not None and edited.status == "scheduled"
    assert edited.name == "Nowruz, moved" and edited.send_at is not None
    assert edited.send_at - first_at == timedelta(minutes=90)


def test_send_a_test_to_me_is_marked_and_counted_nowhere(
    client: TestClient,
    session: Session,
    settings: Settings,
    smtp_sink: Sink,
    mail_settings: Settings,
    clock: FrozenClock,
) -> None:
    # 23:00 UTC: quiet hours for customers; a test goes to the staff member at once.
    clock.set(datetime(2026, 3, 16, 23, 0, tzinfo=UTC))
    client.app.state.settings = mail_settings  # type: ignore[attr-defined]
    user = logged_in(client, session, locale="fa")
    people = audience(session, 2, language="fa")
    segment = segment_of(session, settings)
    post_form(client, "/campaigns/new", _form(segment), page="/campaigns/new")
    campaign = session.scalars(select(Campaign)).one()
    page = client.get(f"/campaigns/{campaign.id}")
    assert f'action="/campaigns/{campaign.id}/test"' in page.text and user.email in page.text
    answer = post_form(
        client,
        f"/campaigns/{campaign.id}/test",
        {"customer": str(people[1].id), "locale": ""},
        page=f"/campaigns/{campaign.id}",
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/campaigns/{campaign.id}?customer={people[1].id}"
    got = smtp_sink.to(user.email)
    assert len(got) == 1 and len(smtp_sink.received) == 1  # the customers got nothing
    mail = got[0].message
    assert str(mail["Subject"]).startswith("[TEST] نوروز مبارک")
    assert str(mail["X-Wafa-Test"]) == f"campaign {campaign.id}"
    text = body_of(got[0], "plain")
    html = body_of(got[0], "html")
    assert (people[1].name or "").split()[0] in text and "SAMPLE-CODE" in text
    assert 'dir="rtl"' in html and 'lang="fa"' in html
    # Its unsubscribe link and header act for nobody.
    assert "https://shop.example/u/test" in text
    assert str(mail["List-Unsubscribe"]) == "<https://shop.example/u/test>"
    assert client.post("/u/test", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    # Counted nowhere: no message row, no coupon, the campaign still a draft.
    assert session.scalar(select(func.count()).select_from(Message)) == 0
    assert session.scalar(select(func.count()).select_from(Coupon)) == 0
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == "draft"  # type: ignore[union-attr]
    shown = client.get(answer.headers["location"])
    assert user.email in shown.text


def test_send_a_test_of_an_sms_campaign_arrives_as_text(
    client: TestClient,
    session: Session,
    settings: Settings,
    smtp_sink: Sink,
    mail_settings: Settings,
) -> None:
    client.app.state.settings = mail_settings  # type: ignore[attr-defined]
    user = logged_in(client, session)
    audience(session, 1, phone="+15555550123", language="fa")
    segment = segment_of(session, settings)
    post_form(
        client,
        "/campaigns/new",
        _form(segment, channel="sms", body_fa="س" * 68, coupon_kind=""),
        page="/campaigns/new",
    )
    campaign = session.scalars(select(Campaign)).one()
    post_form(client, f"/campaigns/{campaign.id}/test", {}, page=f"/campaigns/{campaign.id}")
    got = smtp_sink.to(user.email)
    assert len(got) == 1
    assert str(got[0].message["Subject"]) == "[TEST] Nowruz offer (SMS)"
    text = body_of(got[0], "plain")
    # 68 letters and the opt-out word: more than 70 UCS-2 units, two messages.
    assert "س" * 68 in text and "2 x UCS-2" in text
    assert session.scalar(select(func.count()).select_from(Message)) == 0
