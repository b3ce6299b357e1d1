"""One worker's sender: take a group, decide, send, record (see ``wafa.messaging.pipeline``).

About 800 lines, kept in one module on purpose: its transactions (take and decide, the
marks before each hand-over, record) and the heartbeat and lapse that guard them read top
to bottom here; what they read is in ``group``, what an answer means in ``outcomes``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    delete,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from wafa.core.db import among, dialect_name, rowcount
from wafa.core.events import row as event_row
from wafa.core.events import write_rows
from wafa.core.links import LinkSigner
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.messaging import consent
from wafa.messaging.campaigns.models import Campaign, CampaignStatus
from wafa.messaging.channels import Channel as ChannelImpl
from wafa.messaging.channels import Outcome, Outgoing, SendResult, build_channels
from wafa.messaging.channels.base import Disabled
from wafa.messaging.events import SETTLED_EVENTS
from wafa.messaging.models import (
    Kind,
    Message,
    MessageContent,
    OnCap,
    SendWorker,
    SoftFailure,
    Status,
)
from wafa.messaging.pipeline import group, outcomes
from wafa.messaging.pipeline.compose import compose, logo_url
from wafa.messaging.pipeline.outcomes import Handover
from wafa.messaging.policy import MessagingPolicy, QuietCalendar, load_policy

log = logging.getLogger("wafa.messaging")

HEARTBEAT_SECONDS = 15.0
POLICY_SECONDS = 2.0
LIST_UNSUBSCRIBE_POST = "List-Unsubscribe=One-Click"
#: Messages a connection marks as handed over (``handed_at``, one committed ``UPDATE``)
#: before it hands them to the server. A worker killed at any moment leaves at most this
#: many per connection marked but not handed (they end ``unknown`` with the ones the
#: server did receive); every other message it held either reached the server or goes
#: back to the queue. Smaller means fewer such messages and more marks: with 10, a group
#: of 100 on 4 connections costs 12 marks (one statement each, ``_marker``) beside its two
#: transactions, against 16 with 8 (whose last mark of a connection's 25 takes one).
HANDOVER_CHUNK = 10

_MESSAGES = cast(Table, Message.__table__)
#: What a settled message's event needs (``_event_row``), as the columns an ``UPDATE``
#: returns.
_EVENT_COLUMNS = tuple(
    _MESSAGES.c[name]
    for name in (
        "id",
        "customer_id",
        "channel",
        "kind",
        "reason",
        "occasion",
        "campaign_id",
        "flow_id",
        "subject_line",
    )
)
# Messages that count against a frequency cap: handed over, or possibly handed over.
_CAP_STATUSES = (Status.sending.value, Status.sent.value, Status.unknown.value)
#: The mark (``Pipeline._marker``): ``ids`` as handed over where ``worker`` still holds
#: them unmarked, returning those marked, the only ones it may hand over. Built once.
_MARK = (
    update(_MESSAGES)
    .where(
        _MESSAGES.c.id.in_(bindparam("ids", expanding=True, type_=_MESSAGES.c.id.type)),
        _MESSAGES.c.status == Status.sending.value,
        _MESSAGES.c.claimed_by == bindparam("worker", type_=_MESSAGES.c.claimed_by.type),
        _MESSAGES.c.handed_at.is_(None),
    )
    .values(handed_at=bindparam("now", type_=_MESSAGES.c.handed_at.type))
    .returning(_MESSAGES.c.id)
)
# The turns of the pipelines whose sessions share one connection (``Pipeline._turns``).
_TURNS: weakref.WeakKeyDictionary[Connection, threading.Lock] = weakref.WeakKeyDictionary()
_TURNS_LOCK = threading.Lock()


@dataclass
class Report:
    """What one pass did."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    held: int = 0
    retried: int = 0
    unknown: int = 0
    #: Messages of stopped workers settled as ``unknown`` (they may have been handed over).
    lapsed: int = 0
    #: Messages taken but never handed over (of a stopped worker, or whose mark failed),
    #: put back in the queue to be decided again.
    requeued: int = 0

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if v}

    @property
    def busy(self) -> bool:
        return bool(self.sent or self.failed or self.skipped or self.retried or self.unknown)


class Unhanded(Enum):
    """Why a message of a group was not handed over (``Pipeline._send``)."""

    #: Its mark did not take: another worker settled or re-queued it meanwhile (this one
    #: was taken for stopped), so it is no longer this worker's to send or to record.
    declined = "declined"
    #: Its connection's mark failed (a database error: it may or may not have been
    #: written), or an earlier one did and the connection stopped: never handed over.
    mark_failed = "mark_failed"


@dataclass
class _Decisions:
    skipped: list[tuple[Message, str, str | None]] = field(default_factory=list)
    held: list[tuple[Message, datetime]] = field(default_factory=list)
    ready: list[tuple[Message, Handover]] = field(default_factory=list)


def _event_row(
    message: Message | Mapping[str, Any],
    status: str,
    reason: str | None,
    subject: str | None = None,
) -> dict[str, Any]:
    def get(name: str) -> Any:
        return message[name] if isinstance(message, Mapping) else getattr(message, name)

    event_type = SETTLED_EVENTS[status]
    event = event_type(
        message_id=get("id"),
        customer_id=get("customer_id"),
        channel=get("channel"),
        kind=get("kind"),
        reason=get("reason"),
        occasion=get("occasion"),
        status=status,
        status_reason=reason,
        campaign_id=get("campaign_id"),
        flow_id=get("flow_id"),
        subject=subject,
    )
    return event_row(event)


def _update_each(
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    *,
    constant: Mapping[str, Any],
    statuses: tuple[str, ...],
    claimed_by: str | None = None,
) -> None:
    """Give each message of ``rows`` (``{"id": ..., column: value, ...}``, the same columns
    in every row) its own values and every one the ``constant`` ones, where its status is
    one of ``statuses`` (and, with ``claimed_by``, this worker holds it).

    On PostgreSQL one statement for the whole group (``UPDATE … FROM unnest(arrays)``: the
    same short text for any group, each column one array parameter), instead of an
    ``UPDATE`` per message; on SQLite an executemany of the same guarded ``UPDATE``."""
    if not rows:
        return
    own = [c for c in rows[0] if c != "id"]
    if dialect_name(session) != "postgresql":
        guard = and_(
            _MESSAGES.c.id == bindparam("b_id"),
            # (no IN list: an executemany cannot expand one)
            or_(*(_MESSAGES.c.status == s for s in statuses)),
        )
        if claimed_by is not None:
            guard = and_(guard, _MESSAGES.c.claimed_by == claimed_by)
        session.execute(
            update(_MESSAGES)
            .where(guard)
            .values(**constant, **{c: bindparam(f"b_{c}") for c in own}),
            [{f"b_{k}": v for k, v in row.items()} for row in rows],
        )
        return
    dialect = session.get_bind().dialect

    def sql_type(column: str) -> str:
        return str(_MESSAGES.c[column].type.compile(dialect))

    names = ["id", *own]
    arrays = ", ".join(f"CAST(:r_{c} AS {sql_type(c)}[])" for c in names)
    assigned = [f'"{c}" = CAST(:k_{c} AS {sql_type(c)})' for c in constant]
    assigned += [f'"{c}" = r.{c}' for c in own]
    where = ["m.id = r.id", "m.status = ANY(CAST(:statuses AS VARCHAR[]))"]
    params: dict[str, Any] = {f"k_{c}": v for c, v in constant.items()}
    params.update({f"r_{c}": [row[c] for row in rows] for c in names})
    params["statuses"] = list(statuses)
    if claimed_by is not None:
        where.append("m.claimed_by = :claimed_by")
        params["claimed_by"] = claimed_by
    session.execute(
        text(
            f'UPDATE "{_MESSAGES.name}" AS m SET {", ".join(assigned)} '
            f"FROM unnest({arrays}) AS r({', '.join(names)}) WHERE {' AND '.join(where)}"
        ),
        params,
    )


def _requeue(session: Session, ids: Sequence[uuid.UUID], now: datetime, *guard: Any) -> int:
    """Put back in the queue the messages of ``ids`` still ``sending`` and never marked as
    handed over (and matching ``guard``); returns how many. Their take is undone: no
    claim, one attempt less; they are decided again when due (consent, caps, quiet hours
    as they are then), unless their campaign was paused or cancelled meanwhile."""
    requeued = list(
        session.scalars(
            update(_MESSAGES)
            .where(
                _MESSAGES.c.id.in_(ids),
                _MESSAGES.c.status == Status.sending.value,
                _MESSAGES.c.handed_at.is_(None),
                *guard,
            )
            .values(
                status=Status.queued.value,
                status_reason=None,
                claimed_by=None,
                sending_at=None,
                attempts=_MESSAGES.c.attempts - 1,
            )
            .returning(_MESSAGES.c.id)
        )
    )
    _follow_campaigns(session, requeued, now)
    return len(requeued)


def _follow_campaigns(session: Session, ids: Sequence[uuid.UUID], now: datetime) -> None:
    """Messages of ``ids`` back in the queue (re-queued, or to be retried) whose campaign
    was paused or cancelled while a worker held them join the campaign's other messages:
    paused, or skipped as ``cancelled`` (what pausing and cancelling did to those queued;
    ``wafa.messaging.queue``)."""
    if not ids:
        return
    campaigns = cast(Table, Campaign.__table__)
    for state, values in (
        (CampaignStatus.paused, {"status": Status.paused.value}),
        (
            CampaignStatus.cancelled,
            {"status": Status.skipped.value, "status_reason": "cancelled", "settled_at": now},
        ),
    ):
        session.execute(
            update(_MESSAGES)
            .where(
                _MESSAGES.c.id.in_(ids),
                _MESSAGES.c.status == Status.queued.value,
                _MESSAGES.c.campaign_id.in_(
                    select(campaigns.c.id).where(campaigns.c.status == state.value)
                ),
            )
            .values(**values)
        )


def _settle_unknown(
    session: Session, ids: Sequence[uuid.UUID], reason: str, now: datetime, *guard: Any
) -> int:
    """Settle as ``unknown`` the messages of ``ids`` still ``sending`` (and matching
    ``guard``), each with its event; returns how many."""
    rows = (
        session.execute(
            update(_MESSAGES)
            .where(_MESSAGES.c.id.in_(ids), _MESSAGES.c.status == Status.sending.value, *guard)
            .values(status=Status.unknown.value, status_reason=reason, settled_at=now)
            .returning(*_EVENT_COLUMNS)
        )
        .mappings()
        .all()
    )
    write_rows(session, [_event_row(dict(r), "unknown", reason, r["subject_line"]) for r in rows])
    return len(rows)


class Pipeline:
    """One worker's sender. ``run_once`` sends what is due and returns."""

    def __init__(
        self,
        settings: Settings,
        factory: Callable[[], Session] | sessionmaker[Session],
        *,
        channels: Mapping[str, ChannelImpl] | None = None,
        group: int = 100,
        worker_id: str | None = None,
        lapse: timedelta | None = None,
    ) -> None:
        self.settings = settings
        self.factory = factory
        if channels is not None:
            self.lanes: dict[str, list[ChannelImpl]] = {k: [v] for k, v in channels.items()}
        else:
            # Several connections per channel, each with its share of the rate limit: a
            # message's time is mostly waiting for the server's answers, and a group's
            # messages then wait side by side (each is still handed over exactly once).
            lanes = max(1, settings.send_connections)
            built = [build_channels(settings, share=lanes) for _ in range(lanes)]
            self.lanes = {name: [b[name] for b in built] for name in built[0]}
        self.channels = {name: lanes_[0] for name, lanes_ in self.lanes.items()}
        self.group = group
        self.worker_id = (
            worker_id or f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        self.lapse = lapse or timedelta(seconds=settings.send_lapse_seconds)
        # Beat well within the lapse, so a live worker is never taken for a stopped one.
        self.beat_every = min(HEARTBEAT_SECONDS, self.lapse.total_seconds() / 4)
        self._beat_at = 0.0
        self._secret: str | None = None
        self._policy: tuple[float, MessagingPolicy] | None = None
        self._signer: LinkSigner | None = None
        # The connections' marks run in their threads beside the take and the record. A
        # factory bound to one connection (a test's transaction) cannot serve two threads
        # at once, so the transactions of every pipeline on it take turns; an engine's
        # sessions need no lock.
        bind = factory.kw.get("bind") if isinstance(factory, sessionmaker) else None
        self._turns: AbstractContextManager[Any] = nullcontext()
        self._engine = bind if isinstance(bind, Engine) else None
        if isinstance(bind, Connection):
            with _TURNS_LOCK:
                self._turns = _TURNS.setdefault(bind, threading.Lock())

    # ------------------------------------------------------------------ bookkeeping

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """One transaction of this worker (committed at the end, rolled back on error)."""
        with self._turns, self.factory() as session, session.begin():
            yield session

    def _keys(self, session: Session) -> tuple[str, LinkSigner]:
        """The address-hash key and the link signer (read once)."""
        if self._secret is None:
            self._secret = consent.hash_key(session)
            self._signer = LinkSigner(consent.secret_key(session, self.settings))
        assert self._signer is not None
        return self._secret, self._signer

    def _current_policy(self, session: Session) -> MessagingPolicy:
        """The stored policy, read at most every two seconds (an owner's change applies
        within two seconds; a group does not read the same row twice)."""
        if self._policy is None or time.monotonic() - self._policy[0] > POLICY_SECONDS:
            self._policy = (time.monotonic(), load_policy(session))
        return self._policy[1]

    def heartbeat(self, *, force: bool = False) -> None:
        """Tell other workers this one is alive (at most every ``beat_every`` seconds)."""
        if not force and time.monotonic() - self._beat_at < self.beat_every:
            return
        now = utcnow()
        with self._transaction() as session:
            updated = rowcount(
                session.execute(
                    update(SendWorker).where(SendWorker.id == self.worker_id).values(seen_at=now)
                )
            )
            if not updated:
                session.add(
                    SendWorker(
                        id=self.worker_id,
                        host=socket.gethostname()[:200],
                        pid=os.getpid(),
                        started_at=now,
                        seen_at=now,
                    )
                )
        self._beat_at = time.monotonic()

    def settle_lapsed(self) -> tuple[int, int]:
        """Settle the ``sending`` messages of workers silent for ``lapse``: those marked as
        handed over (``handed_at``) may have reached the server and become ``unknown``
        (never sent again); the others never left and go back to the queue, to be decided
        again. Returns (unknown, re-queued)."""
        now = utcnow()
        cutoff = now - self.lapse
        with self._transaction() as session:
            dead = list(session.scalars(select(SendWorker.id).where(SendWorker.seen_at < cutoff)))
            alive = select(SendWorker.id).where(SendWorker.seen_at >= cutoff)
            ids = list(
                session.scalars(
                    select(Message.id)
                    .where(
                        Message.status == Status.sending,
                        or_(Message.claimed_by.is_(None), Message.claimed_by.not_in(alive)),
                    )
                    .limit(5000)
                )
            )
            # Both statements re-check the claim (a worker may have taken a message again
            # since the select). The unmarked first: a mark the presumed-dead worker
            # commits meanwhile keeps its message out of this one and in the next.
            stopped = or_(_MESSAGES.c.claimed_by.is_(None), _MESSAGES.c.claimed_by.not_in(alive))
            requeued = _requeue(session, ids, now, stopped) if ids else 0
            lost = (
                _settle_unknown(
                    session, ids, "worker_lost", now, stopped, _MESSAGES.c.handed_at.is_not(None)
                )
                if ids
                else 0
            )
            if requeued:
                log.warning(
                    "%d messages of stopped workers never handed over: queued again", requeued
                )
            if lost:
                log.warning("%d messages of stopped workers settled as unknown", lost)
            if dead:
                session.execute(delete(SendWorker).where(SendWorker.id.in_(dead)))
        return lost, requeued

    def stop(self) -> None:
        """Close the channels and remove this worker's heartbeat."""
        for lanes in self.lanes.values():
            for channel in lanes:
                channel.close()
        with self._transaction() as session:
            session.execute(delete(SendWorker).where(SendWorker.id == self.worker_id))

    # ------------------------------------------------------------------ one pass

    def run_once(self, *, limit: int | None = None) -> Report:
        """Send everything due now (at most ``limit`` messages taken), then return.

        Groups overlap by one: while a group is handed over (threads, one per connection),
        the next one is taken and decided, and the previous one is recorded once its
        answers are in. A message is ``sending`` (committed) from its take, marked as
        handed over (committed, ``HANDOVER_CHUNK`` at a time per connection) just before
        it is handed over, and settled only after its answer. A crash therefore leaves
        ``unknown`` only the marked messages not yet recorded (those the server received,
        and at most ``HANDOVER_CHUNK`` a connection that it did not); the rest of the
        groups in hand go back to the queue. Never sent twice."""
        report = Report()
        self.heartbeat(force=True)
        report.lapsed, report.requeued = self.settle_lapsed()
        taken = 0
        lanes = sum(len(found) for found in self.lanes.values())
        in_hand: tuple[list[Handover], Future[list[SendResult | Unhanded]]] | None = None
        with ThreadPoolExecutor(max_workers=lanes + 1, thread_name_prefix="wafa-send") as pool:
            try:
                while limit is None or taken < limit:
                    self.heartbeat()
                    size = self.group if limit is None else min(self.group, limit - taken)
                    ready, count = self._take(size, report)
                    taken += count
                    if in_hand is not None:
                        self._record(in_hand[0], self._answers(in_hand[1]), report)
                        in_hand = None
                    if ready:
                        in_hand = (ready, pool.submit(self._send, ready, pool))
                    if count < size:
                        break
            finally:
                if in_hand is not None:
                    self._record(in_hand[0], self._answers(in_hand[1]), report)
        return report

    def _answers(self, sending: Future[list[SendResult | Unhanded]]) -> list[SendResult | Unhanded]:
        """The results of a group being handed over, beating the heart while waiting (a
        slow server must not make this worker look stopped)."""
        while True:
            try:
                return sending.result(timeout=self.beat_every / 2)
            except FutureTimeout:
                self.heartbeat()

    # ------------------------------------------------------------------ step 1

    def _take(self, size: int, report: Report) -> tuple[list[Handover], int]:
        now = utcnow()
        with self._transaction() as session:
            session.autoflush = False  # rows change by the Core updates of _apply only
            messages = group.due_messages(session, now, size)
            if not messages:
                return [], 0
            decisions = self._decide(session, messages, now)
            self._apply(session, decisions, now, report)
            return [r for _, r in decisions.ready], len(messages)

    def _decide(self, session: Session, messages: Sequence[Message], now: datetime) -> _Decisions:
        secret, signer = self._keys(session)
        policy = self._current_policy(session)
        calendar = QuietCalendar(policy, country=self.settings.phone_region)
        out = _Decisions()
        customer_ids = {m.customer_id for m in messages}
        customers = {
            c.id: c
            for c in session.scalars(
                select(Customer).where(among(session, Customer.id, customer_ids))
            )
        }
        contents = {
            c.id: c
            for c in session.scalars(
                select(MessageContent).where(
                    MessageContent.id.in_({m.content_id for m in messages})
                )
            )
        }
        suppressed = group.suppressions(session, secret, messages, customers)
        marketing = [m for m in messages if m.kind == Kind.marketing]
        last_sent = group.last_marketing(session, marketing, policy, now)
        rivals = group.rivals(session, marketing, now)
        facts = group.load_facts(session, marketing, double_opt_in=policy.double_opt_in)
        logo = logo_url(session, self.settings)
        granted_in_group: dict[tuple[uuid.UUID, str], bool] = {}
        for message in messages:
            customer = customers.get(message.customer_id)
            if message.expires_at is not None and now >= message.expires_at:
                out.skipped.append((message, "expired", None))
                continue
            if customer is None or not customer.is_active:
                out.skipped.append((message, "customer_gone", None))
                continue
            channel = self.channels.get(message.channel)
            if channel is None or isinstance(channel, Disabled):
                out.skipped.append((message, "channel_off", None))
                continue
            address = consent.address_of(customer, message.channel)
            if not address:
                out.skipped.append((message, "no_address", None))
                continue
            medium = consent.medium_of(message.channel)
            entry = suppressed.get((medium, consent.address_hash(secret, medium, address)))
            if consent.blocks(entry, message.kind):
                out.skipped.append((message, "suppressed", None))
                continue
            if message.kind == Kind.marketing:
                refusal = consent.refusal_of(
                    customer,
                    channel=message.channel,
                    topic=message.topic,
                    whatsapp_consent=facts.whatsapp.get(customer.id, False),
                    refused_topics=facts.refused.get(customer.id, set()),
                    latest_email=facts.latest_email.get(customer.id),
                    double_opt_in=policy.double_opt_in,
                )
                if refusal:
                    out.skipped.append((message, refusal, None))
                    continue
                blocked_until = group.cap_until(
                    message, policy, last_sent, rivals, granted_in_group
                )
                if blocked_until is not None:
                    if message.on_cap == OnCap.skip:
                        out.skipped.append((message, "frequency_cap", None))
                    else:
                        out.held.append((message, blocked_until))
                    continue
                zone = group.zone_of(facts.zones.get(customer.id), self.settings.zone)
                quiet_until = calendar.next_allowed(message.channel, now, zone)
                if quiet_until is not None:
                    out.held.append((message, quiet_until))
                    continue
            content = contents[message.content_id]
            try:
                ready = self._render(
                    session, signer, message, customer, content, address, medium, logo
                )
            except Exception as exc:  # a staff template that fails must not stop the queue
                log.warning("message %s: template failed: %s", message.id, exc)
                out.skipped.append((message, "render_error", f"template: {exc}"[:2000]))
                continue
            if message.kind == Kind.marketing:
                granted_in_group[(message.customer_id, message.channel)] = True
            out.ready.append((message, ready))
        return out

    def _render(
        self,
        session: Session,
        signer: LinkSigner,
        message: Message,
        customer: Customer,
        content: MessageContent,
        address: str,
        medium: str,
        logo: str | None,
    ) -> Handover:
        rendered, headers = compose(
            session,
            self.settings,
            signer,
            customer=customer,
            content=content,
            channel=message.channel,
            kind=message.kind,
            topic=message.topic,
            context=message.context or {},
            logo=logo,
        )
        outgoing = Outgoing(
            message_id=message.id,
            channel=message.channel,
            kind=message.kind,
            to=address,
            text=rendered.text,
            subject=rendered.subject,
            html=rendered.html,
            locale=rendered.locale,
            headers=headers,
        )
        subject_line = (rendered.subject or rendered.text)[:300]
        return Handover(
            message_id=message.id,
            outgoing=outgoing,
            medium=medium,
            address=address,
            attempts=message.attempts + 1,
            customer_id=customer.id,
            event={
                "id": message.id,
                "customer_id": message.customer_id,
                "channel": message.channel,
                "kind": message.kind,
                "reason": message.reason,
                "occasion": message.occasion,
                "campaign_id": message.campaign_id,
                "flow_id": message.flow_id,
                "subject_line": subject_line,
            },
            locale=rendered.locale,
            subject_line=subject_line,
            sms_segments=rendered.sms_segments,
        )

    def _apply(
        self, session: Session, decisions: _Decisions, now: datetime, report: Report
    ) -> None:
        """Write the group's decisions with one statement per kind."""
        queued = (Status.queued.value,)
        if decisions.skipped:
            _update_each(
                session,
                [{"id": m.id, "status_reason": r, "error": e} for m, r, e in decisions.skipped],
                constant={"status": Status.skipped.value, "settled_at": now},
                statuses=queued,
            )
            write_rows(
                session,
                [_event_row(m, "skipped", r, m.subject_line) for m, r, _ in decisions.skipped],
            )
        if decisions.held:
            _update_each(
                session,
                [{"id": m.id, "not_before": until} for m, until in decisions.held],
                constant={},
                statuses=queued,
            )
        if decisions.ready:
            _update_each(
                session,
                [
                    {
                        "id": r.message_id,
                        "attempts": r.attempts,
                        "to_address": r.address,
                        "locale": r.locale,
                        "subject_line": r.subject_line,
                        "sms_segments": r.sms_segments,
                    }
                    for _, r in decisions.ready
                ],
                constant={
                    "status": Status.sending.value,
                    "status_reason": None,
                    "claimed_by": self.worker_id,
                    "sending_at": now,
                    "handed_at": None,
                },
                statuses=queued,
            )
        report.skipped += len(decisions.skipped)
        report.held += len(decisions.held)

    # ------------------------------------------------------------------ step 2

    def _mark_params(self, ids: Sequence[uuid.UUID]) -> dict[str, Any]:
        return {"ids": list(ids), "worker": self.worker_id, "now": utcnow()}

    @contextmanager
    def _marker(self) -> Iterator[Callable[[Sequence[uuid.UUID]], set[uuid.UUID]]]:
        """One connection's way to write its marks (each committed when it returns).

        A connection marks some 4 times a group, from a thread that waits for the
        interpreter after every round trip to the database; so it keeps one database
        connection for the group (no checkout and ping per mark), and on PostgreSQL each
        mark is one statement in its own transaction (autocommit: atomic, and durable once
        it returns), one round trip instead of three. On SQLite (no round trips) each mark
        is a ``BEGIN IMMEDIATE`` transaction of its own. A factory bound to one connection
        (a test's transaction) marks through its sessions, taking turns."""
        if self._engine is None:

            def in_session(ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
                with self._transaction() as session:
                    return set(session.scalars(_MARK, self._mark_params(ids)))

            yield in_session
            return
        autocommit = self._engine.dialect.name == "postgresql"
        options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
        with self._engine.connect().execution_options(**options) as conn:

            def on_connection(ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
                if autocommit:
                    return set(conn.execute(_MARK, self._mark_params(ids)).scalars())
                with conn.begin():
                    return set(conn.execute(_MARK, self._mark_params(ids)).scalars())

            yield on_connection

    def _send(
        self, ready: Sequence[Handover], pool: ThreadPoolExecutor
    ) -> list[SendResult | Unhanded]:
        """Hand the group over, each channel's messages spread over its connections (one
        thread of ``pool`` each). Each connection marks its next ``HANDOVER_CHUNK``
        messages as handed over (``_mark``) and then hands over those the mark took."""
        results: list[SendResult | Unhanded | None] = [None] * len(ready)
        work: list[tuple[ChannelImpl, list[int]]] = []
        by_channel: dict[str, list[int]] = defaultdict(list)
        for index, item in enumerate(ready):
            by_channel[item.outgoing.channel].append(index)
        for name, indexes in by_channel.items():
            lanes = self.lanes[name]
            for lane, channel in enumerate(lanes):
                share = indexes[lane :: len(lanes)]
                if share:
                    work.append((channel, share))

        def run(channel: ChannelImpl, indexes: list[int]) -> None:
            done = 0  # indexes settled (handed over, or declined)
            try:
                with self._marker() as mark:
                    for start in range(0, len(indexes), HANDOVER_CHUNK):
                        chunk = indexes[start : start + HANDOVER_CHUNK]
                        marked = mark([ready[index].message_id for index in chunk])
                        for index in chunk:
                            results[index] = hand_over(channel, ready[index], marked)
                        done = start + len(chunk)
            except Exception:  # the database failed: this connection hands over no more
                log.exception("marking messages as handed over failed")
                for index in indexes[done:]:
                    results[index] = Unhanded.mark_failed

        def hand_over(
            channel: ChannelImpl, item: Handover, marked: set[uuid.UUID]
        ) -> SendResult | Unhanded:
            if item.message_id not in marked:
                return Unhanded.declined
            try:
                return channel.send(item.outgoing)
            except Exception as exc:  # unexpected: we cannot tell what was sent
                log.exception("channel %s failed on message %s", channel.name, item.message_id)
                return SendResult(Outcome.unknown, detail=f"channel error: {exc}")

        # The first share runs in this thread, the others beside it.
        others = [pool.submit(run, channel, indexes) for channel, indexes in work[1:]]
        if work:
            run(*work[0])
        wait(others)
        # (``None`` only where a thread died outside ``run``'s guards: taken as a failed mark.)
        return [r if r is not None else Unhanded.mark_failed for r in results]

    # ------------------------------------------------------------------ step 3

    def _record(
        self,
        ready: Sequence[Handover],
        answers: Sequence[SendResult | Unhanded],
        report: Report,
    ) -> None:
        """Settle the group's handed-over messages by their answers. A message whose mark
        did not take is no longer this worker's: nothing is written about it. One whose
        mark failed was not handed over and goes back to the queue (``unknown`` if its mark
        was written after all, as the mark is all another worker would go by)."""
        now = utcnow()
        handed = [
            (item, result)
            for item, result in zip(ready, answers, strict=True)
            if isinstance(result, SendResult)
        ]
        unmarked = [
            item.message_id
            for item, result in zip(ready, answers, strict=True)
            if result is Unhanded.mark_failed
        ]
        with self._transaction() as session:
            secret, _ = self._keys(session)
            policy = self._current_policy(session)
            if unmarked:
                mine = _MESSAGES.c.claimed_by == self.worker_id
                report.requeued += _requeue(session, unmarked, now, mine)
                report.unknown += _settle_unknown(session, unmarked, "mark_failed", now, mine)
            final: list[dict[str, Any]] = []
            retry: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            for item, result in handed:
                status, reason = outcomes.settle(session, secret, policy, item, result, now)
                if status == Status.queued:
                    delay = policy.retry_minutes[min(item.attempts, len(policy.retry_minutes)) - 1]
                    retry.append(
                        {
                            "id": item.message_id,
                            "status_reason": reason,
                            "error": (result.detail or "")[:2000],
                            "not_before": now + timedelta(minutes=delay),
                        }
                    )
                    report.retried += 1
                    continue
                final.append(
                    {
                        "id": item.message_id,
                        "status": status.value,
                        "status_reason": reason,
                        "error": None if status == Status.sent else (result.detail or "")[:2000],
                        "provider_id": result.provider_id,
                    }
                )
                events.append(
                    _event_row(item.event, status.value, reason, item.event["subject_line"])
                )
                setattr(report, status.value, getattr(report, status.value) + 1)
            # Only this worker's claim, still sending (or taken for lost meanwhile).
            held = (Status.sending.value, Status.unknown.value)
            _update_each(
                session,
                final,
                constant={"settled_at": now},
                statuses=held,
                claimed_by=self.worker_id,
            )
            _update_each(
                session,
                retry,
                constant={"status": Status.queued.value, "claimed_by": None, "handed_at": None},
                statuses=held,
                claimed_by=self.worker_id,
            )
            _follow_campaigns(session, [r["id"] for r in retry], now)
            write_rows(session, events)
            delivered = {
                consent.address_hash(secret, item.medium, item.address)
                for item, result in handed
                if result.outcome is Outcome.sent
            }
            if delivered:
                # A delivery ends a run of temporary failures.
                session.execute(
                    delete(SoftFailure).where(among(session, SoftFailure.address_hash, delivered))
                )
