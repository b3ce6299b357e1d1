"""The bulk writer: normalised orders into the database, thousands at a time.

``OrderWriter.write(records)`` stores a batch inside the caller's transaction with
SQLAlchemy Core ``executemany`` inserts and ids made up front (``new_id``), so a batch
costs a handful of statements whatever its size:

1. orders whose ``(source, external_id)`` is already stored are counted and skipped
   (that is what makes a re-import change nothing);
2. the customers behind the new orders are matched or created in one call to
   ``customers.service.resolve_contacts`` (the matching engine), which also records
   consent and emits ``customer.created``;
   (an opt-in repeated on a person's later orders of the run is passed on once);
3. products are found or created by sku through ``orders.service.ensure_products``
   and cached for the following batches;
4. orders, lines, refunds and their outbox events (``order.placed`` with
   ``imported=True``, ``order.refunded``) are inserted.

The importer and the demo store both use it. It never commits.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, or_, select
from sqlalchemy.orm import Session

from wafa.core.ids import new_id
from wafa.core.money import prorate
from wafa.core.outbox import OutboxEvent
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.orders import service as orders
from wafa.orders.importing.records import OrderRecord
from wafa.orders.models import Location, Order, OrderLine, OrderStatus, Refund, RefundLine

_ORDERS = cast(Table, Order.__table__)
_LINES = cast(Table, OrderLine.__table__)
_REFUNDS = cast(Table, Refund.__table__)
_REFUND_LINES = cast(Table, RefundLine.__table__)
_EVENTS = cast(Table, OutboxEvent.__table__)
ORDER_COLUMNS = (
    "id", "source", "external_id", "number", "channel", "location_id", "customer_id", "status",
    "currency", "subtotal_amount", "discount_amount", "shipping_amount", "tax_amount",
    "total_amount", "refunded_amount", "contact_email", "contact_phone", "contact_name",
    "shipping_address", "coupon_codes", "placed_at", "paid_at", "fulfilled_at", "delivered_at",
    "promised_at", "cancelled_at", "created_at", "attributes",
)  # fmt: skip
LINE_COLUMNS = (
    "id", "order_id", "line_no", "product_id", "sku", "name", "category", "quantity",
    "unit_price_amount", "discount_amount", "total_amount", "refunded_quantity",
)  # fmt: skip
REFUND_COLUMNS = (
    "id", "order_id", "external_id", "amount", "currency", "reason", "refunded_at", "created_at",
)  # fmt: skip
REFUND_LINE_COLUMNS = ("id", "refund_id", "order_line_id", "quantity", "amount")
EVENT_COLUMNS = ("id", "topic", "subject_id", "payload", "occurred_at")


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


_SQLITE_EPOCH_FMT = "%Y-%m-%d %H:%M:%S.%f"


class _IdBlock:
    """UUIDv7 ids in bulk: one clock read and one ``urandom`` call per block.

    Same layout as ``core.ids.new_id`` (48-bit milliseconds, version 7, a 12-bit
    counter, the variant, 62 random bits), several times cheaper per id.
    """

    def __init__(self) -> None:
        self._ms = 0
        self._counter = 0

    def take(self, count: int) -> list[str]:
        """``count`` new ids as 32 hex digits (how SQLite stores UUIDs; PostgreSQL reads them too)."""
        ms = max(time.time_ns() // 1_000_000, self._ms)
        if ms > self._ms:
            self._ms, self._counter = ms, 0
        noise = os.urandom(8 * count)
        ids = []
        for i in range(count):
            if self._counter > 0xFFF:
                self._ms += 1
                self._counter = 0
            rand = int.from_bytes(noise[8 * i : 8 * i + 8], "big") & ((1 << 62) - 1)
            value = (
                ((self._ms & 0xFFFFFFFFFFFF) << 80)
                | (0x7 << 76)
                | (self._counter << 64)
                | (0b10 << 62)
                | rand
            )
            self._counter += 1
            ids.append(f"{value:032x}")
        return ids


class BulkInserter:
    """Executemany (SQLite) or ``COPY`` (PostgreSQL) on the session's own connection.

    Rows are tuples of plain Python values; values are converted here the way
    SQLAlchemy's column types store them (UUIDs as 32 hex digits, instants as naive
    UTC text and booleans as 0/1 on SQLite; JSON as text), which is several times
    cheaper than SQLAlchemy's per-row bind processing. The statements run inside the
    session's transaction.
    """

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self.postgres = connection.dialect.name == "postgresql"
        self.raw: Any = connection.connection.dbapi_connection
        if not self.postgres:
            # A bigger page cache (64 MiB, fixed) keeps the growing indexes in memory
            # while a big import inserts into them; the default is 2 MiB.
            self.raw.execute("PRAGMA cache_size = -65536")

    def uuid(self, value: uuid.UUID | str | None) -> Any:
        """A UUID as the database takes it: 32 hex digits (ids made here already are)."""
        if value is None or isinstance(value, str):
            return value
        return value.hex

    def instant(self, value: datetime | None) -> Any:
        """An aware instant as the database stores it (``UtcDateTime``)."""
        if value is None:
            return None
        utc = value.astimezone(UTC)
        if self.postgres:
            return utc
        return utc.replace(tzinfo=None).isoformat(" ", "microseconds")

    def json(self, value: Any) -> str:
        """A JSON column's text (UUIDs and instants as strings, as ``outbox.emit`` writes them)."""
        if not value:
            return "[]" if isinstance(value, list) else "{}"
        return _dumps(value)

    def flag(self, value: bool) -> Any:
        """A boolean."""
        return value if self.postgres else int(value)

    def insert(self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows`` (values in ``columns`` order) into ``table``."""
        if not rows:
            return
        names = ", ".join(columns)
        if self.postgres:
            with (
                self.raw.cursor() as cursor,
                cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" * len(columns))
        cursor = self.raw.cursor()
        try:
            cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)
        finally:
            cursor.close()


def _json_default(value: Any) -> Any:
    """UUIDs and instants as ``outbox.emit`` writes them."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


_dumps = json.JSONEncoder(default=_json_default).encode

# ``order.placed`` is written once per order: its JSON is laid out directly when the
# payload has the shape this module knows, and encoded generically otherwise.
_PLACED_SHAPE = ("order_id", "customer_id", "channel", "currency", "total", "placed_at", "imported")
_PLACED_KNOWN = (
    tuple(
        orders.order_placed_payload(
            uuid.UUID(int=0),
            None,
            "online",
            "USD",
            0,
            datetime(2000, 1, 1, tzinfo=UTC),
            imported=True,
        )
    )
    == _PLACED_SHAPE
)


def _dashed(hex_id: str) -> str:
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"


def _placed_json(
    order_hex: str,
    customer_id: uuid.UUID | None,
    channel: str,
    currency: str,
    total: int,
    placed_at: datetime,
    imported: bool,
) -> str:
    """The ``order.placed`` payload of ``orders.service.order_placed_payload`` as JSON.

    Channel and currency are validated codes (``online``, ``USD``…), so they need no
    escaping.
    """
    if not _PLACED_KNOWN:
        return _dumps(
            orders.order_placed_payload(
                uuid.UUID(hex=order_hex), customer_id, channel, currency, total, placed_at,
                imported=imported,
            )
        )  # fmt: skip
    customer = f'"{customer_id}"' if customer_id is not None else "null"
    return (
        f'{{"order_id": "{_dashed(order_hex)}", "customer_id": {customer}, '
        f'"channel": "{channel}", "currency": "{currency}", '
        f'"total": {int(total)}, "placed_at": "{placed_at.isoformat()}", '
        f'"imported": {"true" if imported else "false"}}}'
    )


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
        self._bulk = BulkInserter(session)
        self._ids = _IdBlock()
        self._consents: dict[int, tuple[bool | None, bool | None]] = {}
        self._resolved: dict[tuple[object, ...], uuid.UUID] = {}

    # ------------------------------------------------------------------ lookups

    def _consent_once(self, contact: customers.Contact) -> customers.Contact:
        """Drop an opt-in this run already passed on for the same person and value.

        Exports repeat the customer's marketing choice on every order; recording it at
        their first order of the run is the decision, the repeats add only noise. The
        memory of what was passed on is capped (cleared past 50,000 people), so at
        worst a decision is recorded twice.
        """
        if contact.email_opt_in is None and contact.sms_opt_in is None:
            return contact
        key = hash(contact.email or contact.phone or (contact.external_source, contact.external_id))
        decision = (contact.email_opt_in, contact.sms_opt_in)
        if self._consents.get(key) == decision:
            # The record is the caller's to give away: clearing it in place is cheaper.
            contact.email_opt_in = contact.sms_opt_in = None
            return contact
        if len(self._consents) >= 50_000:
            self._consents.clear()
        self._consents[key] = decision
        return contact

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
        customer_ids = self._resolve(fresh)
        self._ensure_products(fresh)
        self._location_ids(fresh)
        self._insert(fresh, customer_ids)

    def _resolve(self, records: Sequence[OrderRecord]) -> list[uuid.UUID | None]:
        """The customer of each order, through ``resolve_contacts`` (the matching engine).

        A contact identical in every detail to one already resolved in this run, with no
        consent to record, has the same answer and nothing new to add, so it is answered
        from memory (capped like the other caches) instead of asking again.
        """
        ids: list[uuid.UUID | None] = [None] * len(records)
        ask: list[customers.Contact] = []
        asked_at: list[int] = []
        keys: list[tuple[object, ...]] = []
        for index, record in enumerate(records):
            contact = self._consent_once(record.contact)
            if not contact.identifiable:
                self.stats.guests += 1
                continue
            key: tuple[object, ...] = (contact.email, contact.phone, contact.external_source, contact.external_id,
                   contact.name, contact.city, contact.address)  # fmt: skip
            if contact.email_opt_in is None and contact.sms_opt_in is None:
                known = self._resolved.get(key)
                if known is not None:
                    ids[index] = known
                    self._count_match(known)
                    continue
            ask.append(contact)
            asked_at.append(index)
            keys.append(key)
        if not ask:
            return ids
        resolution = customers.resolve_contacts(self.session, ask, source=self.source)
        self.stats.customers_created += len(resolution.created)
        if len(self._resolved) >= 50_000:
            self._resolved.clear()
        for index, asked_key, cid in zip(asked_at, keys, resolution.customer_ids, strict=True):
            ids[index] = cid
            if cid is not None:
                self._resolved[asked_key] = cid
                self._count_match(cid)
        return ids

    def _count_match(self, customer_id: uuid.UUID) -> None:
        if customer_id < self._watermark:
            self.stats.matched.add(customer_id)

    def _insert(
        self, records: Sequence[OrderRecord], customer_ids: Sequence[uuid.UUID | None]
    ) -> None:
        bulk = self._bulk
        u, t, j = bulk.uuid, bulk.instant, bulk.json
        now = utcnow()
        now_db = t(now)
        order_rows: list[tuple[Any, ...]] = []
        line_rows: list[tuple[Any, ...]] = []
        refund_rows: list[tuple[Any, ...]] = []
        refund_line_rows: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        products = self._products
        locations = self._locations
        placed_topic = orders.ORDER_PLACED
        wanted = sum(2 + len(r.lines) + sum(2 + len(f.lines) for f in r.refunds) for r in records)
        next_id = iter(self._ids.take(wanted)).__next__
        for record, customer_id in zip(records, customer_ids, strict=True):
            order_db = next_id()
            customer_db = u(customer_id)
            line_ids = [next_id() for _ in record.lines]
            totals = [line.total for line in record.lines]
            total = record.final_total()
            refunded = min(sum(r.amount for r in record.refunds), total)
            status = str(record.status)
            if refunded and status != OrderStatus.cancelled:
                status = "refunded" if refunded >= total else "partially_refunded"
            refunded_qty = [0] * len(record.lines)
            for refund in record.refunds:
                for index, qty in refund.lines:
                    refunded_qty[index] += qty
            contact = record.contact
            location_id = locations.get(record.location) if record.location else None
            order_rows.append(
                (
                    order_db, self.source, record.external_id, record.number, record.channel,
                    u(location_id), customer_db, status, record.currency,
                    record.subtotal if record.subtotal is not None else sum(totals),
                    record.discount, record.shipping, record.tax, total, refunded,
                    contact.email, contact.phone, contact.name, record.shipping_address,
                    j(record.coupon_codes), t(record.placed_at), t(record.paid_at),
                    t(record.fulfilled_at), t(record.delivered_at), t(record.promised_at),
                    t(record.cancelled_at), now_db, j(record.attributes),
                )
            )  # fmt: skip
            for no, line in enumerate(record.lines):
                product_id, category = (
                    products.get(line.sku, (None, None)) if line.sku else (None, None)
                )
                line_rows.append(
                    (
                        line_ids[no], order_db, no + 1, u(product_id), line.sku, line.name,
                        line.category or category, line.quantity, line.unit_price, line.discount,
                        totals[no], refunded_qty[no],
                    )
                )  # fmt: skip
            events.append(
                (
                    next_id(), placed_topic, order_db,
                    _placed_json(
                        order_db, customer_id, record.channel, record.currency, total,
                        record.placed_at, self.imported,
                    ),
                    now_db,
                )
            )  # fmt: skip
            left = total
            for refund in record.refunds:
                amount = min(refund.amount, left)
                if amount <= 0:
                    continue
                left -= amount
                refund_id = next_id()
                refund_rows.append(
                    (
                        refund_id, order_db, refund.external_id, amount, record.currency,
                        refund.reason, t(refund.refunded_at), now_db,
                    )
                )  # fmt: skip
                payload_lines = []
                for index, qty in refund.lines:
                    line_amount = prorate(totals[index], qty, record.lines[index].quantity)
                    refund_line_rows.append(
                        (next_id(), refund_id, line_ids[index], qty, line_amount)
                    )
                    payload_lines.append(
                        {"order_line_id": uuid.UUID(hex=line_ids[index]), "sku": record.lines[index].sku,
                         "quantity": qty, "amount": line_amount}
                    )  # fmt: skip
                events.append(
                    (
                        next_id(), orders.ORDER_REFUNDED, order_db,
                        j({"order_id": uuid.UUID(hex=order_db), "refund_id": uuid.UUID(hex=refund_id), "customer_id": customer_id,
                           "amount": amount, "currency": record.currency, "full": left == 0,
                           "lines": payload_lines, "imported": self.imported}),
                        now_db,
                    )
                )  # fmt: skip
            self.stats.lines += len(record.lines)
        bulk.insert(_ORDERS, ORDER_COLUMNS, order_rows)
        bulk.insert(_LINES, LINE_COLUMNS, line_rows)
        bulk.insert(_REFUNDS, REFUND_COLUMNS, refund_rows)
        bulk.insert(_REFUND_LINES, REFUND_LINE_COLUMNS, refund_line_rows)
        bulk.insert(_EVENTS, EVENT_COLUMNS, events)
        self.stats.orders_created += len(order_rows)
        self.stats.refunds += len(refund_rows)
