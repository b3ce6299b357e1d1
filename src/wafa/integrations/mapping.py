"""A shop's order, refund and customer JSON, applied through the order and customer services.

The order JSON is read by the CSV importer's parser (``ingest.shopjson`` lays it out as
the export's rows), so every shop field means what it means in an import; the order is
then stored by ``orders.service`` as an API order is: once per ``(source, external_id)``
(the source is the connection's name, the external id the shop's order id), with the
same events. What a webhook adds:

* **Newer wins.** Each shop order keeps the ``updated_at`` Wafa last applied
  (``ShopOrder``); a payload that is not newer is stale and changes nothing, so a late
  update never rolls an order back. An update for an order not seen yet creates it.
* **Status moves forward only**: paid, fulfilled, delivered in that order (each stamped
  with the shop's time), or cancelled; a cancelled or refunded order stays so.
* **Refunds** are recorded once per shop refund id (``<shop>-refund-<id>``), with the
  lines they returned; a refund for an order Wafa has not seen waits and is applied when
  the order arrives (``intake``). A refund an imported export counted already (the
  export has a refunded total, no refund ids) is named, not counted again
  (``name_exported_refund``), and an order's refunds are recorded up to the shop's
  refunded total, so a refund an import counted is never counted twice.
* **The shop's total wins.** When the lines, discount, shipping and tax do not add up to
  the shop's total, taxes included in the prices (the difference is exactly the tax) are
  not added again, and otherwise the order's discount is what makes them add up (a line
  discount also counted in the order's discount is counted once).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from wafa.core.db import insert_new, rowcount
from wafa.core.errors import Invalid
from wafa.core.settings import Settings
from wafa.customers import service as customers
from wafa.customers.service import Contact
from wafa.ingest import shopjson
from wafa.ingest.describe import STATUS_RANK, OrderFormat, Role
from wafa.ingest.values import CellProblem, InstantReader, optional_yes_no
from wafa.integrations.models import Connection, ShopOrder
from wafa.orders import service as orders
from wafa.orders.importing.base import Rejected, read_email, read_phone
from wafa.orders.importing.parser import OrderParser
from wafa.orders.importing.readers import Record
from wafa.orders.importing.records import OrderRecord
from wafa.orders.models import Order, OrderStatus
from wafa.orders.schemas import (
    ContactIn,
    LineIn,
    OrderCreate,
    OrderStatusUpdate,
    RefundCreate,
    RefundLineIn,
)

__all__ = [
    "Applied",
    "apply_customer",
    "apply_order",
    "apply_refund",
    "name_exported_refund",
    "read_order",
]

_RANK: dict[str, int] = {status: rank for rank, status in enumerate(STATUS_RANK)}
_STEPS = (
    (OrderStatus.paid, "paid_at"),
    (OrderStatus.fulfilled, "fulfilled_at"),
    (OrderStatus.delivered, "delivered_at"),
)


class Applied:
    """What a delivery did: ``processed``, ``ignored`` or ``waiting``, a note, its subject."""

    def __init__(
        self,
        status: str,
        note: str | None = None,
        subject: str | None = None,
        *,
        created: bool = False,
    ) -> None:
        self.status = status
        self.note = note
        self.subject = subject
        #: An order was created: refunds that waited for it can be applied now.
        self.created = created


def _invalid(problem: CellProblem) -> Invalid:
    where = problem.column or "payload"
    return Invalid(f"{where}: {problem.reason}", [((where,), problem.reason)])


def _external_id(fmt: OrderFormat, payload: Mapping[str, Any]) -> str:
    json = shopjson.shape(fmt)
    found = shopjson.cell(shopjson.dig(payload, json.order_id)).strip()
    if not found:
        raise Invalid.field((json.order_id,), "the order has no id")
    return found[:200]


def read_order(
    fmt: OrderFormat, payload: Mapping[str, Any], *, settings: Settings, source: str
) -> tuple[OrderRecord, shopjson.OrderRows]:
    """The order in ``payload``, read as the importer reads it; ``Invalid`` names the fields."""
    rows = shopjson.order_rows(fmt, payload)
    parser = OrderParser(fmt, settings=settings, source=source)
    parser.bind(Record(1, rows.header, ""))
    records = iter([Record(i + 2, r, "") for i, r in enumerate(rows.rows)])
    found = next(parser.orders(records))
    if isinstance(found, Rejected):
        errors = [
            ((rows.paths.get(e.column or "", e.column or "order"),), e.reason) for e in found.errors
        ]
        raise Invalid("; ".join(f"{loc[0]}: {msg}" for loc, msg in errors), errors)
    found.external_id = _external_id(fmt, payload)
    json = shopjson.shape(fmt)
    customer_id = shopjson.cell(shopjson.dig(payload, json.customer_id)).strip()
    column = fmt.column(Role.customer_id)
    none_words = column.none_words if column is not None else ()
    if customer_id and customer_id not in none_words:
        found.contact = replace(
            found.contact, external_source=source, external_id=customer_id[:200]
        )
    if found.contact.consent_source:
        found.contact = replace(found.contact, consent_source=f"{source} webhook")
    found.shop_ref = fmt.shop_reference(found.external_id)
    return found, rows


def _order_create(record: OrderRecord, source: str) -> OrderCreate:
    """The API's order for ``record``, with the shop's total kept (see the module docstring)."""
    discount, tax = record.discount, record.tax
    lines = record.lines_subtotal()
    if record.total is not None:
        computed = lines - discount + record.shipping + tax
        if computed != record.total:
            if computed - record.total == tax:
                tax = 0
            elif lines + record.shipping + tax - record.total >= 0:
                discount = lines + record.shipping + tax - record.total
    contact = record.contact
    customer = None
    if contact.identifiable or contact.name:
        customer = ContactIn(
            email=contact.email,
            phone=contact.phone,
            name=contact.name,
            external_id=contact.external_id,
            city=contact.city,
            accepts_email_marketing=contact.email_opt_in,
            accepts_sms_marketing=contact.sms_opt_in,
        )
    try:
        return OrderCreate(
            source=source,
            external_id=record.external_id,
            number=record.number,
            channel=record.channel,
            status=OrderStatus(record.status),
            placed_at=record.placed_at,
            paid_at=record.paid_at,
            fulfilled_at=record.fulfilled_at,
            delivered_at=record.delivered_at,
            promised_at=record.promised_at,
            currency=record.currency,
            customer=customer,
            lines=[
                LineIn(
                    sku=ln.sku,
                    name=ln.name,
                    quantity=ln.quantity,
                    unit_price=ln.unit_price,
                    discount=ln.discount,
                    category=ln.category,
                )
                for ln in record.lines
            ],
            discount=discount,
            shipping=record.shipping,
            tax=tax,
            shipping_address=record.shipping_address,
            coupon_codes=record.coupon_codes,
            attributes=record.attributes,
        )
    except ValidationError as exc:
        errors = [
            (tuple(str(p) for p in e["loc"]), str(e["msg"])) for e in exc.errors(include_url=False)
        ]
        raise Invalid("the order does not validate", errors) from None


def _claim_newest(
    session: Session,
    connection: Connection,
    external_id: str,
    updated_at: datetime,
    lines: dict[str, int],
) -> str | None:
    """Record ``updated_at`` as the newest applied state: ``"first"`` (the first state of
    this order), ``"newer"``, or ``None`` when it is not newer.

    A first insert claims the order; a later one moves ``updated_at`` by a guarded
    ``UPDATE`` (on PostgreSQL a concurrent update waits for the row and then sees the
    newer time), so of two racing payloads only the newer one applies.
    """
    if insert_new(
        session,
        ShopOrder,
        index_elements=["connection_id", "external_id"],
        values={
            "connection_id": connection.id,
            "external_id": external_id,
            "updated_at": updated_at,
            "lines": lines,
        },
    ):
        return "first"
    moved = session.execute(
        update(ShopOrder)
        .where(
            ShopOrder.connection_id == connection.id,
            ShopOrder.external_id == external_id,
            ShopOrder.updated_at < updated_at,
        )
        .values(updated_at=updated_at)
        .execution_options(synchronize_session=False)
    )
    return "newer" if rowcount(moved) == 1 else None


def stored_order_id(
    session: Session, connection: Connection, fmt: OrderFormat, external_id: str
) -> uuid.UUID | None:
    """The stored order of the shop's order ``external_id``: the connection's own, or the
    same shop order imported from an export (``OrderFormat.shop_reference``)."""
    found = session.scalar(
        select(Order.id).where(Order.source == connection.name, Order.external_id == external_id)
    )
    ref = fmt.shop_reference(external_id)
    if found is None and ref is not None:
        found = session.scalar(select(Order.id).where(Order.shop_ref == ref))
    return found


def _line_map(session: Session, connection: Connection, external_id: str) -> dict[str, int]:
    found = session.scalar(
        select(ShopOrder.lines).where(
            ShopOrder.connection_id == connection.id, ShopOrder.external_id == external_id
        )
    )
    return dict(found or {})


def _advance(session: Session, order: Order, record: OrderRecord, at: datetime) -> list[str]:
    """Move ``order`` forward to ``record``'s status; never back. Returns the moves made."""
    if order.status in (OrderStatus.cancelled, OrderStatus.refunded):
        return []
    moves: list[str] = []
    if record.status == "cancelled":
        orders.update_order_status(
            session,
            order_id=order.id,
            data=OrderStatusUpdate(status=OrderStatus.cancelled, at=record.cancelled_at or at),
        )
        return ["cancelled"]
    target = _RANK[record.status]
    for status, stamp in _STEPS:
        rank = _RANK[status.value]
        if getattr(order, stamp) is not None or rank > target:
            continue
        when = getattr(record, stamp)
        if when is None and rank != target:
            continue
        orders.update_order_status(
            session, order_id=order.id, data=OrderStatusUpdate(status=status, at=when or at)
        )
        moves.append(status.value)
    return moves


def name_exported_refund(
    session: Session, fmt: OrderFormat, order_id: uuid.UUID, refund: shopjson.JsonRefund
) -> bool:
    """Whether ``refund`` was counted by an imported export, which now knows it by its id
    (``orders.service.identify_refund``): it is then not recorded a second time."""
    if refund.amount is None or refund.refunded_at is None:
        return False
    return orders.identify_refund(
        session,
        order_id=order_id,
        unnamed=fmt.refunds.external_id,
        external_id=refund.external_id,
        amount=refund.amount,
        refunded_at=refund.refunded_at,
        reason=refund.reason,
    )


def apply_refund(
    session: Session,
    connection: Connection,
    order: Order,
    refund: shopjson.JsonRefund,
    subject: str,
) -> bool:
    """Record ``refund`` on ``order`` (the shop's order ``subject``) once; ``False`` when
    it was recorded already."""
    line_map = _line_map(session, connection, subject)
    by_no = {line.line_no: line.id for line in order.lines}
    lines = []
    for ref, count in refund.lines:
        line_no = line_map.get(ref)
        if line_no is not None and line_no in by_no:
            lines.append(RefundLineIn(line_id=by_no[line_no], quantity=count))
    data = RefundCreate(
        external_id=refund.external_id,
        amount=refund.amount,
        lines=lines,
        reason=refund.reason,
        refunded_at=refund.refunded_at,
    )
    try:
        _, created = orders.refund_order(session, order_id=order.id, data=data)
    except orders.RefundExceedsOrder:
        session.refresh(order, attribute_names=["refunded_amount"])
        if order.refunded_amount >= order.total_amount:
            return False  # refunded in full already (a status word said so before)
        raise
    return created


def apply_order(
    session: Session,
    connection: Connection,
    fmt: OrderFormat,
    payload: Mapping[str, Any],
    *,
    settings: Settings,
) -> Applied:
    """Create or move forward the order in ``payload`` (see the module docstring)."""
    source = connection.name
    record, rows = read_order(fmt, payload, settings=settings, source=source)
    json = shopjson.shape(fmt)
    instant = InstantReader(settings.zone)
    try:
        text = shopjson.time_text(fmt, shopjson.dig(payload, json.updated_at))
        updated_at = instant.optional(text, json.updated_at) or record.placed_at
        listed = shopjson.refunds(
            fmt,
            shopjson.dig(payload, json.refunds) or [],
            currency=record.currency,
            instant=instant,
            at=updated_at,
        )
    except CellProblem as exc:
        raise _invalid(exc) from None
    subject = record.external_id
    line_map = {ref: number for number, ref in enumerate(rows.line_ids, 1) if ref}
    claim = _claim_newest(session, connection, subject, updated_at, line_map)
    if claim is None:
        return Applied("ignored", "not newer than the state already applied", subject)
    # The first state of a shop order: create it (``create_order`` finds one stored
    # under the same key, or imported under the same shop reference, itself); a newer
    # state, or a first one of an order imported before, moves the stored one forward.
    stored = stored_order_id(session, connection, fmt, subject) if claim == "newer" else None
    order = orders.get_order(session, stored) if stored is not None else None
    notes: list[str] = []
    created = False
    if order is None:
        order, created = orders.create_order(
            session,
            data=_order_create(record, source),
            region=settings.phone_region,
            shop_ref=record.shop_ref,
        )
        notes.append("order created" if created else "order already stored")
        if not created:
            moves = _advance(session, order, record, updated_at)
            notes.extend(f"moved to {m}" for m in moves)
    else:
        moves = _advance(session, order, record, updated_at)
        notes.append(f"moved to {', '.join(moves)}" if moves else "no change of status")
    refunds = listed or [
        shopjson.JsonRefund(r.external_id, r.amount, r.refunded_at, r.reason, ())
        for r in record.refunds
    ]
    recorded = named = 0
    order_id = order.id
    # The shop's refunds add up to its refunded total. One an export counted (under the
    # import's own id) is named, not counted again; the rest are recorded up to that
    # total, so what an import counted otherwise is not counted twice either.
    # (When the shop gives no amount for a refund its lines decide it: no total to keep.)
    amounts = [r.amount for r in refunds]
    shop_total = sum(a for a in amounts if a is not None) if None not in amounts else None
    for refund in refunds:
        if name_exported_refund(session, fmt, order_id, refund):
            named += 1
            continue
        current = orders.get_order(session, order_id)
        if shop_total is not None and refund.amount is not None:
            room = shop_total - current.refunded_amount
            if room <= 0:
                continue
            if refund.amount > room:  # part of it was counted otherwise: the rest
                refund = replace(refund, amount=room, lines=())
        recorded += apply_refund(session, connection, current, refund, subject)
    if recorded:
        notes.append(f"{recorded} refund(s) recorded")
    if named:
        notes.append(f"{named} refund(s) counted by an import named")
    return Applied("processed", "; ".join(notes), subject, created=created)


def apply_customer(
    session: Session,
    connection: Connection,
    fmt: OrderFormat,
    payload: Mapping[str, Any],
    *,
    settings: Settings,
) -> Applied:
    """Match or create the customer in a customer payload (as an order's contact is)."""
    cells = shopjson.customer_cells(fmt, payload)
    try:
        email = read_email(cells.get(Role.email, ""), "email")
        phone = read_phone(cells.get(Role.phone, ""), "phone", settings.phone_region)
        email_opt_in = optional_yes_no(cells.get(Role.email_consent, ""), "email consent")
        sms_opt_in = optional_yes_no(cells.get(Role.sms_consent, ""), "sms consent")
    except CellProblem as exc:
        raise _invalid(exc) from None
    name = " ".join(cells[r] for r in (Role.first_name, Role.last_name) if r in cells)
    external = cells.get(Role.customer_id, "")
    column = fmt.column(Role.customer_id)
    if column is not None and external in column.none_words:
        external = ""
    said = email_opt_in is not None or sms_opt_in is not None
    contact = Contact(
        email=email,
        phone=phone,
        name=name[:200] or None,
        external_source=connection.name if external else None,
        external_id=external[:200] or None,
        city=cells.get(Role.city, "")[:120] or None,
        email_opt_in=email_opt_in,
        sms_opt_in=sms_opt_in,
        consent_source=f"{connection.name} webhook" if said else None,
    )
    if not contact.identifiable:
        return Applied("ignored", "no email, phone or id to know the customer by", external)
    with session.begin_nested():
        found = customers.resolve_contacts(session, [contact], source=connection.name)
    return Applied("processed", f"customer {found.customer_ids[0]}", external or None)


def customers_of(
    session: Session,
    connection: Connection,
    fmt: OrderFormat,
    customer: Mapping[str, Any],
    order_ids: list[str],
    *,
    settings: Settings,
) -> set[uuid.UUID]:
    """The customers a privacy request names: by email, phone and the orders listed."""
    cells = shopjson.customer_cells(fmt, customer)
    try:
        email = read_email(cells.get(Role.email, ""), "customer.email")
        phone = read_phone(cells.get(Role.phone, ""), "customer.phone", settings.phone_region)
    except CellProblem as exc:
        raise _invalid(exc) from None
    found = set(customers.find_customer_ids_by_contact(session, email=email, phone=phone))
    if order_ids:
        refs = [r for r in (fmt.shop_reference(o) for o in order_ids) if r is not None]
        named = and_(Order.source == connection.name, Order.external_id.in_(order_ids))
        found |= {
            cid
            for cid in session.scalars(
                select(Order.customer_id).where(
                    or_(named, Order.shop_ref.in_(refs)) if refs else named
                )
            )
            if cid is not None
        }
    return found
