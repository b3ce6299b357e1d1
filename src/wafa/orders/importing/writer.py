"""The bulk writer: normalised orders into the database, thousands at a time.

``OrderWriter.write_prepared(batch)`` stores a batch of ``prepare.Prepared`` orders
inside the caller's transaction, with ids made up front, ``executemany`` on SQLite and
``COPY`` on PostgreSQL, so a batch costs a handful of statements whatever its size:

1. the orders already stored under ``(source, external_id)`` are looked up in one
   query. An order stored before this run is *present*: it is not written again, but
   what a later export says about it is applied (``_update_present``): refunds that
   are not recorded yet become Refund records (``order.refunded``), and an order the
   export shows cancelled is cancelled once through ``orders.service.update_order_status``
   (``order.cancelled``). An export that shows less refunded than is recorded is a
   problem of that row (``problems``), never silently ignored. That is what makes a
   re-import of the same file change nothing and a later export add only what is new;
2. the customers behind the new orders are matched or created in one call to
   ``customers.service.resolve_contacts`` (the matching engine), which also records
   consent and emits ``customer.created`` (an opt-in repeated on a person's later
   orders of the run is passed on once);
3. products are found or created by sku through ``orders.service.ensure_products``
   and cached for the following batches;
4. orders, lines, refunds and their outbox events (``order.placed`` with
   ``imported=True``, ``order.refunded``) are inserted.

The importer and the demo store both use it (``write(records)`` prepares
``OrderRecord`` objects first). It never commits.

About 830 lines, in one module on purpose: the writer's statements share its caches of
customers, products and keys within one transaction, and split apart they would need
them passed in.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import sqltypes

from wafa.core.db import UtcDateTime, rowcount
from wafa.core.errors import Conflict
from wafa.core.ids import new_id
from wafa.core.money import minor_digits
from wafa.core.outbox import OutboxEvent
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.orders import service as orders
from wafa.orders.events import OrderPlaced, OrderRefunded
from wafa.orders.importing.errors import RowError
from wafa.orders.importing.prepare import (
    C_EMAIL_OPT,
    C_SMS_OPT,
    CANCELLED_AT,
    CONSENT_KEY,
    CONTACT,
    CURRENCY,
    FINGERPRINT,
    KEY,
    LINE,
    LINE_HEAD,
    LINE_TAIL,
    LINES,
    LOCATION,
    ORDER,
    ORDER_HEAD,
    ORDER_TAIL,
    PLACED,
    R_AMOUNT,
    R_EXTERNAL_ID,
    R_LINES,
    R_REASON,
    R_REFUNDED_AT,
    REFUNDED,
    REFUNDS,
    SHOP_REF,
    STATUS,
    TOTAL,
    Dialect,
    InstantText,
    Prepared,
    Preparer,
    copy_field,
    dumps,
    stored_instant,
    unpack_contact,
)
from wafa.orders.importing.records import OrderRecord
from wafa.orders.models import Location, Order, OrderLine, OrderStatus, Refund, RefundLine
from wafa.orders.schemas import OrderStatusUpdate

_ORDERS = cast(Table, Order.__table__)
_LINES = cast(Table, OrderLine.__table__)
_REFUNDS = cast(Table, Refund.__table__)
_REFUND_LINES = cast(Table, RefundLine.__table__)
_EVENTS = cast(Table, OutboxEvent.__table__)
ORDER_COLUMNS = ORDER_HEAD + ORDER_TAIL
LINE_COLUMNS = LINE_HEAD + LINE_TAIL
REFUND_COLUMNS = (
    "id", "order_id", "external_id", "amount", "currency", "reason", "refunded_at", "created_at",
)  # fmt: skip
REFUND_LINE_COLUMNS = ("id", "refund_id", "order_line_id", "quantity", "amount")
EVENT_COLUMNS = ("id", "topic", "subject_id", "payload", "occurred_at")


class OrderChangedDuringImport(Conflict):
    code = "order-changed-during-import"


@dataclass
class WriteStats:
    """What a run of the writer did."""

    orders_created: int = 0
    orders_present: int = 0
    orders_updated: int = 0
    orders_cancelled: int = 0
    lines: int = 0
    refunds: int = 0
    customers_created: int = 0
    guests: int = 0
    matched: set[uuid.UUID] = field(default_factory=set)

    @property
    def customers_matched(self) -> int:
        """Distinct customers that existed before this run and received orders."""
        return len(self.matched)


class _IdBlock:
    """UUIDv7 ids in bulk: one clock read and one ``urandom`` call per block.

    Same layout as ``core.ids.new_id`` (48-bit milliseconds, version 7, a 12-bit
    counter, the variant, 62 random bits) and strictly increasing, as 32 hex digits
    (how SQLite stores UUIDs; PostgreSQL reads them too); made with NumPy, a small
    fraction of a microsecond per id.
    """

    def __init__(self) -> None:
        self._next = 0  # milliseconds << 12 | counter, of the next id

    def take(self, count: int) -> list[str]:
        """``count`` new ids."""
        if count <= 0:
            return []
        start = max((time.time_ns() // 1_000_000) << 12, self._next)
        self._next = start + count
        seq = np.arange(start, start + count, dtype=np.uint64)
        words = np.empty((count, 2), dtype=">u8")
        words[:, 0] = ((seq >> np.uint64(12)) << np.uint64(16)) | np.uint64(0x7000)
        words[:, 0] |= seq & np.uint64(0xFFF)
        noise = np.frombuffer(os.urandom(8 * count), dtype=np.uint64)
        words[:, 1] = (noise & np.uint64((1 << 62) - 1)) | np.uint64(1 << 63)
        text = words.tobytes().hex()
        return [text[i : i + 32] for i in range(0, 32 * count, 32)]


def _dashed(hex_id: str) -> str:
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"


class BulkInserter:
    """Executemany (SQLite) or ``COPY`` (PostgreSQL) on the session's own connection.

    Rows are tuples of values already in the database's form (``prepare``): UUIDs as
    32 hex digits, instants as text, JSON as text, which is several times cheaper than
    SQLAlchemy's per-row bind processing. The statements run inside the session's
    transaction.
    """

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self.dialect: Dialect = (
            "postgresql" if connection.dialect.name == "postgresql" else "sqlite"
        )
        self.postgres = self.dialect == "postgresql"
        raw: Any = connection.connection.dbapi_connection
        self.raw = raw
        if not self.postgres:
            # A bigger page cache (64 MiB, fixed) keeps the growing indexes in memory
            # while a big import inserts into them (the default is 2 MiB), and sorts
            # and temporary indexes stay in memory.
            raw.execute("PRAGMA cache_size = -65536")
            raw.execute("PRAGMA temp_store = MEMORY")

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

    def copy_text(self, table: Table, columns: Sequence[str], rows: list[str]) -> None:
        """``COPY`` rows already in its text format (PostgreSQL), each ending in a newline."""
        if not rows:
            return
        with (
            self.raw.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for start in range(0, len(rows), 2000):
                copy.write("".join(rows[start : start + 2000]))

    def insert_dicts(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows given as ``{column: Python value}`` (``customers.resolve_contacts``).

        Values are converted by column type as SQLAlchemy would bind them (UUIDs, aware
        instants, JSON, booleans); a column missing from the rows gets its Python-side
        default, as ``session.execute(insert(...), rows)`` gives it.
        """
        if not rows:
            return
        names = list(rows[0])
        # Column by column: one list comprehension per column is several times cheaper
        # than converting row by row.
        columns: list[list[Any]] = []
        for name in names:
            convert = self._converter(table.columns[name])
            values = [row[name] for row in rows]
            columns.append(values if convert is None else [convert(v) for v in values])
        for column in table.columns:
            if column.key not in rows[0] and column.default is not None:
                convert = self._converter(column)
                names.append(column.key)
                values = [_default(column) for _ in rows]
                columns.append(values if convert is None else [convert(v) for v in values])
        self.insert(table, names, list(zip(*columns, strict=True)))

    def _converter(self, column: Any) -> Callable[[Any], Any] | None:
        """How a column's Python values become the database's form (``None``: as they are)."""
        kind = column.type
        if isinstance(kind, UtcDateTime):
            text = InstantText(self.dialect)
            return lambda v: None if v is None else text(v)
        if isinstance(kind, sqltypes.JSON):
            return lambda v: None if v is None else dumps(v)
        if isinstance(kind, sqltypes.Uuid):
            return lambda v: v.hex if isinstance(v, uuid.UUID) else v
        if isinstance(kind, sqltypes.Boolean) and not self.postgres:
            return lambda v: None if v is None else int(v)
        return None

    def stored_orders(self, source: str, keys: list[str]) -> list[tuple[Any, ...]]:
        """``(external_id, id hex, status, total, refunded, customer_id, currency)`` of the
        orders of ``source`` among ``keys``.

        One statement for the whole batch. On PostgreSQL each key is looked up through
        the ``(source, external_id)`` unique index by a lateral subquery; a plain
        ``IN``/``ANY`` list lets the planner, which has no statistics for rows this
        transaction inserted, switch to a sequential scan of the growing table midway
        through a big import (seconds per batch).
        """
        if not keys:
            return []
        cursor = self.raw.cursor()
        try:
            if self.postgres:
                cursor.execute(
                    "SELECT o.external_id, o.id, o.status, o.total_amount, o.refunded_amount, "
                    "o.customer_id, o.currency FROM unnest(%s::text[]) AS k(external_id) "
                    "CROSS JOIN LATERAL (SELECT * FROM orders WHERE orders.source = %s "
                    "AND orders.external_id = k.external_id LIMIT 1) AS o",
                    (keys, source),
                )
                return [
                    (r[0], r[1].hex, r[2], r[3], r[4], r[5].hex if r[5] else None, r[6])
                    for r in cursor.fetchall()
                ]
            cursor.execute(
                "SELECT external_id, id, status, total_amount, refunded_amount, customer_id, "
                "currency FROM orders WHERE source = ? "
                "AND external_id IN (SELECT value FROM json_each(?))",
                (source, dumps(keys)),
            )
            return [tuple(r) for r in cursor.fetchall()]
        finally:
            cursor.close()

    def stored_by_ref(self, refs: list[str]) -> list[tuple[Any, ...]]:
        """``(shop_ref, id hex, status, total, refunded, customer_id, currency)`` of the
        orders stored under one of the shop references ``refs``, whatever their source (a
        webhook's order is the import's order: ``Order.shop_ref``)."""
        if not refs:
            return []
        cursor = self.raw.cursor()
        try:
            if self.postgres:
                cursor.execute(
                    "SELECT o.shop_ref, o.id, o.status, o.total_amount, o.refunded_amount, "
                    "o.customer_id, o.currency FROM unnest(%s::text[]) AS k(shop_ref) "
                    "CROSS JOIN LATERAL (SELECT * FROM orders WHERE orders.shop_ref = k.shop_ref "
                    "LIMIT 1) AS o",
                    (refs,),
                )
                return [
                    (r[0], r[1].hex, r[2], r[3], r[4], r[5].hex if r[5] else None, r[6])
                    for r in cursor.fetchall()
                ]
            cursor.execute(
                "SELECT shop_ref, id, status, total_amount, refunded_amount, customer_id, "
                "currency FROM orders WHERE shop_ref IN (SELECT value FROM json_each(?))",
                (dumps(refs),),
            )
            return [tuple(r) for r in cursor.fetchall()]
        finally:
            cursor.close()


def _default(column: Any) -> Any:
    """A column's Python-side default value, as SQLAlchemy computes it for an insert."""
    default = column.default
    if default.is_callable:
        return default.arg(None)
    return default.arg


# How many people the writer remembers (resolved customers, consent passed on): about
# 150 bytes each, so memory stays under ~40 MB whatever the file's size; past it the
# memory starts again and the next orders of those people ask the database again.
_MEMORY = 250_000


_PLACED_SHAPE = ("order_id", "customer_id", "channel", "currency", "total", "placed_at", "imported")
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# ``prepare`` lays out ``order.placed`` as JSON directly; this checks at import time that
# the event still has the shape it knows (a test compares the two encodings too).
if tuple(OrderPlaced.model_fields) != _PLACED_SHAPE:  # pragma: no cover - a guard
    raise RuntimeError("orders.events.OrderPlaced changed: update prepare.Preparer")

_NUMBERED = re.compile(r"-\d+$")


@dataclass(slots=True)
class _Stored:
    """An order as stored, for comparing a later export with it."""

    id: str
    status: str
    total: int
    refunded: int
    customer_id: str | None
    currency: str


class OrderWriter:
    """Writes batches of orders for one source inside one transaction.

    ``refund_column`` names the file's column that holds refunds, for the problems a
    later export can raise (``problems``). With ``check_only`` the writer writes
    nothing and only looks for those problems (an import that is going to be rejected
    still reports every bad row).
    """

    def __init__(
        self,
        session: Session,
        *,
        source: str,
        imported: bool = True,
        refund_column: str | None = None,
    ) -> None:
        self.session = session
        self.source = source
        self.imported = imported
        self.refund_column = refund_column
        self.stats = WriteStats()
        self.problems: list[RowError] = []
        self.check_only = False
        # Orders and customers with an id below this existed before the run (ids are
        # time-ordered); an order at or above it was written by this run.
        watermark = new_id()
        self._watermark = watermark
        self._watermark_hex = watermark.hex
        self._products: dict[str, tuple[str, str | None]] = {}
        # The same as COPY text (PostgreSQL).
        self._products_db: dict[str, tuple[str, str]] = {}
        self._locations: dict[str, str | None] = {}
        self._bulk = BulkInserter(session)
        self.dialect: Dialect = self._bulk.dialect
        self._ids = _IdBlock()
        self._consents: dict[int, tuple[bool | None, bool | None]] = {}
        # Contacts already resolved in this run: hash of the contact -> (checksum, customer).
        self._resolved: dict[int, tuple[int, uuid.UUID, str]] = {}
        self._preparer: Preparer | None = None
        # Keys of this batch found stored by this run (repeated in the file, or stored
        # meanwhile by a concurrent import): the pipeline decides which they are.
        self.repeated: list[str] = []

    # ------------------------------------------------------------------ lookups

    def _consent_once(self, contact: tuple[Any, ...], key: int) -> tuple[Any, ...]:
        """Drop an opt-in this run already passed on for the same person and value.

        Exports repeat the customer's marketing choice on every order; recording it at
        their first order of the run is the decision, the repeats add only noise. The
        memory of what was passed on is capped (``_MEMORY`` people), so at worst a
        decision is recorded twice. ``key`` is the contact's ``prepare.consent_key``.
        """
        decision = (contact[C_EMAIL_OPT], contact[C_SMS_OPT])
        if decision == (None, None):
            return contact
        if self._consents.get(key) == decision:
            return (*contact[:C_EMAIL_OPT], None, None, *contact[C_SMS_OPT + 1 :])
        if len(self._consents) >= _MEMORY:
            self._consents.clear()
        self._consents[key] = decision
        return contact

    def _ensure_products(self, batch: Sequence[Prepared]) -> None:
        known = self._products
        wanted: dict[str, list[tuple[str, str, str | None, int]]] = {}
        for order in batch:
            for sku, category, name, price, _ in order[LINES]:
                if sku and sku not in known:
                    wanted.setdefault(order[CURRENCY], []).append((sku, name, category, price))
        for currency, items in wanted.items():
            items = [i for i in items if i[0] not in known]
            if items:
                found = orders.ensure_products(self.session, items, currency=currency)
                known.update({sku: (pid.hex, cat) for sku, (pid, cat) in found.items()})
                self._products_db.update(
                    {sku: (pid.hex, copy_field(cat)) for sku, (pid, cat) in found.items()}
                )

    def _location_ids(self, batch: Sequence[Prepared]) -> None:
        wanted = {o[LOCATION] for o in batch if o[LOCATION] and o[LOCATION] not in self._locations}
        if not wanted:
            return
        rows = self.session.execute(
            select(Location.id, Location.code, Location.name).where(
                or_(Location.code.in_(wanted), Location.name.in_(wanted))
            )
        ).all()
        for name in wanted:
            found = next(
                (r[0] for r in rows if r[1] == name),
                next((r[0] for r in rows if r[2] == name), None),
            )
            self._locations[name] = found.hex if found is not None else None

    # ------------------------------------------------------------------ writing

    def write(self, records: Sequence[OrderRecord]) -> None:
        """Store the records that are not stored yet (see ``write_prepared``)."""
        if self._preparer is None:
            self._preparer = Preparer(
                source=self.source, dialect=self.dialect, imported=self.imported
            )
        self.write_prepared([self._preparer(record) for record in records])

    def write_prepared(self, batch: Sequence[Prepared]) -> None:
        """Store the new orders of ``batch``; apply what it says about stored ones."""
        if not batch:
            return
        stored = {
            row[0]: _Stored(*row[1:])
            for row in self._bulk.stored_orders(self.source, [o[KEY] for o in batch])
        }
        refs = [o[SHOP_REF] for o in batch if o[SHOP_REF] and o[KEY] not in stored]
        by_ref = {row[0]: _Stored(*row[1:]) for row in self._bulk.stored_by_ref(refs)}
        fresh: list[Prepared] = []
        present: list[tuple[Prepared, _Stored]] = []
        seen: set[str] = set()
        for order in batch:
            key = order[KEY]
            known = stored.get(key)
            if known is None and by_ref:
                # Stored under another key by another route (a webhook): the same order.
                known = by_ref.get(order[SHOP_REF])
            if known is None and key not in seen:
                seen.add(key)
                fresh.append(order)
            elif known is not None and known.id < self._watermark_hex:
                present.append((order, known))
            else:
                self.repeated.append(key)
        self.stats.orders_present += len(present)
        if present:
            self._update_present(present)
        if not fresh or self.check_only:
            return
        customer_ids = self._resolve(fresh)
        self._ensure_products(fresh)
        self._location_ids(fresh)
        self._insert(fresh, customer_ids)

    def _resolve(self, batch: Sequence[Prepared]) -> list[tuple[uuid.UUID, str] | None]:
        """The customer of each order, through ``resolve_contacts`` (the matching engine).

        A contact identical in every detail to one already resolved in this run, with no
        consent to record, has the same answer and nothing new to add, so it is answered
        from memory (``_MEMORY`` people at most, known by two fingerprints) instead of
        asking again.
        """
        ids: list[tuple[uuid.UUID, str] | None] = [None] * len(batch)
        ask: list[customers.Contact] = []
        asked: list[tuple[int, tuple[int, int]]] = []
        resolved = self._resolved
        consent_once = self._consent_once
        watermark = self._watermark
        matched = self.stats.matched
        for index, order in enumerate(batch):
            contact = order[CONTACT]
            if contact is None:
                self.stats.guests += 1
                continue
            if contact[C_EMAIL_OPT] is not None or contact[C_SMS_OPT] is not None:
                contact = consent_once(contact, order[CONSENT_KEY])
            fingerprint = order[FINGERPRINT]
            if contact[C_EMAIL_OPT] is None and contact[C_SMS_OPT] is None:
                known = resolved.get(fingerprint[0])
                if known is not None and known[0] == fingerprint[1]:
                    ids[index] = known[1], known[2]
                    if known[1] < watermark:
                        matched.add(known[1])
                    continue
            ask.append(unpack_contact(contact))
            asked.append((index, fingerprint))
        if not ask:
            return ids
        resolution = customers.resolve_contacts(
            self.session, ask, source=self.source, bulk_insert=self._bulk.insert_dicts
        )
        self.stats.customers_created += len(resolution.created)
        if len(resolved) >= _MEMORY:
            resolved.clear()
        for (index, fingerprint), cid in zip(asked, resolution.customer_ids, strict=True):
            if cid is not None:
                answer = (cid, f'"{cid}"')
                ids[index] = answer
                resolved[fingerprint[0]] = (fingerprint[1], *answer)
                if cid < watermark:
                    matched.add(cid)
        return ids

    def _insert(
        self, batch: Sequence[Prepared], customer_ids: Sequence[tuple[uuid.UUID, str] | None]
    ) -> None:
        bulk = self._bulk
        postgres = bulk.postgres
        now_db = InstantText(self.dialect)(utcnow())
        # Rows: tuples for SQLite's executemany; COPY text lines for PostgreSQL, where the
        # prepared part is already text and the writer's ids need no escaping.
        order_rows: list[Any] = []
        line_rows: list[Any] = []
        events: list[Any] = []
        refund_rows: list[tuple[Any, ...]] = []
        refund_line_rows: list[tuple[Any, ...]] = []
        refund_events: list[tuple[Any, ...]] = []
        products = self._products_db if postgres else self._products
        locations = self._locations
        placed_topic = OrderPlaced.topic
        null: Any = "\\N" if postgres else None
        no_product = (null, null)
        wanted = sum(
            2 + len(o[LINES]) + sum(2 + len(f[R_LINES]) for f in o[REFUNDS]) for o in batch
        )
        next_id = iter(self._ids.take(wanted)).__next__
        line_count = 0
        for order, customer in zip(batch, customer_ids, strict=True):
            order_id = next_id()
            if customer is None:
                customer_db, customer_json = null, "null"
            else:
                customer_db, customer_json = customer[0].hex, customer[1]
            location = order[LOCATION]
            location_db = (locations.get(location) if location else None) or null
            lines = order[LINES]
            line_ids = [next_id() for _ in lines]
            payload = f'{{"order_id": "{_dashed(order_id)}", "customer_id": {customer_json}, '
            if postgres:
                order_rows.append(
                    f"{order_id}\t{location_db}\t{customer_db}\t{now_db}\t{order[ORDER]}\n"
                )
                for line_id, (sku, category, _, _, tail) in zip(line_ids, lines, strict=True):
                    product_id, product_category = (
                        products.get(sku, no_product) if sku else no_product
                    )
                    category_db = copy_field(category) if category else product_category
                    line_rows.append(
                        f"{line_id}\t{order_id}\t{product_id}\t{category_db}\t{tail}\n"
                    )
                events.append(
                    f"{next_id()}\t{placed_topic}\t{order_id}\t{payload}{order[PLACED]}\t{now_db}\n"
                )
            else:
                order_rows.append((order_id, location_db, customer_db, now_db, *order[ORDER]))
                for line_id, (sku, category, _, _, tail) in zip(line_ids, lines, strict=True):
                    product_id, product_category = (
                        products.get(sku, no_product) if sku else no_product
                    )
                    line_rows.append(
                        (line_id, order_id, product_id, category or product_category, *tail)
                    )
                events.append((next_id(), placed_topic, order_id, payload + order[PLACED], now_db))
            line_count += len(lines)
            if order[REFUNDS]:
                self._refund_rows(
                    order, order_id, line_ids, customer, now_db, next_id,
                    refund_rows, refund_line_rows, refund_events,
                )  # fmt: skip
        store = bulk.copy_text if postgres else bulk.insert
        store(_ORDERS, ORDER_COLUMNS, order_rows)
        store(_LINES, LINE_COLUMNS, line_rows)
        bulk.insert(_REFUNDS, REFUND_COLUMNS, refund_rows)
        bulk.insert(_REFUND_LINES, REFUND_LINE_COLUMNS, refund_line_rows)
        store(_EVENTS, EVENT_COLUMNS, events)
        bulk.insert(_EVENTS, EVENT_COLUMNS, refund_events)
        self.stats.lines += line_count
        self.stats.orders_created += len(order_rows)
        self.stats.refunds += len(refund_rows)

    def _refund_rows(
        self,
        order: Prepared,
        order_id: str,
        line_ids: list[str],
        customer: tuple[uuid.UUID, str] | None,
        now_db: str | None,
        next_id: Callable[[], str],
        refund_rows: list[tuple[Any, ...]],
        refund_line_rows: list[tuple[Any, ...]],
        events: list[tuple[Any, ...]],
    ) -> None:
        """The refunds of a new order, their lines and their ``order.refunded`` events."""
        left = order[TOTAL]
        currency = order[CURRENCY]
        lines = order[LINES]
        for refund in order[REFUNDS]:
            refund_id = next_id()
            amount = refund[R_AMOUNT]
            left -= amount
            refund_rows.append(
                (refund_id, order_id, refund[R_EXTERNAL_ID], amount, currency,
                 refund[R_REASON], refund[R_REFUNDED_AT], now_db)
            )  # fmt: skip
            payload_lines = []
            for index, qty, line_amount in refund[R_LINES]:
                refund_line_rows.append((next_id(), refund_id, line_ids[index], qty, line_amount))
                payload_lines.append(
                    {"order_line_id": _dashed(line_ids[index]), "sku": lines[index][0],
                     "quantity": qty, "amount": line_amount}
                )  # fmt: skip
            events.append(
                (
                    next_id(), OrderRefunded.topic, order_id,
                    dumps({"order_id": _dashed(order_id), "refund_id": _dashed(refund_id),
                           "customer_id": str(customer[0]) if customer else None,
                           "amount": amount, "currency": currency, "full": left <= 0,
                           "lines": payload_lines, "imported": self.imported}),
                    now_db,
                )
            )  # fmt: skip

    # ------------------------------------------------------------------ a later export

    def _problem(self, order: Prepared, reason: str) -> None:
        self.problems.append(RowError(order[LINE], self.refund_column, reason))

    def _update_present(self, present: Sequence[tuple[Prepared, _Stored]]) -> None:
        """Apply a later export to orders stored before: new refunds, a cancellation.

        * The export's refunded amount is compared with what is recorded. More: the
          difference is recorded as new refunds (see ``_new_refunds``). Less: a problem
          of the order's first row (a refund cannot be taken back by an import). The
          same: nothing.
        * An order the export shows cancelled, stored as not cancelled, is cancelled
          once with ``orders.service.update_order_status`` (``order.cancelled``), before
          its refunds, so that it stays cancelled as on a first import. An order stored
          as fully refunded is closed: a later cancellation leaves it as it is.
        * Other status changes (paid, fulfilled) are not applied: the order keeps what
          its first import recorded.
        """
        refunding: list[tuple[Prepared, _Stored]] = []
        cancelling: list[tuple[Prepared, _Stored]] = []
        for order, known in present:
            export = order[REFUNDED]
            if export < known.refunded:
                self._problem(
                    order,
                    f"{_major(export, known.currency)} refunded in the file is less than the "
                    f"{_major(known.refunded, known.currency)} already recorded for order "
                    f"{order[KEY]}; an import cannot take a refund back",
                )
                continue
            if export > known.total:
                self._problem(
                    order,
                    f"{_major(export, known.currency)} refunded in the file is more than the "
                    f"{_major(known.total, known.currency)} total recorded for order {order[KEY]}",
                )
                continue
            if order[STATUS] == OrderStatus.cancelled and known.status not in (
                OrderStatus.cancelled,
                OrderStatus.refunded,
            ):
                cancelling.append((order, known))
            if export > known.refunded:
                refunding.append((order, known))
        if self.check_only or not (refunding or cancelling):
            return
        touched = {known.id for _, known in refunding} | {known.id for _, known in cancelling}
        self.stats.orders_updated += len(touched)
        loaded: list[Order] = []
        for order, known in cancelling:
            at = order[CANCELLED_AT]
            loaded.append(
                orders.update_order_status(
                    self.session,
                    order_id=uuid.UUID(hex=known.id),
                    data=OrderStatusUpdate(
                        status=OrderStatus.cancelled,
                        at=stored_instant(at) if at is not None else None,
                    ),
                )
            )
            known.status = OrderStatus.cancelled
            self.stats.orders_cancelled += 1
        if refunding:
            self._new_refunds(refunding)
        for loaded_order in loaded:
            # The refunds were recorded with a Core UPDATE; the session must not keep
            # serving the amounts it loaded before it.
            self.session.expire(loaded_order)

    def _new_refunds(self, refunding: Sequence[tuple[Prepared, _Stored]]) -> None:
        """Record what a later export refunds beyond what is recorded.

        The export's refunds are first matched with the recorded ones by amount and
        time (a refund recorded by an earlier import of the same refund matches
        itself). When the unmatched ones add up to the difference they are recorded
        as they are (WooCommerce lists each refund; a Shopify order refunded for the
        first time); otherwise one refund of the difference is recorded (Shopify's
        export carries only the running total), dated when the export cancelled the
        order, else now. External ids stay stable: the export's own id when it is free
        on the order, else ``<id>-N`` with N the refund's number on the order, so a
        second import of the same file finds nothing more to add.
        """
        by_order: dict[str, list[tuple[str, int, datetime]]] = {}
        order_ids = [uuid.UUID(hex=known.id) for _, known in refunding]
        for start in range(0, len(order_ids), 1000):
            for order_id, external_id, amount, at in self.session.execute(
                select(Refund.order_id, Refund.external_id, Refund.amount, Refund.refunded_at)
                .where(Refund.order_id.in_(order_ids[start : start + 1000]))
            ):  # fmt: skip
                by_order.setdefault(order_id.hex, []).append((external_id, amount, at))
        now = utcnow()
        now_db = InstantText(self.dialect)(now)
        refund_rows: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        moves: list[dict[str, Any]] = []
        ids = iter(self._ids.take(4 * sum(1 + len(o[REFUNDS]) for o, _ in refunding))).__next__
        for order, known in refunding:
            recorded = by_order.get(known.id, [])
            difference = order[REFUNDED] - known.refunded
            unmatched = _unmatched(order[REFUNDS], recorded)
            taken = {external_id for external_id, _, _ in recorded}
            if sum(r[R_AMOUNT] for r in unmatched) == difference:
                new = [
                    (r[R_EXTERNAL_ID], r[R_AMOUNT], r[R_REFUNDED_AT], r[R_REASON])
                    for r in unmatched
                ]
            else:
                last = order[REFUNDS][-1]
                cancelled_at = order[CANCELLED_AT]
                new = [(last[R_EXTERNAL_ID], difference, cancelled_at or now_db, last[R_REASON])]
            running = known.refunded
            for external_id, amount, refunded_at, reason in new:
                refund_id = ids()
                external_id = _free_id(external_id, taken, len(recorded) + 1)
                taken.add(external_id)
                running += amount
                refund_rows.append(
                    (refund_id, known.id, external_id, amount, known.currency, reason,
                     refunded_at, now_db)
                )  # fmt: skip
                events.append(
                    (
                        ids(), OrderRefunded.topic, known.id,
                        dumps({"order_id": _dashed(known.id), "refund_id": _dashed(refund_id),
                               "customer_id": _dashed(known.customer_id) if known.customer_id else None,
                               "amount": amount, "currency": known.currency,
                               "full": running >= known.total, "lines": [], "imported": self.imported}),
                        now_db,
                    )
                )  # fmt: skip
            status = known.status
            if status != OrderStatus.cancelled:
                status = (
                    OrderStatus.refunded
                    if running >= known.total
                    else OrderStatus.partially_refunded
                )
            moves.append(
                {"b_id": uuid.UUID(hex=known.id), "b_old": known.refunded, "b_new": running,
                 "b_status": str(status)}
            )  # fmt: skip
        # Guarded: an order whose refunds changed since it was read is not overwritten.
        moved = 0
        statement = (
            update(_ORDERS)
            .where(_ORDERS.c.id == bindparam("b_id"), _ORDERS.c.refunded_amount == bindparam("b_old"))
            .values(refunded_amount=bindparam("b_new"), status=bindparam("b_status"))
        )  # fmt: skip
        for move in moves:
            moved += rowcount(self.session.execute(statement, move))
        if moved != len(moves):
            raise OrderChangedDuringImport(
                "an order's refunds changed while the import ran; run the import again"
            )
        self._bulk.insert(_REFUNDS, REFUND_COLUMNS, refund_rows)
        self._bulk.insert(_EVENTS, EVENT_COLUMNS, events)
        self.stats.refunds += len(refund_rows)


def _unmatched(
    exported: Sequence[tuple[Any, ...]], recorded: Sequence[tuple[str, int, datetime]]
) -> list[tuple[Any, ...]]:
    """The export's refunds that no recorded refund has the same amount and time as."""
    left = Counter((amount, at) for _, amount, at in recorded)
    unmatched = []
    for refund in exported:
        key = (refund[R_AMOUNT], stored_instant(refund[R_REFUNDED_AT]))
        if left[key] > 0:
            left[key] -= 1
        else:
            unmatched.append(refund)
    return unmatched


def _free_id(wanted: str, taken: set[str], number: int) -> str:
    """``wanted`` if the order has no refund with it, else ``<base>-N`` from ``number`` on."""
    if wanted not in taken:
        return wanted
    base = _NUMBERED.sub("", wanted)
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _major(amount: int, currency: str) -> str:
    digits = minor_digits(currency)
    if not digits:
        return f"{amount} {currency}"
    return f"{amount // 10**digits}.{amount % 10**digits:0{digits}d} {currency}"
