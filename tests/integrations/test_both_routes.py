"""One Shopify order, imported from the export and received by webhook, in either order of
arrival: one order, one ``order.placed``, points earned once (``Order.shop_ref``)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.integrations.shops import body, shopify_headers, shopify_order
from tests.loyalty.helpers import deliver, set_rules
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.integrations import connections
from wafa.loyalty.models import PointsEntry
from wafa.orders.importing.pipeline import import_orders
from wafa.orders.models import Order, Refund

SECRET = "shpss_both_routes_01"
SHOP_ID = 820982911946154508
#: The export's columns Wafa reads for this order (the export has more; these suffice).
HEADER = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Currency",
    "Subtotal", "Shipping", "Taxes", "Total", "Discount Amount", "Created at",
    "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem sku", "Refunded Amount",
    "Id", "Source",
]  # fmt: skip


def _export(path: Path, *, refunded: str = "0.00", with_id: bool = True) -> Path:
    """The Shopify export of the webhook fixture's order #1001 (118.50 SAR, two lines)."""
    rows = [
        ["#1001", "layla@example.com", "paid", "2026-03-01 10:00:00 +0300", "", "SAR",
         "90.00", "15.00", "13.50", "118.50", "0.00", "2026-03-01 10:00:00 +0300",
         "2", "قهوة عربية - 250 غ", "30.00", "ARB-250", refunded, str(SHOP_ID), "web"],
        ["#1001", "", "", "", "", "", "", "", "", "", "", "", "1", "دلة نحاس", "30.00",
         "DALLAH-1", "", "", ""],
    ]  # fmt: skip
    header = HEADER if with_id else HEADER[:-2] + HEADER[-1:]
    if not with_id:
        rows = [r[:-2] + r[-1:] for r in rows]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def intake(session: Session, settings: Settings) -> str:
    set_rules(session, imported_history={"award_points": True})
    path = connections.add_connection(
        session, settings=settings, shop="shopify", name="souq", secret=SECRET
    ).path
    session.flush()
    return path


def _webhook(client: TestClient, path: str, payload: dict[str, object], hook_id: str) -> str:
    raw = body(payload)
    answer = client.post(
        path, content=raw, headers=shopify_headers(SECRET, raw, "orders/updated", hook_id)
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def _import(session: Session, settings: Settings, path: Path) -> None:
    import_orders(session, path, fmt="shopify", settings=settings)


def _one_order(session: Session) -> Order:
    (order,) = session.scalars(select(Order)).all()
    assert order.shop_ref == f"shopify:{SHOP_ID}"
    placed = session.scalar(
        select(func.count()).select_from(OutboxEvent).where(OutboxEvent.topic == "order.placed")
    )
    assert placed == 1
    return order


def _earned_once(session: Session, settings: Settings, order: Order, *, taken_back: int) -> None:
    """The order earned once (one credit), and its one refund took its share back once."""
    deliver(session, settings)
    entries = session.scalars(select(PointsEntry).where(PointsEntry.order_id == order.id)).all()
    earned = [e.points for e in entries if e.points > 0]
    taken = [e.points for e in entries if e.points < 0]
    assert len(earned) == 1 and len(taken) == 1, [(e.kind, e.points) for e in entries]
    assert (earned[0], taken[0]) == (90, -taken_back)  # a point per SAR of the lines


def test_imported_first_then_the_webhook_moves_the_same_order(
    client: TestClient, session: Session, settings: Settings, intake: str, tmp_path: Path
) -> None:
    _import(session, settings, _export(tmp_path / "orders.csv"))
    paid_and_sent = shopify_order(
        financial_status="paid",
        fulfillment_status="fulfilled",
        updated_at="2026-03-02T09:00:00+03:00",
        fulfillments=[{"id": 1, "created_at": "2026-03-02T09:00:00+03:00"}],
    )
    _webhook(client, intake, paid_and_sent, "w-1")
    order = _one_order(session)
    assert order.source == "shopify" and order.external_id == "#1001"  # as first stored
    assert order.status == "fulfilled" and order.fulfilled_at is not None
    # A refund through the webhook is recorded on the same order, once.
    refunded = shopify_order(
        financial_status="partially_refunded",
        updated_at="2026-03-03T09:00:00+03:00",
        refunds=[
            {
                "id": 509562969,
                "order_id": SHOP_ID,
                "created_at": "2026-03-03T09:00:00+03:00",
                "note": "broken",
                "transactions": [{"kind": "refund", "status": "success", "amount": "30.00"}],
                "refund_line_items": [{"line_item_id": 518995019, "quantity": 1}],
            }
        ],
    )
    _webhook(client, intake, refunded, "w-2")
    session.expire_all()
    assert _one_order(session).refunded_amount == 3000
    # The next export says the same refund (its running total): nothing is added.
    _import(session, settings, _export(tmp_path / "later.csv", refunded="30.00"))
    session.expire_all()
    assert _one_order(session).refunded_amount == 3000
    _earned_once(session, settings, order, taken_back=30)  # the dallah's 30 SAR


def test_webhook_first_then_the_import_adds_nothing(
    client: TestClient, session: Session, settings: Settings, intake: str, tmp_path: Path
) -> None:
    refunded = shopify_order(
        financial_status="partially_refunded",
        refunds=[
            {
                "id": 509562969,
                "order_id": SHOP_ID,
                "created_at": "2026-03-01T12:00:00+03:00",
                "transactions": [{"kind": "refund", "status": "success", "amount": "30.00"}],
                "refund_line_items": [],
            }
        ],
    )
    assert _webhook(client, intake, refunded, "w-1") == "processed"
    order = _one_order(session)
    assert order.source == "souq" and order.external_id == str(SHOP_ID)
    _import(session, settings, _export(tmp_path / "orders.csv", refunded="30.00"))
    session.expire_all()
    order = _one_order(session)
    assert order.refunded_amount == 3000 and order.total_amount == 11850
    # 30 of 118.50 SAR without lines: its share of the 90 points (23).
    _earned_once(session, settings, order, taken_back=23)
    # An export without the Id column cannot know the order: that is a second order.
    _import(session, settings, _export(tmp_path / "no-id.csv", with_id=False))
    assert session.scalar(select(func.count()).select_from(Order)) == 2


def test_a_refund_webhook_finds_the_imported_order(
    client: TestClient, session: Session, settings: Settings, intake: str, tmp_path: Path
) -> None:
    _import(session, settings, _export(tmp_path / "orders.csv"))
    refund = {
        "id": 509562970,
        "order_id": SHOP_ID,
        "created_at": "2026-03-03T09:00:00+03:00",
        "transactions": [{"kind": "refund", "status": "success", "amount": "15.00"}],
        "refund_line_items": [],
    }
    raw = body(refund)
    answer = client.post(
        intake, content=raw, headers=shopify_headers(SECRET, raw, "refunds/create", "w-r")
    )
    assert answer.json()["status"] == "processed", answer.text
    session.expire_all()
    assert _one_order(session).refunded_amount == 1500


def _refund_hook(client: TestClient, path: str, refund: dict[str, object], hook_id: str) -> str:
    raw = body(refund)
    answer = client.post(
        path, content=raw, headers=shopify_headers(SECRET, raw, "refunds/create", hook_id)
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def _shop_refund(refund_id: int, at: str, amount: str) -> dict[str, object]:
    return {
        "id": refund_id,
        "order_id": SHOP_ID,
        "created_at": at,
        "note": "مرجوع",
        "transactions": [{"kind": "refund", "status": "success", "amount": amount}],
        "refund_line_items": [],
    }


def _refunds(session: Session, order: Order) -> dict[str, int]:
    return dict(
        session.execute(
            select(Refund.external_id, Refund.amount).where(Refund.order_id == order.id)
        ).all()
    )


def _points(session: Session, settings: Settings, order: Order) -> list[int]:
    deliver(session, settings)
    entries = session.scalars(select(PointsEntry).where(PointsEntry.order_id == order.id))
    return sorted(e.points for e in entries)


def test_a_refund_webhook_the_imported_export_counted_is_not_counted_again(
    client: TestClient,
    session: Session,
    settings: Settings,
    intake: str,
    tmp_path: Path,
    clock: FrozenClock,
) -> None:
    """The export (imported on 15 March) says 30 SAR refunded: the shop's refund of
    2 March, arriving afterwards by ``refunds/create``, is that refund, named by its id;
    one of 20 March is new; the order's update listing both adds nothing."""
    _import(session, settings, _export(tmp_path / "orders.csv", refunded="30.00"))
    counted = _shop_refund(509562971, "2026-03-02T09:00:00+03:00", "30.00")
    assert _refund_hook(client, intake, counted, "w-r1") == "processed"
    session.expire_all()
    order = _one_order(session)
    assert order.refunded_amount == 3000
    assert _refunds(session, order) == {"shopify-refund-509562971": 3000}
    assert _points(session, settings, order) == [-23, 90]  # 30 of 118.50 SAR: 23 of 90
    clock.advance(days=5)
    later = _shop_refund(509562972, "2026-03-20T09:00:00+03:00", "20.00")
    assert _refund_hook(client, intake, later, "w-r2") == "processed"
    both = shopify_order(
        financial_status="partially_refunded",
        updated_at="2026-03-20T09:00:00+03:00",
        refunds=[counted, later],
    )
    assert _webhook(client, intake, both, "w-3") == "processed"
    session.expire_all()
    order = _one_order(session)
    assert order.refunded_amount == 5000
    assert _refunds(session, order) == {
        "shopify-refund-509562971": 3000,
        "shopify-refund-509562972": 2000,
    }
    # Earned once; the export's 30 SAR taken back once, the new 20 SAR once.
    assert _points(session, settings, order) == [-23, -15, 90]


def test_an_export_counting_part_of_a_refund_is_made_up_to_the_shop_total(
    client: TestClient,
    session: Session,
    settings: Settings,
    intake: str,
    tmp_path: Path,
    clock: FrozenClock,
) -> None:
    """An export that counted 30 SAR, a shop that refunded 30 and 20 before it was imported
    (the export older than the second): the order's update, which lists both with the shop's
    total, brings the order to 50, never above."""
    _import(session, settings, _export(tmp_path / "orders.csv", refunded="30.00"))
    second = _shop_refund(509562972, "2026-03-10T09:00:00+03:00", "20.00")
    # Made before the import, it may be in the export: it is named out of the 30.
    assert _refund_hook(client, intake, second, "w-r2") == "processed"
    first = _shop_refund(509562971, "2026-03-02T09:00:00+03:00", "30.00")
    both = shopify_order(
        financial_status="partially_refunded",
        updated_at="2026-03-16T09:00:00+03:00",
        refunds=[first, second],
    )
    assert _webhook(client, intake, both, "w-3") == "processed"
    assert _webhook(client, intake, both, "w-4") == "ignored"  # the same state again
    session.expire_all()
    order = _one_order(session)
    assert order.refunded_amount == 5000
    assert sum(_refunds(session, order).values()) == 5000
