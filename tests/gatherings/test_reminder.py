"""The reminder's moment: 10:00 on the local day before (the business's zone), once; a
worker down the whole day before reminds at its first run after that, still before the
start, never from the start on and never twice; a seat taken on the event's own day is
not reminded. The clock is injected; the job runs as the worker runs it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import PG_ADMIN_URL, FrozenClock
from tests.gatherings.helpers import invited
from wafa.core import migrate
from wafa.core.db import dispose_engines
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.gatherings import jobs, service

# 19:00 on Friday 20 March 2026 in Tehran (UTC+3:30): 15:30 UTC.
STARTS = datetime(2026, 3, 20, 15, 30, tzinfo=UTC)
# 10:00 on the 19th in Tehran.
PLANNED = datetime(2026, 3, 19, 6, 30, tzinfo=UTC)


def _tehran(settings: Settings) -> Settings:
    return settings.model_copy(update={"timezone": "Asia/Tehran"})


def _reminders(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.topic == "gathering.reminder")
        )
        or 0
    )


def _seat(session: Session, g_id: object, customer_id: object) -> None:
    service.answer(
        session,
        gathering_id=g_id,  # type: ignore[arg-type]
        customer_id=customer_id,  # type: ignore[arg-type]
        answer="yes",
        source="link",
    )


def test_at_ten_on_the_local_day_before_once(
    session: Session, settings: Settings, clock: FrozenClock
) -> None:
    tehran = _tehran(settings)
    clock.set(PLANNED - timedelta(days=5))
    g, members = invited(session, tehran, 2, starts_at=STARTS)
    _seat(session, g.id, members[0].id)
    assert service.reminder_due_at(g, tehran) == PLANNED
    assert service.remind_due(session, settings=tehran, now=PLANNED - timedelta(minutes=1)) == 0
    assert service.remind_due(session, settings=tehran, now=PLANNED) == 1
    assert service.remind_due(session, settings=tehran, now=PLANNED + timedelta(minutes=1)) == 0
    assert _reminders(session) == 1
    event = session.scalar(select(OutboxEvent).where(OutboxEvent.topic == "gathering.reminder"))
    assert event is not None
    assert datetime.fromisoformat(event.payload["not_after"]) == STARTS


def test_a_worker_down_the_whole_day_before_reminds_on_the_day_before_the_start(
    session: Session, settings: Settings, clock: FrozenClock
) -> None:
    tehran = _tehran(settings)
    clock.set(PLANNED - timedelta(days=5))
    g, members = invited(session, tehran, 3, starts_at=STARTS)
    for m in members:
        _seat(session, g.id, m.id)
    # Nothing ran on the 19th; the first run is at 08:00 on the 20th (Tehran).
    first_run = datetime(2026, 3, 20, 4, 30, tzinfo=UTC)
    assert service.remind_due(session, settings=tehran, now=first_run) == 3
    assert service.remind_due(session, settings=tehran, now=first_run + timedelta(hours=1)) == 0
    assert _reminders(session) == 3


def test_never_from_the_start_on(session: Session, settings: Settings, clock: FrozenClock) -> None:
    tehran = _tehran(settings)
    clock.set(PLANNED - timedelta(days=5))
    g, members = invited(session, tehran, 1, starts_at=STARTS)
    _seat(session, g.id, members[0].id)
    assert service.remind_due(session, settings=tehran, now=STARTS) == 0
    assert service.remind_due(session, settings=tehran, now=STARTS + timedelta(hours=1)) == 0
    assert _reminders(session) == 0


def test_a_seat_taken_on_the_day_itself_is_not_reminded(
    session: Session, settings: Settings, clock: FrozenClock
) -> None:
    tehran = _tehran(settings)
    clock.set(PLANNED - timedelta(days=5))
    g, members = invited(session, tehran, 3, starts_at=STARTS)
    # The day before at 15:00 (after the planned moment): reminded at the next run.
    clock.set(PLANNED + timedelta(hours=5))
    _seat(session, g.id, members[0].id)
    assert service.remind_due(session, settings=tehran, now=clock.now) == 1
    # 00:30 on the event's day: that customer decided just now.
    clock.set(datetime(2026, 3, 19, 21, 0, tzinfo=UTC))
    _seat(session, g.id, members[1].id)
    assert service.remind_due(session, settings=tehran, now=clock.now) == 0
    assert _reminders(session) == 1


def test_the_job_as_the_worker_runs_it(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    tehran = _tehran(settings)
    clock.set(PLANNED - timedelta(days=5))
    g, members = invited(session, tehran, 2, starts_at=STARTS)
    _seat(session, g.id, members[0].id)
    session.commit()
    clock.set(PLANNED - timedelta(seconds=1))
    assert jobs.remind(session_factory, tehran) == {"reminded": 0}
    clock.set(datetime(2026, 3, 20, 14, 0, tzinfo=UTC))  # the day itself, 17:30 local
    assert jobs.remind(session_factory, tehran) == {"reminded": 1}
    assert jobs.remind(session_factory, tehran) == {"reminded": 0}


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the suite's kind, for migrating step by step."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        dispose_engines()
        return
    name = f"wafa_remind_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_FLOWS = sa.table(
    "flows",
    sa.column("id", sa.Uuid()),
    sa.column("key", sa.String()),
    sa.column("name", sa.String()),
    sa.column("enabled", sa.Boolean()),
    sa.column("kind", sa.String()),
    sa.column("holdout_percent", sa.Integer()),
    sa.column("conversion_days", sa.Integer()),
    sa.column("definition", sa.JSON()),
    sa.column("version", sa.Integer()),
    sa.column("preset", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _definitions(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return {
                r.key: r.definition for r in c.execute(sa.select(_FLOWS.c.key, _FLOWS.c.definition))
            }
    finally:
        engine.dispose()


def test_the_migration_drops_the_old_wait_and_keeps_an_owners_edit(fresh_url: str) -> None:
    """A store made before: its reminder flow waited until 10:00 after the trigger. The
    migration drops exactly that wait; an owner's own wait (another hour) is kept."""
    migrate.upgrade(fresh_url, "5d2c7e9a1b40")
    send = {"key": "remind", "type": "send", "channel": "email", "template": "x"}
    wait = {"key": "morning", "type": "wait", "minutes": 1, "at": "10:00"}
    old: dict[str, Any] = {
        "trigger": {"type": "event", "topic": "gathering.reminder"},
        "steps": [wait, send],
    }
    edited = {**old, "steps": [{**wait, "at": "09:00"}, send]}
    row = {
        "name": "x",
        "enabled": True,
        "kind": "transactional",
        "holdout_percent": 0,
        "conversion_days": 7,
        "version": 1,
        "preset": True,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    engine = create_engine(fresh_url)
    with engine.begin() as c:
        for key in ("event_reminder", "other"):
            c.execute(_FLOWS.insert().values(id=uuid.uuid4(), key=key, definition=old, **row))
    engine.dispose()
    migrate.upgrade(fresh_url)
    found = _definitions(fresh_url)
    assert found["event_reminder"]["steps"] == [send]
    assert found["other"] == old  # another flow is none of its business
    migrate.downgrade(fresh_url, "5d2c7e9a1b40")
    assert _definitions(fresh_url)["event_reminder"] == old
    engine = create_engine(fresh_url)
    with engine.begin() as c:
        c.execute(_FLOWS.update().where(_FLOWS.c.key == "event_reminder").values(definition=edited))
    engine.dispose()
    migrate.upgrade(fresh_url)
    assert _definitions(fresh_url)["event_reminder"] == edited
