"""Order rules: every order is stored once, whatever the retries.

``(source, external_id)`` is the idempotency key. The first request claims it by
inserting the order row inside a savepoint; a concurrent duplicate waits on the
unique index, fails, and returns the order the first one stored. Totals are
computed here from the lines, in integer minor units. ``order.placed`` and
``order.refunded`` go to the outbox in the same transaction.

Products and locations are in ``orders.catalog`` (re-exported here), the orders' share
of merge, export and erase in ``orders.records``. Orders and refunds stay in this one
module (about 580 lines) because a refund is bounded by its order's lines and totals
and claims its key the same way; split, each half would import the other's privates.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from wafa.core.contacts import ContactError, normalize_email, normalize_phone
from wafa.core.db import dialect_name, insert_ignoring_conflicts, rowcount
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.events import emit
from wafa.core.ids import new_id
from wafa.core.money import prorate
from wafa.core.pagination import decode_cursor, encode_cursor
from wafa.core.time import ensure_utc, utcnow
from wafa.customers import service as customers
from wafa.orders.catalog import (
    create_location,
    create_product,
    ensure_products,
    get_product,
    list_locations,
    list_products,
    location_id_for,
    update_product,
)
from wafa.orders.events import (
    OrderCancelled,
    OrderPlaced,
    OrderRefunded,
    OrderStatusChanged,
    RefundedLine,
)
from wafa.orders.models import (
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    RefundLine,
)
from wafa.orders.schemas import (
    ContactIn,
    OrderCreate,
    OrderStatusUpdate,
    RefundCreate,
)

# Products and locations are part of this service's face (``orders.catalog``).
__all__ = [
    "create_location",
    "create_product",
    "ensure_products",
    "get_product",
    "list_locations",
    "list_products",
    "location_id_for",
    "update_product",
]


class RefundExceedsOrder(Conflict):
    code = "refund-exceeds-order"


# --------------------------------------------------------------------------- orders


def contact_from(
    data: ContactIn | None, *, region: str, source: str, seen_at: datetime | None = None
) -> customers.Contact:
    """Normalise an order's contact block; bad details name their field."""
    if data is None:
        return customers.Contact()
    errors: list[tuple[tuple[str | int, ...], str]] = []
    email = phone = None
    if data.email and data.email.strip():
        try:
            email = normalize_email(data.email)
        except ContactError as exc:
            errors.append((("customer", "email"), str(exc)))
    if data.phone and data.phone.strip():
        try:
            phone = normalize_phone(data.phone, region)
        except ContactError as exc:
            errors.append((("customer", "phone"), str(exc)))
    if errors:
        raise Invalid("the order's contact details are not valid", errors)
    return customers.Contact(
        email=email,
        phone=phone,
        name=data.name or None,
        external_source=source if data.external_id else None,
        external_id=data.external_id or None,
        city=data.city or None,
        email_opt_in=data.accepts_email_marketing,
        sms_opt_in=data.accepts_sms_marketing,
        consent_source=f"order from {source}",
        seen_at=seen_at,
    )


def _with_details(stmt: Select[Order]) -> Select[Order]:
    # populate_existing: guarded Core updates bypass the identity map, so re-read rows.
    return stmt.options(
        selectinload(Order.lines), selectinload(Order.refunds).selectinload(Refund.lines)
    ).execution_options(populate_existing=True)


def compute_totals(data: OrderCreate) -> tuple[list[int], int, int]:
    """Line totals, subtotal and total in minor units; a negative result is invalid."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    line_totals: list[int] = []
    for i, line in enumerate(data.lines):
        gross = line.quantity * line.unit_price
        if line.discount > gross:
            errors.append((("lines", i, "discount"), "discount is larger than the line"))
        line_totals.append(gross - line.discount)
    subtotal = sum(line_totals)
    if data.discount > subtotal:
        errors.append((("discount",), "order discount is larger than the subtotal"))
    if errors:
        raise Invalid("the order's amounts do not add up", errors)
    return line_totals, subtotal, subtotal - data.discount + data.shipping + data.tax


def create_order(
    session: Session,
    *,
    data: OrderCreate,
    region: str,
    same_order_only: bool = False,
    shop_ref: str | None = None,
) -> tuple[Order, bool]:
    """Store an order once; return it and whether this call created it.

    A replay of ``(source, external_id)`` — sequential or concurrent — returns the
    stored order unchanged and writes nothing new. The order row claims its key with
    ``INSERT … ON CONFLICT DO NOTHING``: on PostgreSQL a concurrent duplicate waits on
    the unique index until the first commits, then finds the stored order. The customer
    is found or made in a savepoint with the claim, so a request that loses the race
    leaves no customer behind. With ``same_order_only`` (the API), a replay whose order
    differs from the stored one (currency, total, time, lines) is a conflict, never
    answered with the other order. ``shop_ref`` (``Order.shop_ref``) is a second key: an
    order stored under it by another route (an import, a webhook) is this order.
    """
    existing = _existing_id(session, data.source, data.external_id, shop_ref)
    if existing is not None:
        return _replayed(session, existing, data, same_order_only=same_order_only), False
    line_totals, subtotal, total = compute_totals(data)
    contact = contact_from(data.customer, region=region, source=data.source, seen_at=data.placed_at)
    location_id = location_id_for(session, data.location)
    status = data.status
    claim = session.begin_nested()
    customer_id = _resolve_customer(session, contact, source=data.source)
    order = Order(
        id=new_id(),
        source=data.source,
        external_id=data.external_id,
        number=data.number,
        channel=data.channel,
        location_id=location_id,
        customer_id=customer_id,
        status=status,
        currency=data.currency,
        subtotal_amount=subtotal,
        discount_amount=data.discount,
        shipping_amount=data.shipping,
        tax_amount=data.tax,
        total_amount=total,
        refunded_amount=0,
        contact_email=contact.email,
        contact_phone=contact.phone,
        contact_name=contact.name,
        shipping_address=data.shipping_address,
        coupon_codes=list(data.coupon_codes),
        placed_at=_utc(data.placed_at),
        paid_at=_utc(data.paid_at),
        fulfilled_at=_utc(data.fulfilled_at),
        delivered_at=_utc(data.delivered_at),
        promised_at=_utc(data.promised_at),
        cancelled_at=_utc(data.placed_at) if status is OrderStatus.cancelled else None,
        attributes=dict(data.attributes),
        created_at=utcnow(),
        shop_ref=shop_ref,
    )
    row = {c.key: getattr(order, c.key) for c in Order.__table__.columns}
    claimed = session.execute(
        insert_ignoring_conflicts(
            session, Order, index_elements=None if shop_ref else ["source", "external_id"]
        ).returning(Order.id),
        row,
    ).scalar()
    if claimed is None:
        # Lost the race for the idempotency key: the winner has committed by now. A
        # customer made for this request goes with the savepoint.
        claim.rollback()
        winner = _existing_id(session, data.source, data.external_id, shop_ref)
        if winner is None:  # pragma: no cover - the conflict was on this very key
            raise Conflict("the order could not be stored; retry")
        return _replayed(session, winner, data, same_order_only=same_order_only), False
    claim.commit()

    products = ensure_products(
        session,
        [(ln.sku, ln.name, ln.category, ln.unit_price) for ln in data.lines if ln.sku],
        currency=data.currency,
    )
    lines = []
    for i, (line, line_total) in enumerate(zip(data.lines, line_totals, strict=True)):
        pid, category = products.get(line.sku, (None, None)) if line.sku else (None, None)
        lines.append(
            OrderLine(
                id=new_id(),
                order_id=order.id,
                line_no=i + 1,
                product_id=pid,
                sku=line.sku,
                name=line.name,
                category=line.category or category,
                quantity=line.quantity,
                unit_price_amount=line.unit_price,
                discount_amount=line.discount,
                total_amount=line_total,
                refunded_quantity=0,
            )
        )
    session.execute(
        insert(OrderLine),
        [{c.key: getattr(ln, c.key) for c in OrderLine.__table__.columns} for ln in lines],
    )
    emit_order_placed(session, order)
    # The rows are written with Core; hand back the (unattached) objects as stored.
    order.lines = lines
    order.refunds = []
    return order, True


def _replayed(
    session: Session, order_id: uuid.UUID, data: OrderCreate, *, same_order_only: bool
) -> Order:
    order = get_order(session, order_id)
    if same_order_only:
        _, _, total = compute_totals(data)
        sent = [(ln.sku, ln.name, ln.quantity, ln.unit_price) for ln in data.lines]
        stored = [(ln.sku, ln.name, ln.quantity, ln.unit_price_amount) for ln in order.lines]
        if (
            order.currency != data.currency
            or order.total_amount != total
            or order.placed_at != _utc(data.placed_at)
            or sorted(sent, key=repr) != sorted(stored, key=repr)
        ):
            raise Conflict(
                f"order {data.source}:{data.external_id} was already stored with other "
                "contents (currency, total, time or lines); use a new external_id",
                order_id=str(order.id),
            )
    return order


def _utc(value: datetime | None) -> datetime | None:
    # Store and answer in UTC, so the first answer and every replay are identical.
    return ensure_utc(value) if value is not None else None


def _existing_id(
    session: Session, source: str, external_id: str, shop_ref: str | None = None
) -> uuid.UUID | None:
    key = and_(Order.source == source, Order.external_id == external_id)
    if not shop_ref:
        return session.scalar(select(Order.id).where(key))
    # Either key, in one statement; the order's own key first should both exist.
    found = session.execute(
        select(Order.id, Order.source, Order.external_id).where(
            or_(key, Order.shop_ref == shop_ref)
        )
    ).all()
    mine = [row[0] for row in found if (row[1], row[2]) == (source, external_id)]
    either: list[uuid.UUID] = mine or [row[0] for row in found]
    return either[0] if either else None


def _resolve_customer(
    session: Session, contact: customers.Contact, *, source: str
) -> uuid.UUID | None:
    """Match or create the order's customer, retrying if a concurrent order created it.

    On SQLite writers are serialised (``BEGIN IMMEDIATE``), so there is no race and no
    savepoint is needed; on PostgreSQL a concurrent creator of the same person makes our
    insert fail on the unique email/phone, and the retry then matches their record.
    """
    if not contact.identifiable:
        return None
    if dialect_name(session) == "sqlite":
        return customers.resolve_contacts(session, [contact], source=source).customer_ids[0]
    for attempt in range(3):
        try:
            with session.begin_nested():
                return customers.resolve_contacts(session, [contact], source=source).customer_ids[0]
        except IntegrityError:
            if attempt == 2:
                raise
    return None  # pragma: no cover


def emit_order_placed(session: Session, order: Order, *, imported: bool = False) -> None:
    """Write ``order.placed`` for ``order`` to the outbox."""
    emit(session, order_placed_event(order, imported=imported))


def order_placed_event(order: Order, *, imported: bool = False) -> OrderPlaced:
    """The ``order.placed`` event of a stored order."""
    return OrderPlaced(
        order_id=order.id,
        customer_id=order.customer_id,
        channel=order.channel,
        currency=order.currency,
        total=order.total_amount,
        placed_at=order.placed_at,
        imported=imported,
    )


def get_order(session: Session, order_id: uuid.UUID) -> Order:
    """The order with its lines and refunds."""
    order = session.scalar(_with_details(select(Order)).where(Order.id == order_id))
    if order is None:
        raise NotFound(f"order {order_id} not found", order_id=order_id)
    return order


def list_orders(
    session: Session,
    *,
    customer_id: uuid.UUID | None = None,
    q: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Order], str | None]:
    """A page of orders, newest first (ids are time-ordered)."""
    stmt = select(Order)
    if customer_id is not None:
        stmt = stmt.where(Order.customer_id == customer_id)
    if status:
        stmt = stmt.where(Order.status == status)
    if q and q.strip():
        text = q.strip()
        stmt = stmt.where(
            Order.external_id.icontains(text, autoescape=True)
            | Order.number.icontains(text, autoescape=True)
            | Order.contact_email.icontains(text, autoescape=True)
        )
    if cursor:
        stmt = stmt.where(Order.id < decode_cursor(cursor))
    rows = list(session.scalars(stmt.order_by(Order.id.desc()).limit(limit + 1)))
    nxt = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], nxt


def customer_orders(session: Session, customer_id: uuid.UUID) -> list[Order]:
    """Every order of a customer, newest first, with lines and refunds."""
    return list(
        session.scalars(
            _with_details(select(Order))
            .where(Order.customer_id == customer_id)
            .order_by(Order.placed_at.desc())
        )
    )


_TRANSITIONS = {
    OrderStatus.paid: "paid_at",
    OrderStatus.fulfilled: "fulfilled_at",
    OrderStatus.delivered: "delivered_at",
    OrderStatus.cancelled: "cancelled_at",
}


def update_order_status(session: Session, *, order_id: uuid.UUID, data: OrderStatusUpdate) -> Order:
    """Move an order to paid, fulfilled, delivered or cancelled, stamping the time."""
    order = get_order(session, order_id)
    if data.status not in _TRANSITIONS:
        raise Invalid.field(("status",), "use paid, fulfilled, delivered or cancelled")
    if order.status in (OrderStatus.cancelled, OrderStatus.refunded):
        raise Conflict(f"order {order.id} is {order.status}; its status can no longer change")
    if order.status == data.status:
        return order
    at = data.at or utcnow()
    setattr(order, _TRANSITIONS[data.status], at)
    previous = order.status
    if order.status != OrderStatus.partially_refunded or data.status is OrderStatus.cancelled:
        order.status = data.status
    session.flush()
    moved = OrderCancelled if data.status is OrderStatus.cancelled else OrderStatusChanged
    emit(
        session,
        moved(
            order_id=order.id,
            customer_id=order.customer_id,
            from_status=previous,
            to_status=data.status,
            at=at,
        ),
    )
    return order


# --------------------------------------------------------------------------- refunds


def _plan_refund_lines(order: Order, data: RefundCreate) -> list[tuple[OrderLine, int, int]]:
    by_id = {line.id: line for line in order.lines}
    by_sku: dict[str, OrderLine] = {}
    for order_line in order.lines:
        if order_line.sku:
            by_sku.setdefault(order_line.sku, order_line)
    plan: list[tuple[OrderLine, int, int]] = []
    errors: list[tuple[tuple[str | int, ...], str]] = []
    for i, item in enumerate(data.lines):
        line: OrderLine | None = (
            by_id.get(item.line_id) if item.line_id else by_sku.get(item.sku or "")
        )
        if line is None:
            errors.append((("lines", i), "no such line on this order"))
            continue
        left = line.quantity - line.refunded_quantity
        if item.quantity > left:
            errors.append((("lines", i, "quantity"), f"only {left} left to refund on this line"))
            continue
        plan.append((line, item.quantity, prorate(line.total_amount, item.quantity, line.quantity)))
    if errors:
        raise Invalid("the refund does not fit the order", errors)
    return plan


def _refund_by_key(session: Session, order_id: uuid.UUID, external_id: str) -> Refund | None:
    return session.scalar(
        select(Refund)
        .options(selectinload(Refund.lines))
        .where(Refund.order_id == order_id, Refund.external_id == external_id)
    )


def _apply_refund_amounts(
    session: Session,
    order: Order,
    plan: list[tuple[OrderLine, int, int]],
    amount: int,
    remaining: int,
) -> None:
    """Guarded updates: concurrent refunds can never together exceed the order or a line."""
    moved = rowcount(
        session.execute(
            update(Order)
            .where(Order.id == order.id, Order.refunded_amount + amount <= Order.total_amount)
            .values(refunded_amount=Order.refunded_amount + amount)
            .execution_options(synchronize_session=False)
        )
    )
    if moved != 1:
        raise RefundExceedsOrder(
            f"refund of {amount} exceeds the {remaining} left on order {order.id}",
            remaining=remaining,
        )
    for line, qty, _ in plan:
        ok = rowcount(
            session.execute(
                update(OrderLine)
                .where(
                    OrderLine.id == line.id, OrderLine.refunded_quantity + qty <= OrderLine.quantity
                )
                .values(refunded_quantity=OrderLine.refunded_quantity + qty)
                .execution_options(synchronize_session=False)
            )
        )
        if ok != 1:
            raise RefundExceedsOrder(f"line {line.line_no} has fewer than {qty} items left")


def refund_order(
    session: Session, *, order_id: uuid.UUID, data: RefundCreate
) -> tuple[Refund, bool]:
    """Record a full or partial refund once per ``external_id``; never above what was paid.

    The order's refunded amount moves by a guarded ``UPDATE`` so that two refunds
    racing each other cannot together exceed the total.
    """
    order = get_order(session, order_id)
    prior = _refund_by_key(session, order.id, data.external_id)
    if prior is not None:
        return prior, False
    remaining = order.total_amount - order.refunded_amount
    plan = _plan_refund_lines(order, data)
    if data.amount is not None:
        amount = data.amount
    elif plan:
        amount = sum(a for _, _, a in plan)
        # Refunding every remaining item refunds what is left, shipping included.
        if all(
            sum(q for ln, q, _ in plan if ln.id == line.id)
            == line.quantity - line.refunded_quantity
            for line in order.lines
        ):
            amount = remaining
    else:
        amount = remaining
        plan = [
            (
                ln,
                ln.quantity - ln.refunded_quantity,
                prorate(ln.total_amount, ln.quantity - ln.refunded_quantity, ln.quantity),
            )
            for ln in order.lines
            if ln.quantity > ln.refunded_quantity
        ]
    if amount <= 0:
        raise RefundExceedsOrder(f"order {order.id} has nothing left to refund")
    refund = Refund(
        id=new_id(),
        order_id=order.id,
        external_id=data.external_id,
        amount=amount,
        currency=order.currency,
        reason=data.reason,
        refunded_at=data.refunded_at or utcnow(),
    )
    refund.lines = [
        RefundLine(id=new_id(), order_line_id=line.id, quantity=qty, amount=line_amount)
        for line, qty, line_amount in plan
    ]
    try:
        # One savepoint: the refund row claims its external id, then guarded updates
        # move the amounts; a failure anywhere leaves nothing behind.
        with session.begin_nested():
            session.add(refund)
            session.flush()
            _apply_refund_amounts(session, order, plan, amount, remaining)
    except IntegrityError:
        # A concurrent request recorded this refund first: return what it stored.
        winner = _refund_by_key(session, order.id, data.external_id)
        if winner is None:
            raise
        return winner, False
    session.refresh(order, attribute_names=["refunded_amount"])
    full = order.refunded_amount >= order.total_amount
    order.status = OrderStatus.refunded if full else OrderStatus.partially_refunded
    session.flush()
    emit(
        session,
        OrderRefunded(
            order_id=order.id,
            refund_id=refund.id,
            customer_id=order.customer_id,
            amount=amount,
            currency=order.currency,
            full=full,
            lines=tuple(
                RefundedLine(order_line_id=ln.id, sku=ln.sku, quantity=q, amount=a)
                for ln, q, a in plan
            ),
        ),
    )
    return refund, True


def identify_refund(
    session: Session,
    *,
    order_id: uuid.UUID,
    unnamed: str,
    external_id: str,
    amount: int,
    refunded_at: datetime,
    reason: str | None = None,
) -> bool:
    """Name the part of a refund recorded without the shop's id that is ``external_id``'s
    refund; ``True`` when one was found (no money moves: it was counted already).

    An export carries a refunded total, not each refund, so the importer records it under
    the format's own id (``unnamed``; ``unnamed-N`` for what later exports add), dated by
    the export and created when it was imported. A shop refund made before that import
    may be in it: the first such row created after ``refunded_at``, without lines of its
    own, holding at least ``amount``, gives that amount to a row under ``external_id``
    (it is renamed when it is exactly the amount; otherwise it keeps the rest). The
    order's refunded amount, its events and the points they moved stay as they are, and
    the refund is known by its id from then on. ``False``: no such row, a new refund.
    """
    if _refund_by_key(session, order_id, external_id) is not None:
        return False
    lined = select(RefundLine.id).where(RefundLine.refund_id == Refund.id).exists()
    host = session.scalar(
        select(Refund)
        .where(
            Refund.order_id == order_id,
            or_(Refund.external_id == unnamed, Refund.external_id.like(f"{unnamed}-%")),
            Refund.created_at >= ensure_utc(refunded_at),
            Refund.amount >= amount,
            ~lined,
        )
        .order_by(Refund.created_at, Refund.external_id)
        .limit(1)
        .with_for_update()
    )
    if host is None:
        return False
    if host.amount == amount:
        host.external_id = external_id
        host.reason = host.reason or reason
    else:
        host.amount -= amount
        session.add(
            Refund(
                id=new_id(),
                order_id=order_id,
                external_id=external_id,
                amount=amount,
                currency=host.currency,
                reason=reason or host.reason,
                refunded_at=ensure_utc(refunded_at),
                created_at=host.created_at,
            )
        )
    session.flush()
    return True


def attach_customer(session: Session, *, order_id: uuid.UUID, customer_id: uuid.UUID) -> Order:
    """Give a guest order its customer (a till's order claimed at the counter).

    Only an order without a customer is changed (a guarded ``UPDATE``); an order that
    already belongs to someone else is a conflict, never silently moved.
    """
    moved = rowcount(
        session.execute(
            update(Order)
            .where(Order.id == order_id, Order.customer_id.is_(None))
            .values(customer_id=customer_id)
            .execution_options(synchronize_session=False)
        )
    )
    order = get_order(session, order_id)
    session.refresh(order, attribute_names=["customer_id"])
    if moved != 1 and order.customer_id != customer_id:
        raise Conflict(
            f"order {order.number or order.external_id} belongs to another customer",
            order_id=order_id,
        )
    return order
