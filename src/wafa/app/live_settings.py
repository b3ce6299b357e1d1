"""The owner's settings kept current in every server process.

The Settings page (``wafa.auth.business``) saves the shop's name, logo, colour, currency,
timezone, language, calendar and phone region in the database. The process that saved
them applies them at once; every other process (another web worker, another server) must
see them too without a restart. Each save writes a new version token in the same
transaction, and :class:`LiveSettings` reads that token before each request (one
primary-key read, off the event loop): when it differs from the one this process applied,
the settings (and the logo's version) are read again and put in force before the request
is handled, so the request already sees them. A route may read the token itself in its
own first statement instead (the webhook intake does, beside its connection: one round
trip and one thread hop fewer a delivery); the middleware then leaves its paths alone
and the route calls :func:`settings_for` with the token it read.
"""

from __future__ import annotations

import threading
from typing import Any

import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from wafa.auth import business
from wafa.core.settings import Settings
from wafa.web.templating import Templates

__all__ = ["RELOAD", "LiveSettings", "load", "refresh", "settings_for"]

#: Set as ``settings_version`` to reload at the next request (never a saved token).
RELOAD = ""
#: Paths that never read the settings (static files).
_SKIP = ("/static/",)


def load(base: Settings, factory: sessionmaker[Session]) -> tuple[Settings, str | None, str | None]:
    """``base`` with the owner's stored settings under it, the logo's version and the
    settings' version token, read in one transaction."""
    with factory() as session:
        token = business.version(session)
        found = business.logo(session)
        return (
            business.effective(base, business.stored(session)),
            found.version if found else None,
            token,
        )


_lock = threading.Lock()


def _reload(state: Any) -> None:
    with _lock:
        settings, logo_version, token = load(state.base_settings, state.read_sessions)
        state.settings = settings
        state.templates = Templates(settings)
        state.logo_version = logo_version
        state.settings_version = token


def settings_for(state: Any, token: str | None) -> Settings:
    """The settings in force for a request that read the version token itself (``token``,
    read in its own transaction): reloaded first when another process changed them."""
    if token != state.settings_version:
        _reload(state)
    settings: Settings = state.settings
    return settings


def refresh(state: Any) -> bool:
    """Reload the settings into ``state`` (an app's state) if another process changed them.

    Returns whether they were reloaded. ``state.settings_version`` is the token applied
    (``None``: nothing was ever saved); :data:`RELOAD`, never a token, forces a reload
    (the Settings page sets it after its own save, so that a failed commit cannot leave
    this process showing what was not saved).
    """
    factory: sessionmaker[Session] = state.read_sessions
    with factory() as session:
        token = business.version(session)
    if token == state.settings_version:
        return False
    _reload(state)
    return True


class LiveSettings:
    """ASGI middleware: before each HTTP request, apply settings saved by other processes
    (except under the prefixes ``checked_by_route`` and at the paths ``checked_paths``:
    those routes read the token themselves)."""

    def __init__(
        self,
        app: ASGIApp,
        checked_by_route: tuple[str, ...] = (),
        checked_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.skip = _SKIP + checked_by_route
        self.exact = checked_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = str(scope.get("path", ""))
            if not path.startswith(self.skip) and path not in self.exact:
                await anyio.to_thread.run_sync(refresh, scope["app"].state)
        await self.app(scope, receive, send)
