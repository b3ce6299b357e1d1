"""Building the demo store in the configured database.

``build_demo`` writes the catalogue, the shops, the customers and two years of orders
through the same services and bulk writer as real data (``ensure_products`` and
``create_location`` for the catalogue, ``OrderWriter`` — and so ``resolve_contacts`` —
for the orders, ``update_customer`` for birthdays, languages and tags). Every order is
stored under the source ``demo``, which is how a later run recognises the demo store.

Extensions: after the core data, ``build_demo`` calls the ``demo`` of every domain that
declared one (``extensions``, handed in by the caller from ``wafa.app.domains``) in the
same transaction, so the loyalty and analytics domains add their own demo data (a
programme, scores…).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import MetaData, delete, func, inspect, select
from sqlalchemy.orm import Session

from wafa.auth import service as auth
from wafa.auth.models import Role, StaffUser
from wafa.core.calendars import local_date, start_of_day
from wafa.core.domain import Domain
from wafa.core.errors import Conflict
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.customers.schemas import Birthday, CustomerUpdate
from wafa.demo.catalogue import ONLINE, SHOPS
from wafa.demo.generator import DemoData, Person, generate
from wafa.orders import service as orders
from wafa.orders.importing.writer import OrderWriter
from wafa.orders.models import Location, LocationKind, Order, Product
from wafa.orders.schemas import LocationCreate, ProductUpdate

DEMO_SOURCE = "demo"
OWNER_EMAIL = "owner@demo.wafa"
# Tables a reset keeps: the installation's secret, staff logins and API keys.
KEEP_ON_RESET = frozenset({"alembic_version", "system_settings", "staff_users", "api_keys"})


class DemoState(StrEnum):
    empty = "empty"
    demo = "demo"
    other = "other"


class NotADemoDatabase(Conflict):
    code = "not-a-demo-database"


@dataclass
class DemoSummary:
    """What the demo build wrote."""

    customers: int
    orders: int
    products: int
    refunds: int
    city: str


def database_state(session: Session) -> DemoState:
    """Whether the database is empty, holds the demo store, or holds other data."""
    foreign_orders = session.scalar(
        select(func.count()).select_from(Order).where(Order.source != DEMO_SOURCE)
    )
    foreign_customers = session.scalar(
        select(func.count()).select_from(Customer).where(Customer.source != DEMO_SOURCE)
    )
    if foreign_orders or foreign_customers:
        return DemoState.other
    demo_orders = session.scalar(
        select(func.count()).select_from(Order).where(Order.source == DEMO_SOURCE)
    )
    return DemoState.demo if demo_orders else DemoState.empty


def clear_demo(session: Session, *, metadata: MetaData) -> None:
    """Delete the demo store (every table but logins, keys and the secret); refuse other data."""
    if database_state(session) is DemoState.other:
        raise NotADemoDatabase(
            "the database holds data that is not the demo store; it is left as it is"
        )
    present = set(inspect(session.connection()).get_table_names())
    for table in reversed(metadata.sorted_tables):
        if table.name in present and table.name not in KEEP_ON_RESET:
            session.execute(delete(table))


def _locations(session: Session) -> None:
    known = {loc.code for loc in orders.list_locations(session)}
    for code, name, kind in (*SHOPS, ONLINE):
        if code not in known:
            orders.create_location(
                session, data=LocationCreate(code=code, name=name, kind=LocationKind(kind))
            )


def _products(session: Session, data: DemoData, currency: str) -> None:
    orders.ensure_products(
        session, [(p.sku, p.name, p.category, p.price) for p in data.products], currency=currency
    )
    one_offs = [p.sku for p in data.products if not p.repeatable]
    for product in session.scalars(select(Product).where(Product.sku.in_(one_offs))):
        if product.repeatable:
            orders.update_product(
                session, product_id=product.id, data=ProductUpdate(repeatable=False)
            )


def _profiles(session: Session, people: list[Person], settings: Settings) -> None:
    """Birthdays, languages and tags, which orders do not carry."""
    wanted = [p for p in people if p.orders and (p.birthday or p.tags)]
    contacts = [customers.Contact(email=p.email, phone=p.phone) for p in wanted]
    ids = customers.resolve_contacts(session, contacts, source=DEMO_SOURCE).customer_ids
    for person, customer_id in zip(wanted, ids, strict=True):
        if customer_id is None:
            continue
        fields: dict[str, object] = {"language": person.language}
        if person.birthday is not None:
            day, month, year, calendar = person.birthday
            fields["birthday"] = Birthday(day=day, month=month, year=year, calendar=calendar)
        if person.tags:
            fields["tags"] = person.tags
        customers.update_customer(
            session,
            customer_id=customer_id,
            data=CustomerUpdate(**fields),
            region=settings.phone_region,
            calendar=settings.calendar,
        )


#: Orders written per step of the demo's progress.
ORDER_CHUNK = 5000


def build_demo(
    session: Session,
    *,
    settings: Settings,
    customers_count: int = 5000,
    seed: int = 42,
    progress: Callable[[str], None] | None = None,
    extensions: Sequence[Domain] = (),
) -> DemoSummary:
    """Write the demo store into an empty database (the caller commits).

    ``extensions``: the domains whose demo data follows the core data (none: the core
    data alone).
    """
    state = database_state(session)
    if state is not DemoState.empty:
        raise NotADemoDatabase(f"the database is not empty ({state}); nothing was written")
    say = progress or (lambda _msg: None)
    extras = [(domain.name, domain.demo) for domain in extensions if domain.demo is not None]
    steps = 3 + len(extras)
    say(f"[1/{steps}] drawing {customers_count:,} customers and their orders (seed {seed})")
    data = generate(
        customers=customers_count,
        seed=seed,
        # Anchored at the start of today (business time), so that the same seed gives the
        # same store all day long, not one that shifts with the clock.
        now=start_of_day(local_date(utcnow(), settings.zone), settings.zone),
        zone=settings.zone,
        currency=settings.currency,
        region=settings.phone_region,
    )
    _locations(session)
    _products(session, data, settings.currency)
    total = len(data.orders)
    say(f"[2/{steps}] writing {total:,} orders")
    writer = OrderWriter(session, source=DEMO_SOURCE)
    for start in range(0, total, ORDER_CHUNK):
        writer.write(data.orders[start : start + ORDER_CHUNK])
        say(f"      {min(start + ORDER_CHUNK, total):,} of {total:,} orders written")
    say(f"[3/{steps}] adding birthdays, languages and tags")
    _profiles(session, data.people, settings)
    for number, (name, add_demo) in enumerate(extras, start=4):
        say(f"[{number}/{steps}] adding the {name} demo data")
        add_demo(session, settings, seed)
    session.flush()
    return DemoSummary(
        customers=writer.stats.customers_created,
        orders=writer.stats.orders_created,
        products=len(data.products),
        refunds=writer.stats.refunds,
        city=data.city,
    )


def ensure_owner(session: Session) -> tuple[str, str]:
    """The demo owner's login with a fresh password (reset on every run so the printed one works)."""
    password = secrets.token_urlsafe(12)
    user = session.scalar(select(StaffUser).where(StaffUser.email == OWNER_EMAIL))
    if user is None:
        auth.create_user(
            session, email=OWNER_EMAIL, password=password, role=Role.owner, name="Demo owner"
        )
    else:
        auth.set_password(session, user_id=user.id, password=password)
    return OWNER_EMAIL, password


def demo_counts(session: Session) -> dict[str, int]:
    """Customers, orders and locations of the demo store, for the summary."""
    return {
        "customers": int(session.scalar(select(func.count()).select_from(Customer)) or 0),
        "orders": int(session.scalar(select(func.count()).select_from(Order)) or 0),
        "locations": int(session.scalar(select(func.count()).select_from(Location)) or 0),
    }
