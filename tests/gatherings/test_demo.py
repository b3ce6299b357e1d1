"""The demo store's events (after the loyalty demo, whose tiers make the Gold segment):
one coming up, invited and answered; one three weeks ago with check-ins booked through
the ledger once each; ``wafa events list`` shows them (days in the shop's calendar)."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from tests.cli.conftest import Invoke, wafa  # noqa: F401 - the fixture
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.demo import store
from wafa.gatherings import service
from wafa.gatherings.declaration import GATHERINGS
from wafa.gatherings.models import Gathering, Rsvp
from wafa.loyalty.declaration import LOYALTY
from wafa.loyalty.models import PointsEntry
from wafa.messaging.segments import service as segments


def test_the_demo_has_an_upcoming_and_a_past_event(
    committed_db: Settings,
    wafa: Invoke,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with session_scope(committed_db) as session:
        store.build_demo(
            session,
            settings=committed_db,
            customers_count=600,
            seed=5,
            extensions=(LOYALTY, GATHERINGS),
        )
    with session_scope(committed_db) as session:
        [coming] = service.list_gatherings(session)
        [past] = service.list_gatherings(session, past=True)
        assert coming.starts_at > utcnow() > past.ends_at
        assert coming.status == past.status == "open"
        gold = segments.get_segment(session, coming.segment_id)  # type: ignore[arg-type]
        members = segments.members_query(
            session, settings=committed_db, rules=segments.stored_rules(gold)
        )
        n_gold = session.scalar(select(func.count()).select_from(members.subquery()))
        c = service.counts(session, coming.id)
        assert n_gold and c.invited + c.yes + c.waiting + c.no == n_gold
        assert c.yes == coming.accepted and c.yes + c.no > 0
        assert coming.accepted <= coming.capacity
        p = service.counts(session, past.id)
        assert 0 < p.checked_in <= p.yes == past.accepted
        booked = session.scalars(
            select(PointsEntry.occasion).where(PointsEntry.occasion.like("gathering:%"))
        ).all()
        came = session.scalars(
            select(Rsvp.id).where(Rsvp.gathering_id == past.id, Rsvp.checked_in_at.is_not(None))
        ).all()
        assert sorted(booked) == sorted(f"gathering:{r}" for r in came)
        assert session.scalar(select(func.count()).select_from(Gathering)) == 2

    listed = wafa("events", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert row["name"] == coming.name_en and row["seats_taken"] == c.yes
    assert row["no_answer"] == c.invited and row["waiting"] == c.waiting
    monkeypatch.setenv("WAFA_CALENDAR", "jalali")
    from wafa.core.settings import get_settings

    get_settings.cache_clear()
    table = wafa("events", "list", "--past")
    assert table.exit_code == 0, table.output
    assert "Latte art" in table.stdout
    assert re.search(r"14\d\d-\d\d-\d\d", table.stdout), table.stdout  # the Jalali day
