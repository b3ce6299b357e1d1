"""The campaign report: deliveries, unsubscribes, bounces, and orders and revenue within
the window per recipient against per held-out customer, with Welch intervals."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_order
from tests.messaging.campaigns.conftest import audience, draft, queue_all, segment_of
from tests.messaging.conftest import Sink
from wafa.core.settings import Settings
from wafa.customers.models import ConsentChannel
from wafa.messaging import consent
from wafa.messaging.campaigns import report, service
from wafa.messaging.campaigns.models import CampaignRecipient
from wafa.messaging.pipeline import Pipeline
from wafa.messaging.policy import ChannelPolicy, MessagingPolicy, save_policy

T0 = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)


def _order(email: str, when: datetime, amount: int, **extra: object) -> dict[str, object]:
    return {
        "customer": {"email": email},
        "placed_at": when.isoformat(),
        "lines": [{"sku": "BEANS", "name": "Beans", "quantity": 1, "unit_price": amount}],
        **extra,
    }


def _welch(a: list[float], b: list[float]) -> tuple[float, float, float]:
    diff = statistics.fmean(a) - statistics.fmean(b)
    se = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
    return diff, diff - 1.959963984540054 * se, diff + 1.959963984540054 * se


def test_compare_matches_welch_by_hand() -> None:
    a, b = [0.0, 3.0, 5.0, 0.0, 8.0], [1.0, 0.0, 0.0, 2.0]
    got = report.compare(
        len(a), sum(a), sum(x * x for x in a), len(b), sum(b), sum(x * x for x in b)
    )
    diff, low, high = _welch(a, b)
    assert got.difference == pytest.approx(diff)
    assert got.low == pytest.approx(low) and got.high == pytest.approx(high)
    assert report.compare(3, 3, 3, 0, 0, 0).difference is None
    assert report.compare(3, 3, 3, 1, 1, 1).low is None


def test_the_report_of_a_sent_campaign(
    session: Session,
    mail_settings: Settings,
    pipeline: Pipeline,
    smtp_sink: Sink,
    clock: FrozenClock,
    api: TestClient,
) -> None:
    clock.set(T0)
    save_policy(session, MessagingPolicy(email=ChannelPolicy(cap_hours=0, quiet=None)), by="test")
    people = audience(session, 24)
    campaign = draft(
        session,
        mail_settings,
        segment_of(session, mail_settings),
        holdout_percent=40,
        report_days=14,
    )
    service.start_sending(session, settings=mail_settings, campaign_id=campaign.id)
    queue_all(session, mail_settings, campaign.id)
    flags = dict(
        session.execute(select(CampaignRecipient.customer_id, CampaignRecipient.holdout)).all()
    )
    chosen = [p for p in people if not flags[p.id]]
    held = [p for p in people if flags[p.id]]
    assert len(chosen) >= 3 and len(held) >= 3
    smtp_sink.reply_to_rcpt(chosen[0].email or "", "550 5.1.1 no such user")
    session.flush()
    pipeline.run_once()

    clock.set(T0 + timedelta(hours=3))
    consent.set_channel_consent(
        session, customer_id=chosen[1].id, channel=ConsentChannel.email, granted=False, source="t"
    )
    revenue: dict[str, float] = {}
    for i, person in enumerate(chosen):
        amount = 1000 + 100 * i
        create_order(session, **_order(person.email or "", T0 + timedelta(days=1), amount))
        revenue[person.email or ""] = amount
    for i, person in enumerate(held):
        if i % 2 == 0:
            create_order(session, **_order(person.email or "", T0 + timedelta(days=2), 500))
            revenue[person.email or ""] = 500
    # Outside the window, before the campaign, and cancelled: none of them counts.
    create_order(session, **_order(held[1].email or "", T0 + timedelta(days=20), 9999))
    create_order(session, **_order(held[1].email or "", T0 - timedelta(days=1), 9999))
    create_order(
        session, **_order(held[1].email or "", T0 + timedelta(days=1), 9999, status="cancelled")
    )
    clock.set(T0 + timedelta(days=30))

    found = report.campaign_report(session, settings=mail_settings, campaign_id=campaign.id)
    assert (found.recipients, found.holdout) == (len(chosen), len(held))
    assert found.counts["sent"] == len(chosen) - 1
    assert found.failed_by_reason == {"hard_bounce": 1} and found.bounces == 1
    assert found.unsubscribes == 1
    assert found.window_open is False and found.days == 14
    a = [revenue.get(p.email or "", 0.0) for p in chosen]
    b = [revenue.get(p.email or "", 0.0) for p in held]
    diff, low, high = _welch(a, b)
    assert found.revenue.recipients == pytest.approx(statistics.fmean(a))
    assert found.revenue.difference == pytest.approx(diff)
    assert found.revenue.low == pytest.approx(low)
    assert found.revenue.high == pytest.approx(high)
    assert found.conversion.recipients == 1.0
    assert found.conversion.holdout == pytest.approx(len(range(0, len(held), 2)) / len(held))
    assert found.orders.difference == pytest.approx(1.0 - found.conversion.holdout)  # type: ignore[operator]
    assert found.added_revenue == pytest.approx(diff * len(chosen))

    answer = api.get(f"/api/v1/campaigns/{campaign.id}/report", params={"days": 30})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["days"] == 30 and "Welch" in body["method"]
    assert body["revenue"]["holdout"] > found.revenue.holdout  # the day-20 order now counts
