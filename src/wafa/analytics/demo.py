"""Demo hook: ``wafa demo`` calls :func:`populate` after building the store's orders."""

from __future__ import annotations

from sqlalchemy.orm import Session

from wafa.analytics import refresh as refreshing
from wafa.core.settings import Settings


def populate(session: Session, *, settings: Settings, seed: int) -> None:
    """Run a refresh so the demo store opens with scores, segments and predictions.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        The demo build's write session (the refresh joins its transaction).
    settings : Settings
        Business currency, timezone and calendar.
    seed : int
        The demo's seed (the refresh is deterministic given the orders).
    """
    refreshing.refresh(session, settings=settings, options=refreshing.RefreshOptions())
