"""Helpers for the portal tests: a member with points, a signed-in client."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import create_customer
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.loyalty import service as loyalty
from wafa.portal import access


def member(session: Session, settings: Settings, points: int = 0, **overrides: Any) -> Customer:
    """A customer holding ``points`` available points (an adjustment by staff)."""
    customer = create_customer(session, **overrides)
    if points:
        loyalty.adjust(
            session,
            settings=settings,
            customer_id=customer.id,
            points=points,
            reason="welcome",
            by="test",
        )
    session.flush()
    return customer


def link_path(session: Session, settings: Settings, customer: Customer, **kw: Any) -> str:
    """The path of a fresh sign-in link for ``customer``."""
    url = access.issue_link(session, settings=settings, customer_id=customer.id, **kw).url
    session.flush()
    return url.removeprefix(settings.public_url.rstrip("/"))


def sign_in(client: TestClient, session: Session, settings: Settings, customer: Customer) -> None:
    """Open a sign-in link with ``client`` (its cookie jar then holds the session)."""
    answer = client.get(link_path(session, settings, customer), follow_redirects=False)
    assert answer.status_code == 303, answer.text
