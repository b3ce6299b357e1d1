"""Deliveries: stored once, applied at once, logged with their result; replay after a fix.

``receive`` claims ``(connection, delivery id)`` with ``INSERT … ON CONFLICT DO
NOTHING`` in the request's transaction, so a retried delivery, or twenty copies at
once, is applied once: on PostgreSQL a concurrent copy waits on the unique index until
the first commits and then finds it; on SQLite writers take turns. The delivery is then
applied in a savepoint: a payload that does not validate rolls back whatever it began,
is logged as ``failed`` with its reason (the shop gets its 2xx and stops retrying) and
can be replayed from the dashboard once the cause is fixed. A refund for an order not
seen yet is logged as ``waiting`` and applied when its order arrives.

Topics. Shopify: ``orders/create``, ``orders/updated``, ``orders/paid``,
``orders/fulfilled``, ``orders/cancelled``, ``orders/edited``-style full orders,
``refunds/create``, ``customers/create``, ``customers/update``, and the privacy topics
``customers/data_request`` (the customers are named in the log; the owner exports
them from their profile), ``customers/redact`` (each customer named is erased as
``people`` erases, and the kept bodies mentioning them are cleared) and ``shop/redact``
(every kept body of the connection is cleared and the connection paused).
WooCommerce: ``order.created``, ``order.updated``, ``order.restored``, ``order.deleted``
(the order is cancelled), ``customer.created``, ``customer.updated``. Any other topic
is logged as ignored.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, NamedTuple

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from wafa.auth import business
from wafa.core.db import insert_new, rowcount
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.ingest import FORMATS, shopjson
from wafa.ingest.describe import OrderFormat
from wafa.ingest.values import CellProblem, InstantReader
from wafa.integrations.connections import pause_connection, token_digest
from wafa.integrations.mapping import (
    Applied,
    apply_customer,
    apply_order,
    apply_refund,
    customers_of,
    name_exported_refund,
    stored_order_id,
)
from wafa.integrations.models import Connection, Delivery, DeliveryStatus
from wafa.orders import service as orders
from wafa.orders.models import Order, OrderStatus
from wafa.orders.schemas import OrderStatusUpdate
from wafa.people import service as people

__all__ = [
    "TOPICS",
    "Context",
    "Target",
    "health",
    "intake_target",
    "list_deliveries",
    "purge_bodies",
    "receive",
    "replay",
]

log = logging.getLogger("wafa.integrations")

#: Bodies of deliveries are kept this long, then cleared (the log line stays).
BODY_DAYS = 14


class Context:
    """What applying a delivery needs beyond the session: settings and people's hooks."""

    def __init__(
        self, settings: Settings, hooks: people.Hooks = people.NO_HOOKS, *, waiting: bool = True
    ) -> None:
        self.settings = settings
        self.hooks = hooks
        #: Whether the connection has refunds waiting for their orders (``intake_target``
        #: says, in the statement that finds the connection); when not, none is looked for.
        self.waiting = waiting


Handler = Callable[[Session, Connection, OrderFormat, Mapping[str, Any], Context], Applied]


def _order(s: Session, c: Connection, f: OrderFormat, p: Mapping[str, Any], x: Context) -> Applied:
    applied = apply_order(s, c, f, p, settings=x.settings)
    if applied.created and applied.subject and x.waiting:
        _apply_waiting(s, c, f, applied.subject, x)
    return applied


def _customer(
    s: Session, c: Connection, f: OrderFormat, p: Mapping[str, Any], x: Context
) -> Applied:
    return apply_customer(s, c, f, p, settings=x.settings)


def _refund(s: Session, c: Connection, f: OrderFormat, p: Mapping[str, Any], x: Context) -> Applied:
    shape = shopjson.shape(f)
    order_id = shopjson.cell(shopjson.dig(p, shape.refund_order_id or "")).strip()
    if not order_id:
        raise Invalid.field((shape.refund_order_id or "order_id",), "the refund names no order")
    stored = stored_order_id(s, c, f, order_id)
    if stored is None:
        return Applied("waiting", f"order {order_id} not received yet", order_id)
    order = orders.get_order(s, stored)
    try:
        (refund,) = shopjson.refunds(
            f, [p], currency=order.currency, instant=InstantReader(x.settings.zone), at=utcnow()
        )
    except CellProblem as exc:
        where = exc.column or "refund"
        raise Invalid(f"{where}: {exc.reason}", [((where,), exc.reason)]) from None
    if name_exported_refund(s, f, order.id, refund):
        return Applied(
            "processed", "refund counted by an import: named, not counted again", order_id
        )
    created = apply_refund(s, c, order, refund, order_id)
    return Applied(
        "processed", "refund recorded" if created else "refund already recorded", order_id
    )


def _deleted(
    s: Session, c: Connection, f: OrderFormat, p: Mapping[str, Any], x: Context
) -> Applied:
    shape = shopjson.shape(f)
    order_id = shopjson.cell(shopjson.dig(p, shape.order_id)).strip()
    stored = s.scalar(select(Order.id).where(Order.source == c.name, Order.external_id == order_id))
    if stored is None:
        return Applied("ignored", f"order {order_id} was never received", order_id or None)
    order = orders.get_order(s, stored)
    if order.status in (OrderStatus.cancelled, OrderStatus.refunded):
        return Applied("ignored", f"order {order_id} is {order.status} already", order_id)
    orders.update_order_status(
        s, order_id=order.id, data=OrderStatusUpdate(status=OrderStatus.cancelled)
    )
    return Applied("processed", "order deleted in the shop: cancelled", order_id)


def _privacy_targets(
    s: Session, c: Connection, f: OrderFormat, p: Mapping[str, Any], x: Context, key: str
) -> tuple[set[uuid.UUID], Mapping[str, Any]]:
    customer = p.get("customer")
    if not isinstance(customer, Mapping):
        raise Invalid.field(("customer",), "the request names no customer")
    order_ids = [str(o) for o in p.get(key) or [] if isinstance(o, (int, str))]
    return customers_of(s, c, f, customer, order_ids, settings=x.settings), customer


def _data_request(
    s: Session, c: Connection, f: OrderFormat, p: Mapping[str, Any], x: Context
) -> Applied:
    found, _ = _privacy_targets(s, c, f, p, x, "orders_requested")
    if not found:
        return Applied("processed", "no customer on file matches the request")
    ids = ", ".join(sorted(str(i) for i in found))
    return Applied("processed", f"export each from the customer's profile: {ids}")


def _redact(s: Session, c: Connection, f: OrderFormat, p: Mapping[str, Any], x: Context) -> Applied:
    found, customer = _privacy_targets(s, c, f, p, x, "orders_to_redact")
    for customer_id in sorted(found):
        people.erase_customer(
            s,
            settings=x.settings,
            customer_id=customer_id,
            erased_by=f"{c.shop}:{c.name} redact",
            hooks=x.hooks,
        )
    # The kept bodies that mention the person go too.
    marks = [shopjson.cell(customer.get(k)).strip() for k in ("email", "phone") if customer.get(k)]
    marks = [m for m in marks if len(m) >= 5]
    if marks:
        s.execute(
            update(Delivery)
            .where(Delivery.connection_id == c.id, or_(*(Delivery.body.contains(m) for m in marks)))
            .values(body=None)
            .execution_options(synchronize_session=False)
        )
    return Applied("processed", f"{len(found)} customer(s) erased")


def _shop_redact(
    s: Session, c: Connection, f: OrderFormat, p: Mapping[str, Any], x: Context
) -> Applied:
    s.execute(
        update(Delivery)
        .where(Delivery.connection_id == c.id)
        .values(body=None)
        .execution_options(synchronize_session=False)
    )
    pause_connection(s, c.name)
    return Applied("processed", "the shop left: kept bodies cleared, connection paused")


#: Each shop's topics and what applies them.
TOPICS: dict[str, dict[str, Handler]] = {
    "shopify": {
        "orders/create": _order,
        "orders/updated": _order,
        "orders/paid": _order,
        "orders/fulfilled": _order,
        "orders/partially_fulfilled": _order,
        "orders/cancelled": _order,
        "orders/edited": _order,
        "refunds/create": _refund,
        "customers/create": _customer,
        "customers/update": _customer,
        "customers/data_request": _data_request,
        "customers/redact": _redact,
        "shop/redact": _shop_redact,
    },
    "woocommerce": {
        "order.created": _order,
        "order.updated": _order,
        "order.restored": _order,
        "order.deleted": _deleted,
        "customer.created": _customer,
        "customer.updated": _customer,
    },
}
#: Privacy topics keep no body: it names the person the request is about.
_NO_BODY = frozenset({"customers/redact", "shop/redact"})


def _outcome(
    session: Session,
    connection: Connection,
    topic: str,
    text: str,
    context: Context,
    *,
    savepoint: bool,
) -> tuple[DeliveryStatus, str | None, str | None]:
    """Apply one delivery's body; ``(status, note, subject)``. A payload that does not
    validate is a ``failed`` outcome, not an exception: in a savepoint its work is rolled
    back here, without one the caller rolls the transaction back."""
    handler = TOPICS.get(connection.shop, {}).get(topic)
    if handler is None:
        return DeliveryStatus.ignored, f"topic {topic!r} is not used", None
    try:
        if savepoint:
            with session.begin_nested():
                applied = _handle(session, connection, handler, text, context)
        else:
            applied = _handle(session, connection, handler, text, context)
    except json.JSONDecodeError as exc:
        return DeliveryStatus.failed, f"body: not JSON ({exc.msg})", None
    except (Invalid, Conflict, NotFound) as exc:
        detail = exc.detail
        listed = "; ".join(
            f"{'.'.join(map(str, loc))}: {m}" for loc, m in getattr(exc, "errors", [])
        )
        if listed and listed != detail:
            detail += ": " + listed
        log.warning("a %s delivery (%s) failed: %s", connection.name, topic, detail[:2000])
        return DeliveryStatus.failed, detail[:2000], None
    return DeliveryStatus(applied.status), applied.note, applied.subject


def _handle(
    session: Session, connection: Connection, handler: Handler, text: str, context: Context
) -> Applied:
    payload = json.loads(text)
    if not isinstance(payload, dict):
        raise Invalid.field(("body",), "is not a JSON object")
    return handler(session, connection, FORMATS[connection.shop], payload, context)


def _apply(session: Session, connection: Connection, delivery: Delivery, context: Context) -> None:
    """Apply a stored delivery again (a replay, a refund that waited) in a savepoint,
    recording its result (a failure is logged, not raised)."""
    status, note, subject = _outcome(
        session, connection, delivery.topic, delivery.body or "", context, savepoint=True
    )
    delivery.processed_at = utcnow()
    delivery.status, delivery.error = status, note
    if subject:
        delivery.subject = subject[:200]
    if delivery.topic in _NO_BODY and status is not DeliveryStatus.failed:
        delivery.body = None


def _apply_waiting(
    session: Session, connection: Connection, fmt: OrderFormat, subject: str, context: Context
) -> None:
    """Apply the refunds that arrived before their order, oldest first."""
    waiting = session.scalars(
        select(Delivery)
        .where(
            Delivery.connection_id == connection.id,
            Delivery.status == DeliveryStatus.waiting,
            Delivery.subject == subject,
        )
        .order_by(Delivery.received_at)
    ).all()
    for delivery in waiting:
        delivery.attempts += 1
        _apply(session, connection, delivery, context)


def receive(
    session: Session,
    connection: Connection,
    *,
    topic: str,
    delivery_id: str,
    body: bytes,
    context: Context,
) -> Delivery | None:
    """Apply a signed delivery and log it once; ``None`` when it was received before.

    The work comes first and the log row, with its result, is written once after it,
    in the same transaction (no savepoint, no second write of the row): the row's
    ``(connection, delivery id)`` key is the claim. A copy that finds the key taken
    undoes its own work (a rollback) and is a duplicate; on PostgreSQL a concurrent copy
    waits on the first one's keys (the shop order's, the order's) and then finds them
    taken. A payload that does not validate rolls back whatever it began and is logged
    as ``failed``.
    """
    text = body.decode("utf-8", errors="replace")
    received_at = utcnow()
    status, note, subject = _outcome(session, connection, topic, text, context, savepoint=False)
    failed = status is DeliveryStatus.failed
    if failed:
        session.rollback()  # whatever the payload began; the log row follows alone
    values = {
        "id": new_id(),
        "connection_id": connection.id,
        "delivery_id": delivery_id[:200],
        "topic": topic[:64],
        "received_at": received_at,
        "processed_at": utcnow(),
        "status": status.value,
        "error": note,
        "subject": subject[:200] if subject else None,
        "body": None if topic in _NO_BODY and not failed else text,
        "attempts": 1,
    }
    if not insert_new(
        session, Delivery, index_elements=["connection_id", "delivery_id"], values=values
    ):
        if not failed:
            session.rollback()  # received before: this copy's work is undone
        return None
    return Delivery(**values)


class Target(NamedTuple):
    """An intake path's connection, whether it has refunds waiting for their orders, and
    the owner's settings' version token (``wafa.auth.business``)."""

    connection: Connection
    waiting: bool
    settings_version: str | None


def intake_target(session: Session, shop: str, token: str) -> Target | None:
    """The connection of an intake path, with what a delivery needs to know beside it, in
    one statement: the delivery log's waiting index answers whether refunds wait, the
    settings' version says whether the settings in force are current (the intake reads it
    here instead of in a statement of its own before the request; see ``app.live_settings``)."""
    waiting = (
        select(Delivery.id)
        .where(Delivery.connection_id == Connection.id, Delivery.status == DeliveryStatus.waiting)
        .exists()
    )
    version = business.version_column()
    found = session.execute(
        select(Connection, waiting, version).where(Connection.token_hash == token_digest(token))
    ).first()
    if found is None or found[0].shop != shop:
        return None
    return Target(found[0], bool(found[1]), found[2])


def replay(session: Session, delivery_id: uuid.UUID, context: Context) -> Delivery:
    """Apply a failed (or waiting) delivery again, from its kept body."""
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} not found")
    if delivery.status not in (DeliveryStatus.failed, DeliveryStatus.waiting):
        raise Conflict(
            f"delivery {delivery_id} is {delivery.status}: only a failed one is replayed"
        )
    if delivery.body is None:
        raise Conflict("the delivery's body is no longer kept: ask the shop to send it again")
    connection = session.get(Connection, delivery.connection_id)
    assert connection is not None
    delivery.attempts += 1
    _apply(session, connection, delivery, context)
    session.flush()
    return delivery


def list_deliveries(
    session: Session,
    *,
    connection_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[Delivery]:
    """The newest deliveries, optionally of one connection or one result."""
    stmt = select(Delivery).order_by(Delivery.received_at.desc(), Delivery.id.desc())
    if connection_id is not None:
        stmt = stmt.where(Delivery.connection_id == connection_id)
    if status:
        stmt = stmt.where(Delivery.status == status)
    return list(session.scalars(stmt.limit(limit)))


def purge_bodies(session: Session, *, days: int = BODY_DAYS) -> int:
    """Clear bodies older than ``days`` (the log lines stay); returns how many."""
    cutoff = utcnow() - timedelta(days=days)
    result = session.execute(
        update(Delivery)
        .where(Delivery.received_at < cutoff, Delivery.body.is_not(None))
        .values(body=None)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def health(session: Session) -> dict[uuid.UUID, tuple[Any, int]]:
    """Each connection's last delivery time and its failures of the last day."""
    since = utcnow() - timedelta(days=1)
    newest = select(Delivery.connection_id, func.max(Delivery.received_at))
    last: dict[uuid.UUID, Any] = dict(
        session.execute(newest.group_by(Delivery.connection_id)).all()
    )
    failed: dict[uuid.UUID, int] = {
        cid: int(count)
        for cid, count in session.execute(
            select(Delivery.connection_id, func.count())
            .where(Delivery.status == DeliveryStatus.failed, Delivery.received_at >= since)
            .group_by(Delivery.connection_id)
        )
    }
    return {cid: (last.get(cid), failed.get(cid, 0)) for cid in {*last, *failed}}
