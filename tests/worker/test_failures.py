"""Events that cannot be handled are recorded as failed, retried, shown — never receipted."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from tests.cli.conftest import Invoke
from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.web.helpers import logged_in, post_form
from tests.worker.events import Noted, recording
from wafa.auth.models import Role
from wafa.core import outbox
from wafa.core.db import session_factory, session_scope
from wafa.core.events import emit
from wafa.core.ids import new_id
from wafa.core.outbox import MAX_ATTEMPTS, OutboxEvent, OutboxFailure, OutboxReceipt
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import handlers
from wafa.orders.events import OrderPlaced
from wafa.worker.batch import Drained, drain_batched


def _raw_order_placed(session: Session, payload: dict[str, object]) -> None:
    """Write an order.placed row as an old or broken writer might (no typed event)."""
    session.execute(
        insert(OutboxEvent),
        {"id": new_id(), "topic": OrderPlaced.topic, "payload": payload, "occurred_at": utcnow()},
    )


class TestUnparseablePayload:
    def test_a_missing_field_fails_with_its_name_and_is_not_receipted(
        self, committed_db: Settings
    ) -> None:
        with session_scope(committed_db) as s:
            _raw_order_placed(s, {"channel": "online", "currency": "USD", "total": 100})
        out = Drained()
        factory = session_factory(committed_db)
        assert drain_batched(factory, [handlers.consumer(committed_db)], out=out) == 0
        assert out.failed is not None
        (failed,) = out.failed
        assert failed.consumer == "loyalty" and failed.topic == "order.placed"
        assert "order_id: Field required" in failed.error
        assert "placed_at: Field required" in failed.error
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(OutboxReceipt)) == 0
            failure = s.scalars(select(OutboxFailure)).one()
            assert failure.attempts == 1 and failure.retry_at is not None

    def test_worker_run_once_names_the_failed_event_and_exits_1(
        self, wafa: Invoke, committed_db: Settings
    ) -> None:
        with session_scope(committed_db) as s:
            _raw_order_placed(s, {"order_id": "not-a-uuid"})
        result = wafa("worker", "run", "--once", "--no-daily")
        assert result.exit_code == 1
        assert "event failed" in result.stdout and "order.placed" in result.stdout
        assert "order_id" in result.stdout
        listed = wafa("worker", "failures")
        assert "order.placed" in listed.stdout and "attempts 1" in listed.stdout


class TestRetries:
    def test_retried_with_growing_delays_then_left_for_a_person(
        self, committed_db: Settings, clock: FrozenClock
    ) -> None:
        seen: list[str] = []
        consumer = recording(seen)
        factory = session_factory(committed_db)
        with session_scope(committed_db) as s:
            emit(s, Noted(n="x", bad=True))
        delays = []
        for attempt in range(1, MAX_ATTEMPTS + 1):
            drain_batched(factory, [consumer])
            with factory() as s:
                failure = s.scalars(select(OutboxFailure)).one()
            assert failure.attempts == attempt
            if failure.retry_at is None:
                break
            delays.append(failure.retry_at - clock.now)
            drain_batched(factory, [consumer])  # not due yet: nothing happens
            clock.set(failure.retry_at)
        assert failure.attempts == MAX_ATTEMPTS and failure.retry_at is None
        assert delays == [timedelta(minutes=2**i) for i in range(MAX_ATTEMPTS - 1)]
        # Left alone from now on, however long the worker runs...
        clock.advance(days=30)
        drain_batched(factory, [consumer])
        assert seen.count("x") == MAX_ATTEMPTS + 1  # the first pass: in its batch, then alone
        # ...until a person retries it, after a fix: then it is handled and forgotten.
        with session_scope(committed_db) as s:
            assert outbox.retry_failures(s) == 1
        healed = recording(seen)  # the same consumer name, now able to handle it
        with session_scope(committed_db) as s:
            s.execute(
                OutboxEvent.__table__.update().values(payload={"n": "x", "bad": False})  # type: ignore[attr-defined]
            )
        assert drain_batched(factory, [healed]) == 1
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(OutboxFailure)) == 0
            assert s.scalar(select(func.count()).select_from(OutboxReceipt)) == 1


class TestWorkerPage:
    def test_owner_sees_the_failure_and_retries_it(
        self, client: TestClient, session: Session, clock: FrozenClock
    ) -> None:
        customer = create_customer(session)
        event_id = emit(session, Noted(n=str(customer.id)))
        outbox.record_failure(session, consumer="recorder", event_id=event_id, error="boom: 42")
        logged_in(client, session, locale="fa")
        page = client.get("/system/worker")
        assert page.status_code == 200
        assert "boom: 42" in page.text and "test.noted" in page.text
        assert 'dir="rtl"' in page.text
        response = post_form(
            client, "/system/worker/retry", {"event_id": str(event_id)}, page="/system/worker"
        )
        assert response.status_code == 303
        failure = session.get(OutboxFailure, ("recorder", event_id))
        assert failure is not None and failure.retry_at == clock.now

    def test_only_owners_see_it(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        assert client.get("/system/worker").status_code == 403
