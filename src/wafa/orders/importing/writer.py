"""The bulk writer: normalised orders into the database, thousands at a time.

``OrderWriter.write(records)`` stores a batch inside the caller's transaction with
SQLAlchemy Core ``executemany`` inserts and ids made up front (``new_id``), so a batch
costs a handful of statements whatever its size:

1. orders whose ``(source, external_id)`` is already stored are counted and skipped
   (that is what makes a re-import change nothing);
2. the customers behind the new orders are matched or created in one call to
   ``customers.service.resolve_contacts`` (the matching engine), which also records
   consent and emits ``customer.created``;
3. products are found or created by sku through ``orders.service.ensure_products``
   and cached for the following batches;
4. orders, lines, refunds and their outbox events (``order.placed`` with
   ``imported=True``, ``order.refunded``) are inserted.

The importer and the demo store both use it. It never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, or_, select
from sqlalchemy.orm import Session

from wafa.core.ids import new_id
from wafa.core.money import prorate
from wafa.core.outbox import OutboxEvent
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.orders import service as orders
from wafa.orders.importing.records import OrderRecord, RefundRecord
from wafa.orders.models import Location, Order, OrderLine, OrderStatus, Refund, RefundLine

_ORDERS = cast(Table, Order.__table__)
_LINES = cast(Table, OrderLine.__table__)
_REFUNDS = cast(Table, Refund.__table__)
_REFUND_LINES = cast(Table, RefundLine.__table__)
_EVENTS = cast(Table, OutboxEvent.__table__)


@dataclass
class WriteStats:
    """What a run of the writer did."""

    orders_created: int = 0
    orders_present: int = 0
    lines: int = 0
    refunds: int = 0
    customers_created: int = 0
    guests: int = 0
    matched: set[uuid.UUID] = field(default_factory=set)

    @property
    def customers_matched(self) -> int:
        """Distinct customers that existed before this run and received orders."""
        return len(self.matched)


def _json(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


class OrderWriter:
    """Writes batches of ``OrderRecord`` for one source inside one transaction."""

    def __init__(self, session: Session, *, source: str, imported: bool = True) -> None:
        self.session = session
        self.source = source
        self.imported = imported
        self.stats = WriteStats()
        # Customers with an id below this existed before the run (ids are time-ordered).
        self._watermark = new_id()
        self._products: dict[str, tuple[uuid.UUID, str | None]] = {}
        self._locations: dict[str, uuid.UUID | None] = {}

    # ------------------------------------------------------------------ lookups

    def _existing(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 5000):
            chunk = keys[start : start + 5000]
            found.update(
                self.session.scalars(
                    select(Order.external_id).where(
                        Order.source == self.source, Order.external_id.in_(chunk)
                    )
                )
            )
        return found

    def _ensure_products(self, records: Sequence[OrderRecord]) -> None:
        wanted: dict[str, list[tuple[str, str, str | None, int]]] = {}
        for record in records:
            for line in record.lines:
                if line.sku and line.sku not in self._products:
                    wanted.setdefault(record.currency, []).append(
                        (line.sku, line.name, line.category, line.unit_price)
                    )
        for currency, items in wanted.items():
            items = [i for i in items if i[0] not in self._products]
            if items:
                self._products.update(
                    orders.ensure_products(self.session, items, currency=currency)
                )

    def _location_ids(self, records: Sequence[OrderRecord]) -> None:
        wanted = {r.location for r in records if r.location and r.location not in self._locations}
        if not wanted:
            return
        rows = self.session.execute(
            select(Location.id, Location.code, Location.name).where(
                or_(Location.code.in_(wanted), Location.name.in_(wanted))
            )
        ).all()
        for name in wanted:
            self._locations[name] = next(
                (r[0] for r in rows if r[1] == name),
                next((r[0] for r in rows if r[2] == name), None),
            )

    # ------------------------------------------------------------------ writing

    def write(self, records: Sequence[OrderRecord]) -> None:
        """Store the records that are not stored yet; count the rest as already present."""
        if not records:
            return
        present = self._existing([r.external_id for r in records])
        fresh: list[OrderRecord] = []
        seen: set[str] = set()
        for record in records:
            if record.external_id in present or record.external_id in seen:
                self.stats.orders_present += 1
                continue
            seen.add(record.external_id)
            fresh.append(record)
        if not fresh:
            return
        resolution = customers.resolve_contacts(
            self.session, [r.contact for r in fresh], source=self.source
        )
        created = set(resolution.created)
        self.stats.customers_created += len(created)
        for cid in resolution.customer_ids:
            if cid is None:
                self.stats.guests += 1
            elif cid not in created and cid < self._watermark:
                self.stats.matched.add(cid)
        self._ensure_products(fresh)
        self._location_ids(fresh)
        self._insert(fresh, resolution.customer_ids)

    def _insert(
        self, records: Sequence[OrderRecord], customer_ids: Sequence[uuid.UUID | None]
    ) -> None:
        now = utcnow()
        order_rows: list[dict[str, Any]] = []
        line_rows: list[dict[str, Any]] = []
        refund_rows: list[dict[str, Any]] = []
        refund_line_rows: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        products = self._products
        for record, customer_id in zip(records, customer_ids, strict=True):
            order_id = new_id()
            line_ids = [new_id() for _ in record.lines]
            totals = [line.total for line in record.lines]
            total = record.final_total()
            refunded = min(sum(r.amount for r in record.refunds), total)
            status = record.status
            if refunded and status != OrderStatus.cancelled:
                status = (
                    OrderStatus.refunded if refunded >= total else OrderStatus.partially_refunded
                )
            refunded_qty = [0] * len(record.lines)
            for refund in record.refunds:
                for index, qty in refund.lines:
                    refunded_qty[index] += qty
            contact = record.contact
            order_rows.append(
                {
                    "id": order_id,
                    "source": self.source,
                    "external_id": record.external_id,
                    "number": record.number,
                    "channel": record.channel,
                    "location_id": self._locations.get(record.location)
                    if record.location
                    else None,
                    "customer_id": customer_id,
                    "status": status,
                    "currency": record.currency,
                    "subtotal_amount": record.subtotal
                    if record.subtotal is not None
                    else sum(totals),
                    "discount_amount": record.discount,
                    "shipping_amount": record.shipping,
                    "tax_amount": record.tax,
                    "total_amount": total,
                    "refunded_amount": refunded,
                    "contact_email": contact.email,
                    "contact_phone": contact.phone,
                    "contact_name": contact.name,
                    "shipping_address": record.shipping_address,
                    "coupon_codes": record.coupon_codes,
                    "placed_at": record.placed_at,
                    "paid_at": record.paid_at,
                    "fulfilled_at": record.fulfilled_at,
                    "delivered_at": record.delivered_at,
                    "promised_at": record.promised_at,
                    "cancelled_at": record.cancelled_at,
                    "created_at": now,
                    "attributes": record.attributes,
                }
            )
            for no, (line, line_id, line_total) in enumerate(
                zip(record.lines, line_ids, totals, strict=True)
            ):
                product_id, category = (
                    products.get(line.sku, (None, None)) if line.sku else (None, None)
                )
                line_rows.append(
                    {
                        "id": line_id,
                        "order_id": order_id,
                        "line_no": no + 1,
                        "product_id": product_id,
                        "sku": line.sku,
                        "name": line.name,
                        "category": line.category or category,
                        "quantity": line.quantity,
                        "unit_price_amount": line.unit_price,
                        "discount_amount": line.discount,
                        "total_amount": line_total,
                        "refunded_quantity": refunded_qty[no],
                    }
                )
            events.append(
                {
                    "id": new_id(),
                    "topic": orders.ORDER_PLACED,
                    "subject_id": order_id,
                    "payload": _json(
                        orders.order_placed_payload(
                            order_id, customer_id, record.channel, record.currency, total,
                            record.placed_at, imported=self.imported,
                        )
                    ),
                    "occurred_at": now,
                }
            )  # fmt: skip
            left = total
            for refund in record.refunds:
                amount = min(refund.amount, left)
                if amount <= 0:
                    continue
                left -= amount
                self._refund_rows(
                    refund, amount, order_id, customer_id, record, line_ids, totals, left == 0,
                    refund_rows, refund_line_rows, events, now,
                )  # fmt: skip
            self.stats.lines += len(record.lines)
        session = self.session
        session.execute(insert(_ORDERS), order_rows)
        session.execute(insert(_LINES), line_rows)
        if refund_rows:
            session.execute(insert(_REFUNDS), refund_rows)
        if refund_line_rows:
            session.execute(insert(_REFUND_LINES), refund_line_rows)
        session.execute(insert(_EVENTS), events)
        self.stats.orders_created += len(order_rows)
        self.stats.refunds += len(refund_rows)

    def _refund_rows(
        self,
        refund: RefundRecord,
        amount: int,
        order_id: uuid.UUID,
        customer_id: uuid.UUID | None,
        record: OrderRecord,
        line_ids: list[uuid.UUID],
        totals: list[int],
        full: bool,
        refund_rows: list[dict[str, Any]],
        refund_line_rows: list[dict[str, Any]],
        events: list[dict[str, Any]],
        now: datetime,
    ) -> None:
        refund_id = new_id()
        refund_rows.append(
            {
                "id": refund_id,
                "order_id": order_id,
                "external_id": refund.external_id,
                "amount": amount,
                "currency": record.currency,
                "reason": refund.reason,
                "refunded_at": refund.refunded_at,
                "created_at": now,
            }
        )
        payload_lines = []
        for index, qty in refund.lines:
            line = record.lines[index]
            line_amount = prorate(totals[index], qty, line.quantity)
            refund_line_rows.append(
                {
                    "id": new_id(),
                    "refund_id": refund_id,
                    "order_line_id": line_ids[index],
                    "quantity": qty,
                    "amount": line_amount,
                }
            )
            payload_lines.append(
                {
                    "order_line_id": line_ids[index],
                    "sku": line.sku,
                    "quantity": qty,
                    "amount": line_amount,
                }
            )
        events.append(
            {
                "id": new_id(),
                "topic": orders.ORDER_REFUNDED,
                "subject_id": order_id,
                "payload": _json(
                    {
                        "order_id": order_id,
                        "refund_id": refund_id,
                        "customer_id": customer_id,
                        "amount": amount,
                        "currency": record.currency,
                        "full": full,
                        "lines": payload_lines,
                        "imported": self.imported,
                    }
                ),
                "occurred_at": now,
            }
        )
