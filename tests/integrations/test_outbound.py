"""Signed webhooks out, against a receiver on loopback that verifies with ``standardwebhooks``:
retries with backoff, order per customer, the log, disabling, replay, and a worker
SIGKILLed mid-delivery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select, update

from tests.conftest import TEST_SECRET
from tests.factories import order_payload
from tests.integrations.receiver import Receiver, receiving
from tests.messaging.conftest import Sink
from wafa.app.worker import build_worker
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_factory, session_scope
from wafa.core.settings import CalendarKind, Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerCreate
from wafa.integrations import outbound
from wafa.integrations.models import Attempt, Endpoint, Message
from wafa.orders import service as orders
from wafa.orders.schemas import OrderCreate
from wafa.worker.runner import Worker


def _endpoint(settings: Settings, url: str, events: list[str]) -> tuple[str, str]:
    with session_scope(settings) as s:
        created = outbound.add_endpoint(
            s, settings=settings, url=url, topics=events, description="CRM"
        )
        return str(created.endpoint.id), created.secret


def _customer_and_order(settings: Settings, n: int) -> None:
    with session_scope(settings) as s:
        customer = customers.create_customer(
            s,
            data=CustomerCreate(name=f"مریم {n}", email=f"maryam{n}@example.com"),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        orders.create_order(
            s,
            data=OrderCreate.model_validate(
                order_payload(
                    external_id=f"o-{n}", customer={"external_id": None, "email": customer.email}
                )
            ),
            region="US",
        )


def _due_now(settings: Settings) -> None:
    """Time passes: every waiting retry is due."""
    with session_scope(settings) as s:
        s.execute(
            update(Message).where(Message.status == "pending").values(next_attempt_at=utcnow())
        )


def _pass(worker: Worker, settings: Settings) -> None:
    """One worker pass, and a send pass whether or not its interval has come round."""
    worker.run_once(daily=False)
    outbound.send_due(session_factory(settings), settings)


def _statuses(settings: Settings) -> dict[str, int]:
    with session_scope(settings, write=False) as s:
        rows = s.execute(select(Message.status, func.count()).group_by(Message.status))
        return {str(k): int(v) for k, v in rows}


def test_retries_order_and_log(committed_db: Settings) -> None:
    worker = build_worker(committed_db)
    with receiving(Receiver(answer=lambda n: (500 if n <= 2 else 200, 0.0))) as receiver:
        _, receiver.secret = _endpoint(
            committed_db, receiver.url, ["customer.created", "order.placed"]
        )
        _customer_and_order(committed_db, 1)
        for _ in range(6):
            _pass(worker, committed_db)
            _due_now(committed_db)
        assert _statuses(committed_db) == {"delivered": 2}
        assert receiver.forged == 0 and receiver.requests == 4
        kinds = [p["type"] for _, p in receiver.verified]
        assert kinds == ["customer.created", "order.placed"]  # one customer's events in order
        created, placed = (p["data"] for _, p in receiver.verified)
        assert placed["customer_id"] == created["customer_id"]
        with session_scope(committed_db, write=False) as s:
            codes = sorted((a.status_code or 0) for a in s.scalars(select(Attempt)))
            assert codes == [200, 200, 500, 500]
            first = s.scalars(select(Message).order_by(Message.id)).first()
            assert first is not None and first.attempts == 3
            assert str(first.id) == receiver.verified[0][0]  # webhook-id kept across retries
        # Running again sends nothing more.
        _pass(worker, committed_db)
        assert receiver.requests == 4


def test_sustained_failure_disables_tells_the_owner_once_then_replay(
    committed_db: Settings, smtp_sink: Sink
) -> None:
    settings = committed_db.model_copy(update={"smtp_url": smtp_sink.url})
    with session_scope(settings) as s:
        auth.create_user(
            s, email="owner@shop.example", password="a-long-password-1", role=Role.owner,
            locale="fa",
        )  # fmt: skip
        auth.create_user(
            s, email="cashier@shop.example", password="a-long-password-1", role=Role.cashier
        )
    worker = build_worker(settings)
    answers: dict[str, int] = {"status": 503}

    def fail_for_a_day() -> None:
        for _ in range(len(outbound.RETRIES) + 2):
            _pass(worker, settings)
            _due_now(settings)

    with receiving(Receiver(answer=lambda n: (answers["status"], 0.0))) as receiver:
        endpoint_id, receiver.secret = _endpoint(settings, receiver.url, ["customer.created"])
        _customer_and_order(settings, 2)
        fail_for_a_day()
        assert _statuses(settings) == {"failed": 1}
        assert receiver.requests == len(outbound.RETRIES) + 1
        with session_scope(settings) as s:
            endpoint = s.scalar(select(Endpoint))
            assert endpoint is not None and endpoint.disabled_at is not None
            assert "503" in (endpoint.disabled_reason or "")
            message = s.scalar(select(Message))
            assert message is not None
            message_id = message.id

        # The owner is told once, in their language, however often the task runs.
        factory = session_factory(settings)
        for _ in range(3):
            outbound.notify_disabled(factory, settings)
        assert smtp_sink.to("cashier@shop.example") == []
        (told,) = smtp_sink.to("owner@shop.example")
        assert receiver.url in told.message["Subject"] and "متوقف" in told.message["Subject"]
        text = told.message.get_body(preferencelist=("plain",))
        assert text is not None and "/integrations/webhooks" in text.get_content()
        assert "503" in text.get_content()

        answers["status"] = 200
        with session_scope(settings) as s:
            outbound.enable_endpoint(s, endpoint.id)
            outbound.replay_message(s, message_id)
        _pass(worker, settings)
        assert _statuses(settings) == {"delivered": 1}
        assert receiver.ids() == [str(message_id)]

        # Disabled a second time: told a second time (once again).
        answers["status"] = 500
        _customer_and_order(settings, 3)
        fail_for_a_day()
        for _ in range(2):
            outbound.notify_disabled(factory, settings)
        assert len(smtp_sink.to("owner@shop.example")) == 2
        with session_scope(settings) as s:
            again = s.get(Endpoint, uuid.UUID(endpoint_id))
            assert again is not None and again.disabled_at is not None


def _worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "WAFA_DATABASE_URL": settings.database_url,
        "WAFA_SECRET_KEY": TEST_SECRET,
        "WAFA_DATA_KEYS": settings.data_keys or "",
        "WAFA_ENVIRONMENT": "test",
        "WAFA_WEBHOOK_TIMEOUT": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "wafa.cli", "worker", "run", "--poll", "0.1", "--no-daily"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


STARTUP = 120.0


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_worker_killed_mid_delivery_loses_nothing(committed_db: Settings) -> None:
    # The first request hangs: the worker is killed while it waits for the answer.
    with receiving(Receiver(answer=lambda n: (200, 30.0 if n == 1 else 0.0))) as receiver:
        _, receiver.secret = _endpoint(committed_db, receiver.url, ["*"])
        for n in range(3):
            _customer_and_order(committed_db, 10 + n)
        first = _worker(committed_db)
        try:
            # A worker process imports the whole program first: on a loaded 2-core machine
            # that took over 30 s (seen at load 16-20), so the waits allow for it.
            assert _wait(lambda: receiver.requests >= 1, STARTUP), "the worker sent nothing"
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        again = _worker(committed_db)
        try:
            assert _wait(lambda: _statuses(committed_db).get("pending", 0) == 0, STARTUP), (
                _statuses(committed_db)
            )
        finally:
            again.send_signal(signal.SIGTERM)
            again.wait(timeout=20)
        with session_scope(committed_db, write=False) as s:
            ids = {str(i) for i in s.scalars(select(Message.id))}
            events = {str(i) for i in s.scalars(select(Message.event_id))}
        statuses = _statuses(committed_db)
        assert statuses == {"delivered": len(ids)}, statuses
        # 3 customers, each created and with an order placed: six events, each delivered.
        assert len(events) == len(ids) >= 6
        assert set(receiver.ids()) == ids  # every message reached the receiver, verified
        assert receiver.forged == 0
