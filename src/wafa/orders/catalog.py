"""The shop's products and locations: what orders are made of and where they happen."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from wafa.core.db import insert_ignoring_conflicts
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.ids import new_id
from wafa.core.pagination import decode_cursor, encode_cursor
from wafa.core.time import utcnow
from wafa.orders.models import (
    Location,
    Product,
)
from wafa.orders.schemas import (
    LocationCreate,
    ProductCreate,
    ProductUpdate,
)

# --------------------------------------------------------------------------- products


def create_product(session: Session, *, data: ProductCreate, default_currency: str) -> Product:
    """Add a product; its sku must be new."""
    if session.scalar(select(Product.id).where(Product.sku == data.sku)) is not None:
        raise Conflict(f"a product with sku {data.sku!r} exists", sku=data.sku)
    product = Product(
        id=new_id(),
        sku=data.sku,
        name=data.name,
        category=data.category,
        price_amount=data.price,
        currency=data.currency or default_currency,
        repeatable=data.repeatable,
        active=data.active,
    )
    session.add(product)
    session.flush()
    return product


def get_product(session: Session, product_id: uuid.UUID) -> Product:
    """The product with ``product_id``."""
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"product {product_id} not found")
    return product


def update_product(session: Session, *, product_id: uuid.UUID, data: ProductUpdate) -> Product:
    """Change the fields given."""
    product = get_product(session, product_id)
    for name in data.model_fields_set:
        value = getattr(data, name)
        if value is None and name != "category":
            raise Invalid.field((name,), "may not be null")
        setattr(product, "price_amount" if name == "price" else name, value)
    session.flush()
    return product


def list_products(
    session: Session, *, q: str | None = None, limit: int = 50, cursor: str | None = None
) -> tuple[list[Product], str | None]:
    """A page of products by sku, matching ``q`` in sku, name or category."""
    stmt = select(Product)
    if q:
        stmt = stmt.where(
            Product.sku.icontains(q, autoescape=True)
            | Product.name.icontains(q, autoescape=True)
            | Product.category.icontains(q, autoescape=True)
        )
    if cursor:
        stmt = stmt.where(Product.id > decode_cursor(cursor))
    rows = list(session.scalars(stmt.order_by(Product.id).limit(limit + 1)))
    nxt = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], nxt


def ensure_products(
    session: Session, items: Sequence[tuple[str, str, str | None, int]], *, currency: str
) -> dict[str, tuple[uuid.UUID, str | None]]:
    """Map skus to ``(product id, category)``, creating unknown products from ``items``.

    ``items`` are ``(sku, name, category, unit price)``; the first mention of a sku names
    the product. Concurrent creators of one sku are harmless (``ON CONFLICT DO NOTHING``).
    """
    wanted: dict[str, tuple[str, str | None, int]] = {}
    for sku, name, category, price in items:
        wanted.setdefault(sku, (name, category, price))
    if not wanted:
        return {}
    found = {
        sku: (pid, cat)
        for sku, pid, cat in session.execute(
            select(Product.sku, Product.id, Product.category).where(Product.sku.in_(wanted))
        )
    }
    missing = [sku for sku in wanted if sku not in found]
    if missing:
        now = utcnow()
        session.execute(
            insert_ignoring_conflicts(session, Product, index_elements=["sku"]),
            [
                {
                    "id": new_id(),
                    "sku": sku,
                    "name": wanted[sku][0][:300],
                    "category": wanted[sku][1],
                    "price_amount": wanted[sku][2],
                    "currency": currency,
                    "repeatable": True,
                    "active": True,
                    "created_at": now,
                }
                for sku in missing
            ],
        )
        found.update(
            {
                sku: (pid, cat)
                for sku, pid, cat in session.execute(
                    select(Product.sku, Product.id, Product.category).where(
                        Product.sku.in_(missing)
                    )
                )
            }
        )
    return found


# --------------------------------------------------------------------------- locations


def create_location(session: Session, *, data: LocationCreate) -> Location:
    """Add a shop or channel; its code must be new."""
    if session.scalar(select(Location.id).where(Location.code == data.code)) is not None:
        raise Conflict(f"a location with code {data.code!r} exists", code=data.code)
    location = Location(
        id=new_id(), code=data.code, name=data.name, kind=data.kind, address=data.address
    )
    session.add(location)
    session.flush()
    return location


def list_locations(session: Session) -> list[Location]:
    """All locations by code."""
    return list(session.scalars(select(Location).order_by(Location.code)))


def location_id_for(session: Session, code: str | None) -> uuid.UUID | None:
    """The id of the location with ``code``; an unknown code is invalid input."""
    if code is None:
        return None
    found = session.scalar(select(Location.id).where(Location.code == code))
    if found is None:
        raise Invalid.field(("location",), f"no location with code {code!r}")
    return found
