"""The contract, end to end: the command prints the intake path; a served Wafa takes
twenty copies of one signed delivery at once and stores one order (both databases)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.integrations.shops import body, shopify_headers, shopify_order
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.cli.main import app as cli
from wafa.core.db import dispose_engines, session_scope
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings, get_settings
from wafa.customers.models import Customer
from wafa.integrations.models import Delivery
from wafa.orders.models import Order

SECRET = "shpss_served_secret_0001"


@pytest.fixture
def env(committed_db: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("WAFA_DATABASE_URL", committed_db.database_url)
    monkeypatch.setenv("WAFA_ENVIRONMENT", "test")
    monkeypatch.setenv("WAFA_SECRET_KEY", committed_db.secret_key or "")
    monkeypatch.setenv("WAFA_DATA_KEYS", committed_db.data_keys or "")
    get_settings.cache_clear()
    yield committed_db
    get_settings.cache_clear()
    dispose_engines()


def test_add_then_twenty_identical_deliveries_store_one_order(env: Settings) -> None:
    runner = CliRunner()
    added = runner.invoke(
        cli, ["integration", "add", "shopify", "--name", "souq", "--secret", SECRET]
    )
    assert added.exit_code == 0, added.output
    path = added.output.strip().splitlines()[-1]
    assert path.startswith("/api/v1/hooks/shopify/")
    listed = runner.invoke(cli, ["integration", "list"])
    assert "souq" in listed.output and "active" in listed.output
    with session_scope(env) as s:
        _, token = auth.create_api_key(s, name="reader", scopes=["read"])

    raw = body(shopify_order())
    headers = shopify_headers(SECRET, raw, "orders/create", "b7a4a5c6-0001")
    barrier = threading.Barrier(20)
    with running_app(env) as base:

        def one(_: int) -> httpx.Response:
            with httpx.Client(base_url=base, timeout=60) as client:
                barrier.wait()
                return client.post(path, content=raw, headers=headers)

        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(one, range(20)))
        forged = httpx.post(
            base + path,
            content=body(shopify_order(id=77, name="#1077")),
            headers=shopify_headers("wrong-secret", raw, "orders/create", "b7a4a5c6-0002"),
        )
        listed_orders = httpx.get(
            base + "/api/v1/orders", headers={"Authorization": f"Bearer {token}"}
        ).json()["items"]
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
    assert sorted(a.json()["status"] for a in answers) == ["duplicate"] * 19 + ["processed"]
    assert forged.status_code == 401
    assert [(o["source"], o["external_id"]) for o in listed_orders] == [
        ("souq", "820982911946154508")
    ]
    with session_scope(env) as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1
        assert s.scalar(select(func.count()).select_from(Customer)) == 1
        assert s.scalar(select(func.count()).select_from(Delivery)) == 1
        placed = select(func.count()).select_from(OutboxEvent)
        assert s.scalar(placed.where(OutboxEvent.topic == "order.placed")) == 1

    paused = runner.invoke(cli, ["integration", "pause", "souq"])
    assert paused.exit_code == 0
    rotated = runner.invoke(cli, ["integration", "rotate", "souq"])
    assert rotated.exit_code == 0 and "accepted until" in rotated.output
    removed = runner.invoke(cli, ["integration", "remove", "souq"])
    assert removed.exit_code == 0
    assert "no connections" in runner.invoke(cli, ["integration", "list"]).output


def test_the_intake_follows_settings_saved_by_another_process(committed_db: Settings) -> None:
    """The intake reads the settings' version with its connection (the middleware that does
    so for other routes leaves it alone): a phone region saved by another process is in
    force at the next delivery, with no restart."""
    from fastapi.testclient import TestClient

    from wafa.app.factory import create_app
    from wafa.auth import business
    from wafa.integrations import connections

    with session_scope(committed_db) as s:
        path = connections.add_connection(
            s, settings=committed_db, shop="shopify", name="souq", secret=SECRET
        ).path
    local = "0912 345 6789"  # a number written as Iranians write it, no country code
    customer = {"id": 5501, "first_name": "سارا", "last_name": "احمدی", "phone": local}
    # As a deployment that sets only its database and keys reads its settings: the
    # phone region is the owner's to choose.
    base = Settings.model_validate(
        {
            "database_url": committed_db.database_url,
            "environment": "test",
            "secret_key": committed_db.secret_key,
            "data_keys": committed_db.data_keys,
        }
    )
    application = create_app(base)

    def deliver(client: TestClient, n: int) -> str:
        payload = shopify_order(
            id=7001 + n, name=f"#70{n}", email=None, phone=local, customer=customer
        )
        raw = body(payload)
        answer = client.post(
            path, content=raw, headers=shopify_headers(SECRET, raw, "orders/create", f"p-{n}")
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["status"])

    with TestClient(application) as client:
        assert application.state.settings.phone_region == "US"
        assert deliver(client, 1) == "failed"  # not a number in the United States
        with session_scope(committed_db) as s:  # the Settings page of another process
            business.save(s, base=base, values={"phone_region": "ir"}, orders_exist=False)
        assert deliver(client, 2) == "processed"
        assert application.state.settings.phone_region == "IR"
    with session_scope(committed_db, write=False) as s:
        phones = s.scalars(select(Customer.phone)).all()
    assert phones == ["+989123456789"]


def test_twenty_copies_of_a_refund_the_export_counted_name_it_once(
    env: Settings, tmp_path: Path
) -> None:
    """An export that counted 30 SAR refunded, then Shopify's ``refunds/create`` of that
    refund twenty times at once under two webhook ids: named once, never counted again."""
    from tests.integrations.test_both_routes import SHOP_ID, _export
    from wafa.integrations import connections
    from wafa.orders.importing.pipeline import import_orders
    from wafa.orders.models import Refund

    with session_scope(env) as s:
        path = connections.add_connection(
            s, settings=env, shop="shopify", name="souq", secret=SECRET
        ).path
        import_orders(
            s, _export(tmp_path / "orders.csv", refunded="30.00"), fmt="shopify", settings=env
        )
    refund = {
        "id": 509562971,
        "order_id": SHOP_ID,
        "created_at": "2026-03-02T09:00:00+03:00",
        "note": "مرجوع",
        "transactions": [{"kind": "refund", "status": "success", "amount": "30.00"}],
        "refund_line_items": [],
    }
    raw = body(refund)
    barrier = threading.Barrier(20)
    with running_app(env) as base:

        def one(n: int) -> httpx.Response:
            headers = shopify_headers(SECRET, raw, "refunds/create", f"refund-{n % 2}")
            with httpx.Client(base_url=base, timeout=60) as client:
                barrier.wait()
                return client.post(path, content=raw, headers=headers)

        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(one, range(20)))
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["duplicate"] * 18 + ["processed"] * 2
    with session_scope(env, write=False) as s:
        (order,) = s.scalars(select(Order)).all()
        assert order.refunded_amount == 3000
        recorded = s.execute(select(Refund.external_id, Refund.amount)).all()
        assert [tuple(r) for r in recorded] == [("shopify-refund-509562971", 3000)]
        refunded = select(func.count()).select_from(OutboxEvent)
        assert s.scalar(refunded.where(OutboxEvent.topic == "order.refunded")) == 1
