"""One worker's sender: take a group, decide, send, record (see ``wafa.messaging.pipeline``).

About 600 lines, kept in one module on purpose: its three transactions (take and
decide, send, record) and the heartbeat that guards them read top to bottom here; what
they read is in ``group``, what an answer means in ``outcomes``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, or_, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from wafa.core.db import among, dialect_name, rowcount
from wafa.core.events import row as event_row
from wafa.core.events import write_rows
from wafa.core.links import LinkSigner
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.messaging import consent
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

_MESSAGES = cast(Table, Message.__table__)
# Messages that count against a frequency cap: handed over, or possibly handed over.
_CAP_STATUSES = (Status.sending.value, Status.sent.value, Status.unknown.value)


@dataclass
class Report:
    """What one pass did."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    held: int = 0
    retried: int = 0
    unknown: int = 0
    lapsed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if v}

    @property
    def busy(self) -> bool:
        return bool(self.sent or self.failed or self.skipped or self.retried or self.unknown)


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

    # ------------------------------------------------------------------ bookkeeping

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
        with self.factory() as session, session.begin():
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

    def settle_lapsed(self) -> int:
        """Settle as ``unknown`` the ``sending`` messages of workers silent for ``lapse``."""
        now = utcnow()
        cutoff = now - self.lapse
        with self.factory() as session, session.begin():
            dead = list(session.scalars(select(SendWorker.id).where(SendWorker.seen_at < cutoff)))
            alive = select(SendWorker.id).where(SendWorker.seen_at >= cutoff)
            orphaned = select(Message).where(
                Message.status == Status.sending,
                or_(Message.claimed_by.is_(None), Message.claimed_by.not_in(alive)),
            )
            rows = list(session.scalars(orphaned.limit(5000)))
            if rows:
                ids = [m.id for m in rows]
                session.execute(
                    update(Message)
                    .where(Message.id.in_(ids), Message.status == Status.sending)
                    .values(
                        status=Status.unknown.value,
                        status_reason="worker_lost",
                        settled_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                write_rows(
                    session,
                    [_event_row(m, "unknown", "worker_lost", m.subject_line) for m in rows],
                )
                log.warning("%d messages of stopped workers settled as unknown", len(rows))
            if dead:
                session.execute(delete(SendWorker).where(SendWorker.id.in_(dead)))
        return len(rows)

    def stop(self) -> None:
        """Close the channels and remove this worker's heartbeat."""
        for lanes in self.lanes.values():
            for channel in lanes:
                channel.close()
        with self.factory() as session, session.begin():
            session.execute(delete(SendWorker).where(SendWorker.id == self.worker_id))

    # ------------------------------------------------------------------ one pass

    def run_once(self, *, limit: int | None = None) -> Report:
        """Send everything due now (at most ``limit`` messages taken), then return.

        Groups overlap by one: while a group is handed over (threads, one per connection),
        the next one is taken and decided, and the previous one is recorded once its
        answers are in. Each message is still marked ``sending`` (committed) before it is
        handed over and settled only after its answer, so a crash leaves at most the two
        groups in hand as ``unknown``, never sent twice."""
        report = Report()
        self.heartbeat(force=True)
        report.lapsed = self.settle_lapsed()
        taken = 0
        lanes = sum(len(found) for found in self.lanes.values())
        in_hand: tuple[list[Handover], Future[list[SendResult]]] | None = None
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

    def _answers(self, sending: Future[list[SendResult]]) -> list[SendResult]:
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
        with self.factory() as session, session.begin():
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
                },
                statuses=queued,
            )
        report.skipped += len(decisions.skipped)
        report.held += len(decisions.held)

    # ------------------------------------------------------------------ step 2

    def _send(self, ready: Sequence[Handover], pool: ThreadPoolExecutor) -> list[SendResult]:
        """Hand the group over, each channel's messages spread over its connections (one
        thread of ``pool`` each); no database here."""
        results: list[SendResult | None] = [None] * len(ready)
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
            for index in indexes:
                item = ready[index]
                try:
                    results[index] = channel.send(item.outgoing)
                except Exception as exc:  # an unexpected error: we cannot tell what was sent
                    log.exception("channel %s failed on message %s", channel.name, item.message_id)
                    results[index] = SendResult(Outcome.unknown, detail=f"channel error: {exc}")

        # The first share runs in this thread, the others beside it.
        others = [pool.submit(run, channel, indexes) for channel, indexes in work[1:]]
        if work:
            run(*work[0])
        wait(others)
        return [
            r if r is not None else SendResult(Outcome.unknown, detail="not run") for r in results
        ]

    # ------------------------------------------------------------------ step 3

    def _record(
        self, ready: Sequence[Handover], results: Sequence[SendResult], report: Report
    ) -> None:
        now = utcnow()
        with self.factory() as session, session.begin():
            secret, _ = self._keys(session)
            policy = self._current_policy(session)
            final: list[dict[str, Any]] = []
            retry: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            for item, result in zip(ready, results, strict=True):
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
                constant={"status": Status.queued.value, "claimed_by": None},
                statuses=held,
                claimed_by=self.worker_id,
            )
            write_rows(session, events)
            delivered = {
                consent.address_hash(secret, item.medium, item.address)
                for item, result in zip(ready, results, strict=True)
                if result.outcome is Outcome.sent
            }
            if delivered:
                # A delivery ends a run of temporary failures.
                session.execute(
                    delete(SoftFailure).where(among(session, SoftFailure.address_hash, delivered))
                )
