"""The program's rules over time: versions that apply from their instant on.

A change never edits a version: it saves a new one effective from now (or a later
instant), so points already awarded are never recomputed, and an order is always
judged by the rules in force when it was placed.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wafa.core.calendars import add_months, local_date, start_of_day
from wafa.core.errors import Conflict, Invalid
from wafa.core.ids import new_id
from wafa.core.money import minor_digits
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty.models import ProgramVersion
from wafa.loyalty.schemas.program import Earning, ExpiryPolicy, ProgramRules


class ProgramChanged(Conflict):
    code = "program-changed"


@dataclass(frozen=True)
class Rules:
    """The rules of one version (``version`` 0: the defaults, nothing saved yet)."""

    version: int
    effective_from: datetime | None
    rules: ProgramRules


_cache: dict[uuid.UUID, ProgramRules] = {}
_cache_lock = threading.Lock()


def default_rules(currency: str) -> ProgramRules:
    """The program before the owner changes anything: 1 point per major currency unit."""
    rate = max(1, 10_000 // 10 ** minor_digits(currency))
    return ProgramRules(earning=Earning(rate_bp=rate))


def _parse(version_id: uuid.UUID, raw: dict[str, object]) -> ProgramRules:
    with _cache_lock:
        found = _cache.get(version_id)
    if found is None:
        found = ProgramRules.model_validate(raw)
        with _cache_lock:
            _cache[version_id] = found
    return found


_VERSIONS = select(
    ProgramVersion.id, ProgramVersion.version, ProgramVersion.effective_from
).order_by(ProgramVersion.effective_from, ProgramVersion.version)


@dataclass(frozen=True)
class Versions:
    """Every saved version (id, number, effective instant), oldest first: one small query."""

    rows: tuple[tuple[uuid.UUID, int, datetime], ...]
    currency: str

    def at(self, session: Session, at: datetime) -> Rules:
        """The version in force at ``at`` (the first version for earlier instants)."""
        if not self.rows:
            return Rules(0, None, default_rules(self.currency))
        chosen = self.rows[0]
        for row in self.rows:
            if row[2] <= at:
                chosen = row
            else:
                break
        return Rules(chosen[1], chosen[2], _load(session, chosen[0]))

    def number(self, session: Session, version: int | None) -> ProgramRules:
        """The rules of a numbered version (the defaults for 0 or ``None``)."""
        for row in self.rows:
            if row[1] == version:
                return _load(session, row[0])
        return default_rules(self.currency)


def _load(session: Session, version_id: uuid.UUID) -> ProgramRules:
    with _cache_lock:
        found = _cache.get(version_id)
    if found is not None:
        return found
    raw = session.scalar(select(ProgramVersion.rules).where(ProgramVersion.id == version_id))
    return _parse(version_id, raw or {})


_VERSIONS_KEY = "loyalty_program_versions"


@contextmanager
def versions_read_once(session: Session) -> Iterator[None]:
    """Within the block, ``versions`` reads the list once (a page that asks for the rules
    several times: balance, offers, coupons); ``save_rules`` forgets it."""
    outer = _VERSIONS_KEY in session.info
    if not outer:
        session.info[_VERSIONS_KEY] = None
    try:
        yield
    finally:
        if not outer:
            session.info.pop(_VERSIONS_KEY, None)


def versions(session: Session, settings: Settings) -> Versions:
    """The program's versions as stored now (rules are parsed once per process and cached;
    the list is read each time, or once inside ``versions_read_once``)."""
    held = session.info.get(_VERSIONS_KEY)
    if isinstance(held, Versions) and held.currency == settings.currency:
        return held
    found = Versions(
        tuple((r[0], r[1], r[2]) for r in session.execute(_VERSIONS)), settings.currency
    )
    if _VERSIONS_KEY in session.info:
        session.info[_VERSIONS_KEY] = found
    return found


def rules_at(session: Session, settings: Settings, at: datetime | None = None) -> Rules:
    """The version in force at ``at`` (now by default).

    An instant before the first saved version is judged by the first version; with no
    version saved at all, the defaults apply.
    """
    return versions(session, settings).at(session, at or utcnow())


def rules_version(session: Session, settings: Settings, version: int | None) -> ProgramRules:
    """The rules of a numbered version (the defaults for 0 or ``None``)."""
    if not version:
        return default_rules(settings.currency)
    return versions(session, settings).number(session, version)


def save_rules(
    session: Session,
    *,
    rules: ProgramRules,
    by: str | None,
    effective_from: datetime | None = None,
    note: str | None = None,
) -> ProgramVersion:
    """Save ``rules`` as the next version, in force from ``effective_from`` (now by default).

    The past is never rewritten: an effective instant before now is refused.
    """
    now = utcnow()
    if effective_from is None:
        effective_from = now
    elif effective_from < now:
        raise Invalid.field(
            ("effective_from",), "changes apply from now on; choose now or a later instant"
        )
    try:
        validated = ProgramRules.model_validate(rules.model_dump())
    except ValidationError as exc:  # pragma: no cover - ``rules`` is already a model
        raise Invalid(
            "the program rules are not valid",
            [(tuple(e["loc"]), str(e["msg"])) for e in exc.errors()],
        ) from None
    if _VERSIONS_KEY in session.info:
        session.info[_VERSIONS_KEY] = None
    latest = session.scalar(select(func.max(ProgramVersion.version))) or 0
    version = ProgramVersion(
        id=new_id(),
        version=latest + 1,
        effective_from=effective_from,
        rules=validated.model_dump(mode="json"),
        note=note,
        created_by=by,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(version)
            session.flush()
    except IntegrityError:
        raise ProgramChanged(
            "another change to the program was saved at the same moment; reload and save again"
        ) from None
    return version


def list_versions(session: Session) -> list[ProgramVersion]:
    """Every saved version, newest first."""
    return list(session.scalars(select(ProgramVersion).order_by(ProgramVersion.version.desc())))


def expiry_for(rules: ProgramRules, earned_on_day: datetime, settings: Settings) -> datetime | None:
    """When points earned at ``earned_on_day`` lapse under a fixed-expiry program.

    Points earned on local day ``d`` are good through the day before
    ``d + months`` (business calendar) and gone from its first instant.
    """
    if rules.expiry.policy is not ExpiryPolicy.fixed:
        return None
    day = local_date(earned_on_day, settings.zone)
    return start_of_day(add_months(day, rules.expiry.months, settings.calendar), settings.zone)
