"""/api/v1/events: create (idempotent), change, invite, answer for a customer, RSVPs in
order, check in with points once, cancel; bad input names the field and writes nothing;
who may (``manage_events``; check-in with ``serve``)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.gatherings.helpers import city_segment, people
from wafa.core.settings import Settings
from wafa.gatherings import service
from wafa.gatherings.models import Gathering


def _body(clock: FrozenClock, **kw: object) -> dict[str, object]:
    starts = clock.now + timedelta(days=3)
    body: dict[str, object] = {
        "name_en": "Tasting evening",
        "name_fa": "شب چشیدن",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "place": "The shop",
        "capacity": 2,
        "points": 25,
    }
    body.update(kw)
    return body


def test_the_whole_way(
    api: TestClient, session: Session, settings: Settings, clock: FrozenClock
) -> None:
    segment = city_segment(session, settings)
    members = people(session, 3)
    headers = {"Idempotency-Key": "event-1"}
    made = api.post(
        "/api/v1/events", json=_body(clock, segment_id=str(segment.id)), headers=headers
    )
    assert made.status_code == 201, made.text
    again = api.post(
        "/api/v1/events", json=_body(clock, segment_id=str(segment.id)), headers=headers
    )
    assert again.json()["id"] == made.json()["id"]
    assert session.scalar(select(func.count()).select_from(Gathering)) == 1
    eid = made.json()["id"]
    assert made.json()["status"] == "draft"
    assert api.post(f"/api/v1/events/{eid}/invitations").status_code == 202
    service.invite_batch(session, settings=settings, gathering_id=uuid.UUID(eid))
    for m in members:
        answered = api.put(f"/api/v1/events/{eid}/rsvps/{m.id}", json={"answer": "yes"})
        assert answered.status_code == 200, answered.text
    rsvps = api.get(f"/api/v1/events/{eid}/rsvps").json()
    assert [r["status"] for r in rsvps] == ["yes", "yes", "waiting"]
    assert api.get(f"/api/v1/events/{eid}").json()["accepted"] == 2
    clock.advance(days=3, minutes=5)
    for _ in range(2):
        came = api.post(f"/api/v1/events/{eid}/check-ins", json={"customer_id": str(members[0].id)})
        assert came.status_code == 200 and came.json()["points_awarded"] == 25
    waiting = api.post(f"/api/v1/events/{eid}/check-ins", json={"customer_id": str(members[2].id)})
    assert waiting.status_code == 409 and waiting.json()["type"].endswith("not-coming")
    assert api.post(f"/api/v1/events/{eid}/cancel").json()["status"] == "cancelled"


def test_bad_input_names_the_field_and_writes_nothing(
    api: TestClient, session: Session, clock: FrozenClock
) -> None:
    bad = api.post("/api/v1/events", json=_body(clock, capacity=0, place=""))
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert {tuple(e["loc"])[-1] for e in bad.json()["errors"]} >= {"capacity", "place"}
    backwards = _body(clock)
    backwards["ends_at"], backwards["starts_at"] = backwards["starts_at"], backwards["ends_at"]
    refused = api.post("/api/v1/events", json=backwards)
    assert refused.status_code == 422
    assert [tuple(e["loc"])[-1] for e in refused.json()["errors"]] == ["ends_at"]
    naive = api.post("/api/v1/events", json=_body(clock, starts_at="2030-01-01T19:00:00"))
    assert naive.status_code == 422
    assert session.scalar(select(func.count()).select_from(Gathering)) == 0
