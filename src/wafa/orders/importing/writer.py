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
import zlib
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
from wafa.orders.importing.records import (
    C_EMAIL,
    C_EMAIL_OPT,
    C_EXT_ID,
    C_EXT_SOURCE,
    C_NAME,
    C_PHONE,
    C_SMS_OPT,
    L_CATEGORY,
    L_DISCOUNT,
    L_NAME,
    L_QUANTITY,
    L_SKU,
    L_UNIT_PRICE,
    P_ATTRIBUTES,
    P_CANCELLED_AT,
    P_CHANNEL,
    P_CONTACT,
    P_COUPONS,
    P_CURRENCY,
    P_DELIVERED_AT,
    P_DISCOUNT,
    P_EXTERNAL_ID,
    P_FULFILLED_AT,
    P_LINES,
    P_LOCATION,
    P_NUMBER,
    P_PAID_AT,
    P_PLACED_AT,
    P_PROMISED_AT,
    P_REFUNDS,
    P_SHIPPING,
    P_SHIPPING_ADDRESS,
    P_STATUS,
    P_SUBTOTAL,
    P_TAX,
    P_TOTAL,
    R_AMOUNT,
    R_EXTERNAL_ID,
    R_LINES,
    R_REASON,
    R_REFUNDED_AT,
    OrderRecord,
    Packed,
    pack,
)
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
        raw: Any = connection.connection.dbapi_connection
        self.raw = raw
        if not self.postgres:
            # A bigger page cache (64 MiB, fixed) keeps the growing indexes in memory
            # while a big import inserts into them; the default is 2 MiB.
            raw.execute("PRAGMA cache_size = -65536")

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

# How many people the writer remembers (resolved customers, consent passed on): about
# 150 bytes each, so memory stays under ~40 MB whatever the file's size; past it the
# memory starts again and the next orders of those people ask the database again.
_MEMORY = 250_000


def _checksum(key: Packed) -> int:
    """A second, independent fingerprint of a contact, so that a hash collision between
    two different people can never hand one the other's orders."""
    return zlib.crc32("\x1f".join(map(str, key)).encode())


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
        # Contacts already resolved in this run: hash of the contact -> (checksum, customer).
        self._resolved: dict[int, tuple[int, uuid.UUID]] = {}

    # ------------------------------------------------------------------ lookups

    def _consent_once(self, contact: Packed) -> Packed:
        """Drop an opt-in this run already passed on for the same person and value.

        Exports repeat the customer's marketing choice on every order; recording it at
        their first order of the run is the decision, the repeats add only noise. The
        memory of what was passed on is capped (``_MEMORY`` people), so at worst a
        decision is recorded twice.
        """
        decision = (contact[C_EMAIL_OPT], contact[C_SMS_OPT])
        if decision == (None, None):
            return contact
        key = hash(
            contact[C_EMAIL] or contact[C_PHONE] or (contact[C_EXT_SOURCE], contact[C_EXT_ID])
        )
        if self._consents.get(key) == decision:
            return (*contact[:C_EMAIL_OPT], None, None, *contact[C_SMS_OPT + 1 :])
        if len(self._consents) >= _MEMORY:
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

    def _ensure_products(self, rows: Sequence[Packed]) -> None:
        wanted: dict[str, list[tuple[str, str, str | None, int]]] = {}
        for row in rows:
            for line in row[P_LINES]:
                sku = line[L_SKU]
                if sku and sku not in self._products:
                    wanted.setdefault(row[P_CURRENCY], []).append(
                        (sku, line[L_NAME], line[L_CATEGORY], line[L_UNIT_PRICE])
                    )
        for currency, items in wanted.items():
            items = [i for i in items if i[0] not in self._products]
            if items:
                self._products.update(
                    orders.ensure_products(self.session, items, currency=currency)
                )

    def _location_ids(self, rows: Sequence[Packed]) -> None:
        wanted = {
            r[P_LOCATION] for r in rows if r[P_LOCATION] and r[P_LOCATION] not in self._locations
        }
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
        """Store the records that are not stored yet; count the rest as already present.

        Opt-ins repeated on a person's later orders are cleared from ``records``.
        """
        self.write_packed([pack(record) for record in records])

    def write_packed(self, rows: Sequence[Packed]) -> None:
        """``write`` for orders already packed with ``records.pack`` (the import's spool)."""
        if not rows:
            return
        present = self._existing([r[P_EXTERNAL_ID] for r in rows])
        fresh: list[Packed] = []
        seen: set[str] = set()
        for row in rows:
            key = row[P_EXTERNAL_ID]
            if key in present or key in seen:
                self.stats.orders_present += 1
                continue
            seen.add(key)
            fresh.append(row)
        if not fresh:
            return
        customer_ids = self._resolve(fresh)
        self._ensure_products(fresh)
        self._location_ids(fresh)
        self._insert(fresh, customer_ids)

    def _resolve(self, rows: Sequence[Packed]) -> list[uuid.UUID | None]:
        """The customer of each order, through ``resolve_contacts`` (the matching engine).

        A contact identical in every detail to one already resolved in this run, with no
        consent to record, has the same answer and nothing new to add, so it is answered
        from memory (``_MEMORY`` people at most) instead of asking again.
        """
        ids: list[uuid.UUID | None] = [None] * len(rows)
        ask: list[customers.Contact] = []
        asked_at: list[int] = []
        keys: list[Packed] = []
        for index, row in enumerate(rows):
            contact = self._consent_once(row[P_CONTACT])
            if not (
                contact[C_EMAIL]
                or contact[C_PHONE]
                or (contact[C_EXT_SOURCE] and contact[C_EXT_ID])
            ):
                self.stats.guests += 1
                continue
            key = contact[:C_EMAIL_OPT]
            if contact[C_EMAIL_OPT] is None and contact[C_SMS_OPT] is None:
                known = self._resolved.get(hash(key))
                if known is not None and known[0] == _checksum(key):
                    ids[index] = known[1]
                    self._count_match(known[1])
                    continue
            ask.append(customers.Contact(*contact))
            asked_at.append(index)
            keys.append(key)
        if not ask:
            return ids
        resolution = customers.resolve_contacts(self.session, ask, source=self.source)
        self.stats.customers_created += len(resolution.created)
        if len(self._resolved) >= _MEMORY:
            self._resolved.clear()
        for index, asked_key, cid in zip(asked_at, keys, resolution.customer_ids, strict=True):
            ids[index] = cid
            if cid is not None:
                self._resolved[hash(asked_key)] = (_checksum(asked_key), cid)
                self._count_match(cid)
        return ids

    def _count_match(self, customer_id: uuid.UUID) -> None:
        if customer_id < self._watermark:
            self.stats.matched.add(customer_id)

    def _insert(self, rows: Sequence[Packed], customer_ids: Sequence[uuid.UUID | None]) -> None:
        bulk = self._bulk
        u, t, j = bulk.uuid, bulk.instant, bulk.json
        now = utcnow()
        now_db = t(now)
        order_rows: list[Packed] = []
        line_rows: list[Packed] = []
        refund_rows: list[Packed] = []
        refund_line_rows: list[Packed] = []
        events: list[Packed] = []
        products = self._products
        locations = self._locations
        placed_topic = orders.ORDER_PLACED
        wanted = sum(
            2 + len(r[P_LINES]) + sum(2 + len(f[R_LINES]) for f in r[P_REFUNDS]) for r in rows
        )
        next_id = iter(self._ids.take(wanted)).__next__
        no_product = (None, None)
        for row, customer_id in zip(rows, customer_ids, strict=True):
            order_db = next_id()
            customer_db = u(customer_id)
            lines = row[P_LINES]
            line_ids = [next_id() for _ in lines]
            totals = [ln[L_QUANTITY] * ln[L_UNIT_PRICE] - ln[L_DISCOUNT] for ln in lines]
            total = row[P_TOTAL]
            if total is None:
                total = sum(totals) - row[P_DISCOUNT] + row[P_SHIPPING] + row[P_TAX]
            refunds = row[P_REFUNDS]
            refunded = min(sum(f[R_AMOUNT] for f in refunds), total) if refunds else 0
            status = str(row[P_STATUS])
            if refunded and status != OrderStatus.cancelled:
                status = "refunded" if refunded >= total else "partially_refunded"
            refunded_qty = [0] * len(lines)
            for refund in refunds:
                for index, qty in refund[R_LINES]:
                    refunded_qty[index] += qty
            contact = row[P_CONTACT]
            location = row[P_LOCATION]
            currency = row[P_CURRENCY]
            channel = row[P_CHANNEL]
            subtotal = row[P_SUBTOTAL]
            order_rows.append(
                (
                    order_db, self.source, row[P_EXTERNAL_ID], row[P_NUMBER], channel,
                    u(locations.get(location)) if location else None, customer_db, status,
                    currency, subtotal if subtotal is not None else sum(totals),
                    row[P_DISCOUNT], row[P_SHIPPING], row[P_TAX], total, refunded,
                    contact[C_EMAIL], contact[C_PHONE], contact[C_NAME], row[P_SHIPPING_ADDRESS],
                    j(row[P_COUPONS]), t(row[P_PLACED_AT]), t(row[P_PAID_AT]),
                    t(row[P_FULFILLED_AT]), t(row[P_DELIVERED_AT]), t(row[P_PROMISED_AT]),
                    t(row[P_CANCELLED_AT]), now_db, j(row[P_ATTRIBUTES]),
                )
            )  # fmt: skip
            for no, line in enumerate(lines):
                sku = line[L_SKU]
                product_id, category = products.get(sku, no_product) if sku else no_product
                line_rows.append(
                    (
                        line_ids[no], order_db, no + 1, u(product_id), sku, line[L_NAME],
                        line[L_CATEGORY] or category, line[L_QUANTITY], line[L_UNIT_PRICE],
                        line[L_DISCOUNT], totals[no], refunded_qty[no],
                    )
                )  # fmt: skip
            events.append(
                (
                    next_id(), placed_topic, order_db,
                    _placed_json(order_db, customer_id, channel, currency, total, row[P_PLACED_AT], self.imported),
                    now_db,
                )
            )  # fmt: skip
            left = total
            for refund in refunds:
                amount = min(refund[R_AMOUNT], left)
                if amount <= 0:
                    continue
                left -= amount
                refund_id = next_id()
                refund_rows.append(
                    (
                        refund_id, order_db, refund[R_EXTERNAL_ID], amount, currency,
                        refund[R_REASON], t(refund[R_REFUNDED_AT]), now_db,
                    )
                )  # fmt: skip
                payload_lines = []
                for index, qty in refund[R_LINES]:
                    line_amount = prorate(totals[index], qty, lines[index][L_QUANTITY])
                    refund_line_rows.append(
                        (next_id(), refund_id, line_ids[index], qty, line_amount)
                    )
                    payload_lines.append(
                        {"order_line_id": uuid.UUID(hex=line_ids[index]), "sku": lines[index][L_SKU],
                         "quantity": qty, "amount": line_amount}
                    )  # fmt: skip
                events.append(
                    (
                        next_id(), orders.ORDER_REFUNDED, order_db,
                        j({"order_id": uuid.UUID(hex=order_db), "refund_id": uuid.UUID(hex=refund_id),
                           "customer_id": customer_id, "amount": amount, "currency": currency,
                           "full": left == 0, "lines": payload_lines, "imported": self.imported}),
                        now_db,
                    )
                )  # fmt: skip
            self.stats.lines += len(lines)
        bulk.insert(_ORDERS, ORDER_COLUMNS, order_rows)
        bulk.insert(_LINES, LINE_COLUMNS, line_rows)
        bulk.insert(_REFUNDS, REFUND_COLUMNS, refund_rows)
        bulk.insert(_REFUND_LINES, REFUND_LINE_COLUMNS, refund_line_rows)
        bulk.insert(_EVENTS, EVENT_COLUMNS, events)
        self.stats.orders_created += len(order_rows)
        self.stats.refunds += len(refund_rows)
