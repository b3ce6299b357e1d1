"""A small shop built by hand, whose every segment answer is worked out on paper.

The business is in Tehran (UTC+3:30); "now" is 2026-03-15 12:00 UTC, 15:30 in Tehran.
Four live customers (Ava, Ben, Cy, Dee), one erased (Eve) and one merged away (Finn),
both of whom would match several rules if they were not excluded. Each fact below is
chosen to sit on an edge: an order placed at 21:00 UTC on the 14th is on the 15th in
Tehran; a cancelled order, a fully refunded order and a refunded line are not sales;
an order in euros counts as an order but not as spend.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from tests.conftest import FrozenClock, make_settings
from tests.factories import create_customer, order_payload
from wafa.analytics.tables import CustomerScore
from wafa.app.domains import people_hooks
from wafa.core.settings import CalendarKind, Settings
from wafa.customers.schemas import ConsentIn
from wafa.loyalty import program
from wafa.loyalty import service as loyalty
from wafa.loyalty.models import Badge
from wafa.loyalty.schemas.program import ProgramRules
from wafa.messaging.segments import stats
from wafa.orders import service as orders
from wafa.orders.models import LocationKind, Order
from wafa.orders.schemas import LocationCreate, OrderCreate, RefundCreate
from wafa.people import service as lifecycle

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
LIVE = frozenset({"ava", "ben", "cy", "dee"})


def business(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"timezone": "Asia/Tehran", "currency": "USD"}
    values.update(overrides)
    return make_settings(url, **values)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _consent(email: bool, sms: bool) -> list[ConsentIn]:
    return [
        ConsentIn(channel="email", granted=email, source="test"),
        ConsentIn(channel="sms", granted=sms, source="test"),
    ]


def _order(
    session: Session,
    email: str,
    when: str,
    lines: list[tuple[str, str, int]],
    *,
    channel: str = "online",
    currency: str = "USD",
    status: str = "placed",
    location: str | None = None,
) -> Order:
    payload = order_payload(
        customer={"email": email},
        placed_at=at(when).isoformat(),
        channel=channel,
        currency=currency,
        status=status,
        location=location,
        lines=[
            {"sku": sku, "name": sku.title(), "category": cat, "quantity": 1, "unit_price": price}
            for sku, cat, price in lines
        ],
    )
    order, _ = orders.create_order(session, data=OrderCreate.model_validate(payload), region="US")
    return order


def _score(session: Session, customer_id: uuid.UUID, **values: Any) -> None:
    row: dict[str, Any] = {
        "customer_id": customer_id,
        "run_id": uuid.uuid4(),
        "currency": "USD",
        "first_order_on": NOW.date(),
        "last_order_on": NOW.date(),
        "orders": 1,
        "repeat_purchases": 0,
        "spend_amount": 0,
        "average_order_amount": 0,
        "recency_days": 0,
        "tenure_days": 0,
        "activity": "active",
        "r_score": 3,
        "f_score": 3,
        "m_score": 3,
        "channels": [],
    }
    row.update(values)
    session.add(CustomerScore(**row))


def build(session: Session, clock: FrozenClock, settings: Settings) -> dict[str, uuid.UUID]:
    """Create the shop; returns ``{name: customer id}``. Leaves the clock at ``NOW``."""
    clock.set(at("2024-01-01T00:00:00"))
    program.save_rules(
        session,
        rules=ProgramRules.model_validate(
            {
                "pending_days": 0,
                "tiers": {
                    "enabled": True,
                    "levels": [
                        {"code": "bronze", "name": "Bronze", "threshold": 0},
                        {"code": "silver", "name": "Silver", "threshold": 1000},
                        {"code": "gold", "name": "Gold", "threshold": 5000},
                    ],
                },
            }
        ),
        by="test",
    )
    orders.create_location(
        session, data=LocationCreate(code="SHOP1", name="Main street", kind=LocationKind.shop)
    )
    ids: dict[str, uuid.UUID] = {}

    def customer(name: str, created: str, **fields: Any) -> uuid.UUID:
        clock.set(at(created))
        c = create_customer(session, name=name.title(), email=f"{name}@example.com", **fields)
        ids[name] = c.id
        return c.id

    customer(
        "ava",
        "2026-01-10T08:00:00",
        city="Tehran",
        language="fa",
        tags=["coffee", "vip"],
        gender="female",
        birthday={"day": 25, "month": 3, "year": 1990, "calendar": "gregorian"},
        consent=_consent(True, False),
        source="pos",
    )
    customer(
        "ben",
        "2025-06-01T12:00:00",
        city="Shiraz",
        language="en",
        tags=["coffee"],
        gender="male",
        birthday={"day": 5, "month": 1, "calendar": "jalali"},
        consent=_consent(False, True),
        source="shopify",
    )
    customer("cy", "2026-03-15T10:00:00", source="manual")
    customer(
        "dee",
        "2024-12-31T22:00:00",  # 1 January 2025 in Tehran
        city="Isfahan",
        language="ar",
        tags=["tea"],
        gender="other",
        birthday={"day": 29, "month": 2, "calendar": "gregorian"},
        consent=_consent(True, True),
        source="import",
    )
    customer("eve", "2025-01-01T10:00:00", city="Tehran", tags=["vip"], source="pos")
    customer("finn", "2025-01-01T10:00:00", source="pos")
    clock.set(NOW)

    # Orders. Ava: three sales, the last at 00:30 on the 15th in Tehran.
    _order(
        session,
        "ava@example.com",
        "2026-01-10T09:00:00",
        [("BEANS", "beans", 1000)],
        channel="in_store",
        location="SHOP1",
    )
    _order(session, "ava@example.com", "2026-02-01T09:00:00", [("CUP", "mugs", 2000)])
    _order(
        session,
        "ava@example.com",
        "2026-03-14T21:00:00",
        [("BEANS", "beans", 3000)],
        channel="in_store",
        location="SHOP1",
    )
    # Ben: one sale; a cancelled order of beans that is not a sale.
    _order(session, "ben@example.com", "2025-10-01T10:00:00", [("CUP", "mugs", 1500)])
    _order(
        session,
        "ben@example.com",
        "2026-03-01T10:00:00",
        [("BEANS", "beans", 9999)],
        status="cancelled",
    )
    # Dee: tea and a mug by phone, the mug refunded; a sale in euros; a refunded order.
    tea = _order(
        session,
        "dee@example.com",
        "2025-12-14T20:00:00",
        [("TEA", "tea", 2000), ("MUG", "mugs", 500)],
        channel="phone",
    )
    orders.refund_order(
        session,
        order_id=tea.id,
        data=RefundCreate.model_validate(
            {"external_id": "r-mug", "lines": [{"sku": "MUG", "quantity": 1}]}
        ),
    )
    _order(
        session, "dee@example.com", "2025-11-01T10:00:00", [("TEA", "tea", 5000)], currency="EUR"
    )
    gone = _order(
        session,
        "dee@example.com",
        "2025-12-01T10:00:00",
        [("CAKE", "cakes", 7000)],
        channel="in_store",
    )
    orders.refund_order(
        session, order_id=gone.id, data=RefundCreate.model_validate({"external_id": "r-all"})
    )
    # Eve and Finn would match many rules: Eve is erased, Finn merged into Ben.
    _order(session, "eve@example.com", "2026-03-10T10:00:00", [("BEANS", "beans", 9000)])
    lifecycle.erase_customer(
        session, settings=settings, hooks=people_hooks(), customer_id=ids["eve"], erased_by="test"
    )
    lifecycle.merge_customers(session, winner_id=ids["ben"], loser_id=ids["finn"], merged_by="test")

    # Loyalty: accounts open on the first points; tiers are overrides (floors).
    def points(name: str, when: str, amount: int) -> None:
        clock.set(at(when))
        loyalty.adjust(
            session, settings=settings, customer_id=ids[name], points=amount, reason="t", by="t"
        )

    points("ava", "2025-11-01T10:00:00", 500)
    points("ben", "2026-02-01T10:00:00", 50)
    points("dee", "2025-06-15T10:00:00", 100)
    points("dee", "2025-06-16T10:00:00", -100)
    clock.set(NOW)
    for name, tier in (("ava", "gold"), ("ben", "silver")):
        loyalty.override_tier(
            session,
            settings=settings,
            customer_id=ids[name],
            tier=tier,
            until=None,
            reason="test",
            by="t",
        )
    session.add(Badge(customer_id=ids["ava"], code="first_order", name="First order"))

    # Predictions of an analytics refresh (Dee's spend model withheld: no P(alive), no CLV).
    _score(
        session, ids["ava"], p_alive=0.9, clv_amount=50_000, segment="champions", churn_risk="low"
    )
    _score(session, ids["ben"], p_alive=0.2, clv_amount=1_000, segment="at_risk", churn_risk="high")
    _score(session, ids["dee"], p_alive=None, clv_amount=None, segment="lost", churn_risk="unknown")
    session.flush()
    stats.rebuild(session, currency=settings.currency)
    return ids


def jalali(settings: Settings) -> Settings:
    """The same business keeping the Jalali calendar."""
    return settings.model_copy(update={"calendar": CalendarKind.jalali})
