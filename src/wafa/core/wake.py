"""Asking the worker, in this process, to run an interval task now rather than at its turn.

A piece of work that makes something urgent for another task (an order confirmation
queued by the flows consumer, which ``messaging.send`` should hand over at once rather
than after every other consumer and task of the pass) calls ``after_commit(session,
name)``: once its transaction commits, the worker runs task ``name`` before it drains
the next consumer (``wafa.worker.runner``). A rolled-back transaction asks for nothing.

Only this process's worker hears it; a request that no worker takes is harmless (the
task runs at its turn anyway).
"""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.orm import Session

_lock = threading.Lock()
_wanted: set[str] = set()
_KEY = "wafa.wake"


def request(name: str) -> None:
    """Ask for task ``name`` to run as soon as the worker can."""
    with _lock:
        _wanted.add(name)


def after_commit(session: Session, name: str) -> None:
    """Ask for task ``name`` once the session's transaction commits (never if it rolls back)."""
    session.info.setdefault(_KEY, set()).add(name)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    names = session.info.pop(_KEY, None)
    if names:
        with _lock:
            _wanted.update(names)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_KEY, None)


def take() -> set[str]:
    """The tasks asked for since the last call (and forget them)."""
    with _lock:
        found = set(_wanted)
        _wanted.clear()
    return found


__all__ = ["after_commit", "request", "take"]
