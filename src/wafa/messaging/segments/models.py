"""Segment tables: saved segments, and the per-customer order figures segments count on."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class Segment(Base):
    """A saved rule with a name. ``rules`` is the JSON of :class:`.rules.Rules`.

    ``last_count`` and ``counted_at`` remember the size when the segment was last
    counted (saving, opening it), so a list of segments costs no counting; the live
    figure is always one query away.
    """

    __tablename__ = "messaging_segments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_count: Mapped[int | None] = mapped_column(BigInteger)
    counted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @property
    def count(self) -> int | None:
        """The size when last counted (``None``: never)."""
        return self.last_count

    __table_args__ = (
        # A live segment's name is unique (a campaign picks it by name in the dashboard);
        # archived ones keep theirs for the record.
        Index(
            "uq_messaging_segments_live_name",
            "name",
            unique=True,
            postgresql_where=text("archived_at IS NULL"),
            sqlite_where=text("archived_at IS NULL"),
        ),
    )


# A JSON list; JSONB on PostgreSQL, where it is compared (``?|``) and deduplicated.
JsonList = JSON().with_variant(JSONB(), "postgresql")


class CustomerOrderStats(Base):
    """One row per customer with at least one sale: what segments ask of orders.

    Derived from ``orders`` (never written by anyone but
    :mod:`wafa.messaging.segments.stats`): the number of sales, net spend in the
    business currency (orders in other currencies count as orders, not as spend),
    first and last sale, and what they bought, how and where: the distinct SKUs and
    categories of their lines that were not refunded, and the channels and location
    codes of their sales. A customer without a sale has no row. Kept current from order
    and customer events and rebuilt whole every day, which also repairs anything an
    event did not announce.
    """

    __tablename__ = "messaging_customer_order_stats"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    orders_count: Mapped[int] = mapped_column(Integer)
    spent_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    first_order_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_order_at: Mapped[datetime] = mapped_column(UtcDateTime)
    channels: Mapped[list[str]] = mapped_column(JsonList, default=list)
    locations: Mapped[list[str]] = mapped_column(JsonList, default=list)
    products: Mapped[list[str]] = mapped_column(JsonList, default=list)
    categories: Mapped[list[str]] = mapped_column(JsonList, default=list)
    refreshed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class StatsBuild(Base):
    """When the order figures were last rebuilt from every order (one row per run)."""

    __tablename__ = "messaging_customer_order_stats_builds"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    customers: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
