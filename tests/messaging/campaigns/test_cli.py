"""``wafa messaging campaign send|pause|resume`` and ``wafa worker run --once`` queuing and
sending a campaign to the loopback SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from tests.cli.conftest import Invoke
from tests.conftest import FrozenClock
from tests.messaging.campaigns.conftest import audience, draft, segment_of
from tests.messaging.conftest import Sink
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.messaging.models import Message
from wafa.messaging.policy import ChannelPolicy, MessagingPolicy, save_policy


def test_send_pause_resume_and_the_worker_sends_once(
    wafa: Invoke, committed_db: Settings, smtp_sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(committed_db) as session:
        save_policy(
            session, MessagingPolicy(email=ChannelPolicy(cap_hours=0, quiet=None)), by="test"
        )
        people = audience(session, 4)
        campaign_id = draft(
            session, committed_db, segment_of(session, committed_db), holdout_percent=0
        ).id
    monkeypatch.setenv("WAFA_SMTP_URL", smtp_sink.url)
    sent = wafa("messaging", "campaign", "send", str(campaign_id))
    assert sent.exit_code == 0, sent.output
    assert "queuing; recipients 4" in sent.stdout
    paused = wafa("messaging", "campaign", "pause", str(campaign_id))
    assert "paused" in paused.stdout
    wafa("worker", "run", "--once", "--no-daily")
    assert smtp_sink.received == []
    resumed = wafa("messaging", "campaign", "resume", str(campaign_id))
    assert resumed.exit_code == 0 and "queuing" in resumed.stdout
    ran = wafa("worker", "run", "--once", "--no-daily")
    assert ran.exit_code == 0, ran.output
    assert "messaging.campaigns: recipients 4" in ran.stdout
    assert {r.rcpt_tos[0] for r in smtp_sink.received} == {p.email for p in people}
    assert len(smtp_sink.received) == 4
    again = wafa("messaging", "campaign", "send", str(campaign_id))
    assert "finished" in again.stdout and "sent 4" in again.stdout
    with session_scope(committed_db, write=False) as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 4


def test_a_bad_id_is_refused(wafa: Invoke) -> None:
    result = wafa("messaging", "campaign", "send", "nope")
    assert result.exit_code != 0 and "not a campaign id" in result.stderr


def test_the_worker_takes_a_scheduled_campaigns_segment_at_its_time(
    wafa: Invoke,
    committed_db: Settings,
    smtp_sink: Sink,
    monkeypatch: pytest.MonkeyPatch,
    clock: FrozenClock,
) -> None:
    clock.set(datetime(2027, 5, 3, 12, 0, tzinfo=UTC))
    at = datetime(2027, 5, 3, 14, 0, tzinfo=UTC)
    with session_scope(committed_db) as session:
        save_policy(
            session, MessagingPolicy(email=ChannelPolicy(cap_hours=0, quiet=None)), by="test"
        )
        people = audience(session, 3)
        campaign_id = draft(
            session,
            committed_db,
            segment_of(session, committed_db),
            holdout_percent=0,
            schedule="at",
            send_at=at,
        ).id
    monkeypatch.setenv("WAFA_SMTP_URL", smtp_sink.url)
    sent = wafa("messaging", "campaign", "send", str(campaign_id))
    assert sent.exit_code == 0, sent.output
    assert "scheduled; recipients taken at the scheduled time" in sent.stdout
    ran = wafa("worker", "run", "--once", "--no-daily")
    assert "messaging.campaigns: recipients 0" in ran.stdout and smtp_sink.received == []
    with session_scope(committed_db) as session:
        late = audience(session, 1)[0]  # joins before the time: gets it
    clock.set(at)
    ran = wafa("worker", "run", "--once", "--no-daily")
    assert ran.exit_code == 0, ran.output
    assert "messaging.campaigns: recipients 4" in ran.stdout
    assert {r.rcpt_tos[0] for r in smtp_sink.received} == {p.email for p in [*people, late]}
