"""The worker's scheduled channel checks: kept per channel, since when one fails, shown on the
channels page; a channel that is not set up is not checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import make_settings
from tests.messaging.conftest import Sink, free_port
from tests.web.helpers import logged_in
from wafa.app.worker import build_worker
from wafa.core.domain import IntervalTask
from wafa.core.settings import Settings
from wafa.messaging import checks
from wafa.messaging.channels.base import Health
from wafa.messaging.checks import ChannelStatus
from wafa.messaging.models import ChannelCheck

T0 = datetime(2027, 1, 5, 10, 0, tzinfo=UTC)


def _status(name: str, ok: bool) -> ChannelStatus:
    return ChannelStatus(name, "smtp", Health(ok, "ready" if ok else "connection refused"))


class TestRecordChecks:
    def test_failing_since_is_kept_until_it_recovers(self, session: Session) -> None:
        assert checks.record_checks(session, [_status("email", True)], now=T0) == []
        later = T0 + timedelta(minutes=10)
        assert checks.record_checks(session, [_status("email", False)], now=later) == ["email"]
        # Still failing: the first failure's time stays, and it is not news again.
        latest = T0 + timedelta(minutes=20)
        assert checks.record_checks(session, [_status("email", False)], now=latest) == []
        row = session.get(ChannelCheck, "email")
        assert row is not None and not row.ok and row.failing_since == later
        assert row.checked_at == latest and row.detail == "connection refused"
        checks.record_checks(session, [_status("email", True)], now=latest + timedelta(hours=1))
        assert row.ok and row.failing_since is None

    def test_a_channel_no_longer_set_up_loses_its_row(self, session: Session) -> None:
        checks.record_checks(session, [_status("email", True), _status("sms", False)], now=T0)
        assert set(checks.last_checks(session)) == {"email", "sms"}
        checks.record_checks(session, [_status("email", True)], now=T0)
        assert set(checks.last_checks(session)) == {"email"}


class TestTheWorkersTask:
    def test_runs_in_a_worker_pass_against_a_real_server(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        session: Session,
        smtp_sink: Sink,
        mail_settings: Settings,
    ) -> None:
        worker = build_worker(mail_settings)
        task = next(t for t in worker.tasks if t.name == "messaging.channel_checks")
        assert isinstance(task, IntervalTask) and task.every == checks.CHECK_EVERY
        assert task.run(session_factory, mail_settings) == {"failing": 0}
        found = checks.last_checks(session)
        # Only email is set up here: SMS and WhatsApp are not checked.
        assert set(found) == {"email"} and found["email"].ok
        # The mail server goes away.
        gone = make_settings(settings.database_url, smtp_url=f"smtp://127.0.0.1:{free_port()}")
        assert task.run(session_factory, gone) == {"failing": 1}
        session.expire_all()
        row = session.get(ChannelCheck, "email")
        assert row is not None and not row.ok and row.failing_since is not None

    def test_the_channels_page_shows_the_last_check(
        self, client: TestClient, session: Session, mail_settings: Settings
    ) -> None:
        client.app.state.settings = mail_settings  # type: ignore[attr-defined]
        logged_in(client, session, locale="fa")
        checks.record_checks(session, [_status("email", False)], now=T0)
        page = client.get("/messaging")
        assert 'data-check="email"' in page.text and "connection refused" in page.text
        assert "آماده نیست" in page.text
