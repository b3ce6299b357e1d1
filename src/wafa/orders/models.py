"""Products, locations, orders, lines and refunds. Money is integer minor units."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class Channel(StrEnum):
    online = "online"
    in_store = "in_store"
    phone = "phone"


class LocationKind(StrEnum):
    shop = "shop"
    online = "online"
    phone = "phone"


class OrderStatus(StrEnum):
    placed = "placed"
    paid = "paid"
    fulfilled = "fulfilled"
    delivered = "delivered"
    cancelled = "cancelled"
    partially_refunded = "partially_refunded"
    refunded = "refunded"


class Product(Base):
    __tablename__ = "products"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    sku: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(120), index=True)
    price_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    # A one-off product (an appliance, a course) is not recommended to someone who has it.
    repeatable: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("price_amount >= 0", name="price_not_negative"),)


class Location(Base):
    """A shop, or an online or phone channel, where orders are taken."""

    __tablename__ = "locations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(200))
    number: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL"), index=True
    )
    # Indexed by ix_orders_customer_placed (customer_id, placed_at), which serves
    # lookups by customer too: a second index would only slow every insert down.
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(24), default=OrderStatus.placed)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    total_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    # The contact details as the order carried them (kept for guests and for audit).
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    shipping_address: Mapped[str | None] = mapped_column(Text)
    coupon_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    promised_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The shop's own reference of the order (``shopify:<id>``), the same whether it came
    #: by import or by webhook (``ingest`` formats say which carry one): a second key of
    #: the order, so an order arriving both ways is stored once.
    shop_ref: Mapped[str | None] = mapped_column(String(200))

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="OrderLine.line_no",
    )
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="order", lazy="raise", order_by="Refund.refunded_at"
    )

    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        UniqueConstraint("shop_ref"),
        Index("ix_orders_placed_at", "placed_at"),
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
        CheckConstraint("total_amount >= 0", name="total_not_negative"),
        CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= total_amount", name="refund_within_total"
        ),
    )


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # Indexed by the (order_id, line_no) unique constraint.
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL"), index=True
    )
    sku: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(120))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_amount: Mapped[int] = mapped_column(BigInteger)
    discount_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    total_amount: Mapped[int] = mapped_column(BigInteger)
    refunded_quantity: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="lines", lazy="raise")

    __table_args__ = (
        UniqueConstraint("order_id", "line_no"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_amount >= 0", name="unit_price_not_negative"),
        CheckConstraint(
            "refunded_quantity >= 0 AND refunded_quantity <= quantity", name="refund_qty_in_range"
        ),
    )


class Refund(Base):
    """A full or partial refund, its own record; ``(order_id, external_id)`` makes it idempotent."""

    __tablename__ = "refunds"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # Indexed by the (order_id, external_id) unique constraint.
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(Text)
    refunded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="refunds", lazy="raise")
    lines: Mapped[list[RefundLine]] = relationship(
        back_populates="refund", lazy="raise", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("order_id", "external_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )


class RefundLine(Base):
    __tablename__ = "refund_lines"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    refund_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("refunds.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("order_lines.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)

    refund: Mapped[Refund] = relationship(back_populates="lines", lazy="raise")

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)
