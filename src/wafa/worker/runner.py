"""The worker loop: drain the outbox, run interval tasks when due, run daily tasks per day.

``run_once`` does one full pass (what ``wafa worker run --once`` and the tests
call); ``run_forever`` repeats it until asked to stop, resting up to ``poll`` seconds
between passes when there was nothing to do (and starting at once when the outbox
gains an event meanwhile). Each event and each batch is its own
transaction, so stopping (or crashing) at any moment loses nothing and duplicates
nothing.

The worker is given its consumers and tasks (``wafa.app.worker.build_worker`` reads them
from the domains' declarations); it knows no domain itself. Daily tasks run for each
local date of the business (its timezone) once that date has begun, catching up missed
dates after downtime; interval tasks run every ``every`` seconds. Both must be
idempotent: the worker may run them twice (two workers, a crash between work and
bookkeeping) and nothing may change the second time.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wafa.core import wake
from wafa.core.db import session_factory
from wafa.core.domain import DailyTask, IntervalTask, Task
from wafa.core.events import Consumer
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.worker.batch import Drained, FailedEvent, drain_batched

log = logging.getLogger("wafa.worker")
#: How often a resting worker looks for new outbox events (see ``Worker.run_forever``).
PROBE_SECONDS = 0.2


@dataclass
class Pass:
    """What one pass did."""

    events: int = 0
    tasks: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    failed_events: list[FailedEvent] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        """Whether anything was done (then the next pass starts at once)."""
        return bool(self.events) or any(any(v.values()) for v in self.tasks.values())


#: Called before each pass: the settings and consumers to use from now on when the owner's
#: settings changed since the last call, else ``None`` (``wafa.app.worker`` supplies it).
Follow = Callable[[], "tuple[Settings, Sequence[Consumer]] | None"]


@dataclass
class Worker:
    settings: Settings
    consumers: Sequence[Consumer]
    tasks: Sequence[Task]
    batch: int = 200
    follow: Follow | None = None
    daily_check_every: float = 30.0
    # How often the outbox is read whole, for events of transactions that stayed open
    # longer than the marks' lag (see ``wafa.worker.batch``).
    sweep_every: float = 900.0
    _last_interval: dict[str, float] = field(default_factory=dict)
    _marks: dict[str, uuid.UUID] = field(default_factory=dict)
    _last_sweep: float | None = None
    _last_daily_check: float | None = None

    def run_once(self, *, daily: bool = True) -> Pass:
        """Drain every consumer, then run the interval and daily tasks that are due."""
        self._follow_settings()
        factory = session_factory(self.settings)
        result = Pass()
        started = time.monotonic()
        if self._last_sweep is None or time.monotonic() - self._last_sweep >= self.sweep_every:
            self._last_sweep = time.monotonic()
            self._marks.clear()
        # Each consumer and each task on its own: one failing domain never holds up the others.
        for consumer in self.consumers:
            drained = Drained()
            try:
                result.events += drain_batched(
                    factory, [consumer], batch=self.batch, marks=self._marks, out=drained
                )
            except Exception:
                # Not an event's failure (those are recorded one by one) but the database's.
                log.exception("consumer %s failed; its events stay pending", consumer.name)
                result.failures.append(consumer.name)
            result.failed_events.extend(drained.failed or [])
            self._run_woken(factory, result)
        now = utcnow()
        check_daily = daily and (
            self._last_daily_check is None
            or time.monotonic() - self._last_daily_check >= self.daily_check_every
        )
        if check_daily:
            self._last_daily_check = time.monotonic()
        for task in self.tasks:
            if not isinstance(task, DailyTask):
                last = self._last_interval.get(task.name)
                if last is not None and (time.monotonic() - last < task.every or last >= started):
                    continue  # not due yet, or already run in this pass (woken)
                self._last_interval[task.name] = time.monotonic()
                try:
                    result.tasks[task.name] = task.run(factory, self.settings)
                except Exception:
                    log.exception("task %s failed; it runs again at its next turn", task.name)
                    result.failures.append(task.name)
            elif check_daily:
                try:
                    for day in task.due(factory, self.settings, now):
                        report = task.run(factory, self.settings, day)
                        result.tasks[f"{task.name}@{day.isoformat()}"] = report
                        log.info("daily %s for %s: %s", task.name, day, report)
                except Exception:
                    log.exception("daily task %s failed; it resumes at the next check", task.name)
                    result.failures.append(task.name)
                    self._last_daily_check = None
        if result.events:
            log.info("handled %d events", result.events)
        return result

    def _follow_settings(self) -> None:
        """Put in force settings the owner saved since the last pass (see ``follow``)."""
        if self.follow is None:
            return
        try:
            changed = self.follow()
        except Exception:
            log.exception("could not read the shop's settings; the pass keeps those it has")
            return
        if changed is not None:
            self.settings, self.consumers = changed
            log.info(
                "the shop's settings changed: now %s, timezone %s, calendar %s",
                self.settings.business_name,
                self.settings.timezone,
                self.settings.calendar,
            )

    def _run_woken(self, factory: sessionmaker[Session], result: Pass) -> None:
        """Run now the interval tasks that work of this process asked for (``wafa.core.wake``:
        an order confirmation just queued is handed over before the next consumer drains,
        not at the end of the pass)."""
        wanted = wake.take()
        if not wanted:
            return
        for task in self.tasks:
            if isinstance(task, IntervalTask) and task.name in wanted:
                self._last_interval[task.name] = time.monotonic()
                try:
                    report = task.run(factory, self.settings)
                except Exception:
                    log.exception("task %s failed; it runs again at its next turn", task.name)
                    result.failures.append(task.name)
                    continue
                done = result.tasks.setdefault(task.name, {})
                for key, value in report.items():
                    done[key] = done.get(key, 0) + value

    def run_forever(
        self, stop: threading.Event, *, poll: float = 2.0, probe: float = PROBE_SECONDS
    ) -> None:
        """Pass after pass until ``stop`` is set; errors are logged and retried after ``poll``.

        After a pass with nothing to do the worker rests up to ``poll`` seconds, but looks
        every ``probe`` seconds (one index lookup) whether the outbox has gained an event
        since the pass began, and starts the next pass at once if so: an order placed while
        the worker rests is handled within ``probe`` seconds, not ``poll``.
        """
        factory = session_factory(self.settings)
        while not stop.is_set():
            mark = _newest_event(factory)
            try:
                busy = self.run_once().busy
            except Exception:
                log.exception("worker pass failed; retrying")
                busy = False
            if not busy:
                self._rest(stop, factory, poll, probe, mark)

    def _rest(
        self,
        stop: threading.Event,
        factory: sessionmaker[Session],
        poll: float,
        probe: float,
        mark: uuid.UUID | None,
    ) -> None:
        if probe <= 0:
            stop.wait(poll)
            return
        deadline = time.monotonic() + poll
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or stop.wait(min(probe, left)):
                return
            if _newest_event(factory) != mark:
                return


def _newest_event(factory: sessionmaker[Session]) -> uuid.UUID | None:
    """The outbox's newest event id (``None`` when empty, or when the database does not answer)."""
    try:
        with factory() as session:
            return session.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1))
    except Exception:
        log.debug("outbox probe failed", exc_info=True)
        return None
