"""The error hierarchy every domain raises; each entry layer maps it once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

Loc = tuple[str | int, ...]


class WafaError(Exception):
    """Base of every expected failure. ``code`` becomes the problem ``type`` slug."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Request failed"

    def __init__(self, detail: str, **context: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = context


class NotFound(WafaError):
    code = "not-found"
    status = 404
    title = "Not found"


class Conflict(WafaError):
    code = "conflict"
    status = 409
    title = "Conflict"


class Forbidden(WafaError):
    code = "forbidden"
    status = 403
    title = "Forbidden"


class Unauthorized(WafaError):
    code = "unauthorized"
    status = 401
    title = "Authentication required"


class Invalid(WafaError):
    """Bad input; carries ``[(loc, msg)]`` field errors."""

    code = "invalid"
    status = 422
    title = "Invalid input"

    def __init__(
        self,
        detail: str,
        errors: Sequence[tuple[Loc, str]] = (),
        **context: object,
    ) -> None:
        super().__init__(detail, **context)
        self.errors: list[tuple[Loc, str]] = list(errors)

    @classmethod
    def field(cls, loc: Loc | str, msg: str) -> Invalid:
        """Build an error about one field."""
        path: Loc = (loc,) if isinstance(loc, str) else loc
        return cls(f"{'.'.join(str(p) for p in path)}: {msg}", [(path, msg)])


class Busy(WafaError):
    """The server or its database is saturated right now: retry after ``retry_after`` seconds.

    Raised instead of letting a request wait without bound (a SQLite writer past its busy
    timeout, no pooled PostgreSQL connection in time, too many requests in flight). Entry
    layers answer 503 with ``Retry-After``.
    """

    code = "busy"
    status = 503
    title = "Busy, retry shortly"

    def __init__(self, detail: str, *, retry_after: int = 1, **context: object) -> None:
        super().__init__(detail, **context)
        self.retry_after = retry_after


class TooLarge(WafaError):
    """A request body over the route's limit (refused before it is read)."""

    code = "too-large"
    status = 413
    title = "Content too large"
