"""The hourly cleanup forgets expired sessions, codes and attempts, and nothing that counts."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.portal.helpers import member, sign_in
from wafa.app import domains
from wafa.core.settings import Settings
from wafa.portal.jobs import forget_expired
from wafa.portal.models import PortalAttempt, PortalLink, PortalSession


def _count(session: Session, model: object) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


def test_expired_rows_go_and_live_ones_stay(
    client: TestClient, session: Session, settings: Settings, clock: FrozenClock
) -> None:
    assert "portal.cleanup" in {t.name for t in domains.tasks()}
    customer = member(session, settings)
    sign_in(client, session, settings, customer)
    client.post("/portal/login", data={"address": "someone@example.com"})
    assert forget_expired(session) == {"sessions": 0, "codes": 0, "attempts": 0}
    clock.advance(days=31)
    assert forget_expired(session) == {"sessions": 1, "codes": 0, "attempts": 2}
    assert _count(session, PortalSession) == _count(session, PortalAttempt) == 0
    assert _count(session, PortalLink) == 1  # spent links stay spent
    assert forget_expired(session) == {"sessions": 0, "codes": 0, "attempts": 0}
