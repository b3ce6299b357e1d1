from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer
from wafa.app.models import metadata
from wafa.auth import service as auth
from wafa.core.domain import Domain
from wafa.core.errors import Unauthorized
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.demo import store
from wafa.demo.generator import generate
from wafa.orders.models import Order, Product, Refund

SMALL = 300


@pytest.fixture
def demo(session: Session, settings: Settings, clock: FrozenClock) -> store.DemoSummary:
    return store.build_demo(
        session, settings=settings, customers_count=SMALL, seed=7, extensions=()
    )


class TestGenerate:
    def test_same_seed_same_store(self, settings: Settings) -> None:
        now = datetime(2026, 3, 15, 12, tzinfo=UTC)

        def draw(seed: int) -> list[tuple[object, ...]]:
            data = generate(
                customers=120, seed=seed, now=now, zone=settings.zone, currency="USD", region="US"
            )
            return [
                (
                    o.external_id,
                    o.placed_at,
                    o.final_total(),
                    o.contact.email,
                    o.contact.phone,
                    len(o.refunds),
                )
                for o in data.orders
            ]

        assert draw(3) == draw(3)
        assert draw(3) != draw(4)

    def test_orders_stay_in_the_two_years_before_now(self, settings: Settings) -> None:
        now = datetime(2026, 3, 15, 12, tzinfo=UTC)
        data = generate(
            customers=100, seed=1, now=now, zone=settings.zone, currency="USD", region="US"
        )
        assert all(now.replace(year=2024) <= o.placed_at <= now for o in data.orders)
        assert all(o.delivered_at is None or o.delivered_at <= now for o in data.orders)

    def test_prices_follow_the_currency(self, settings: Settings) -> None:
        now = datetime(2026, 3, 15, 12, tzinfo=UTC)
        usd = generate(
            customers=5, seed=1, now=now, zone=settings.zone, currency="USD", region="US"
        )
        irr = generate(
            customers=5, seed=1, now=now, zone=settings.zone, currency="IRR", region="IR"
        )
        espresso = {d.products[0].sku: d.products[0].price for d in (usd, irr)}
        assert usd.products[0].price == 280  # 2.80 USD in cents
        assert irr.products[0].price > 1_000_000 and len(espresso) == 1
        assert irr.people[0].phone is None or irr.people[0].phone.startswith("+98")


class TestBuildDemo:
    def test_customers_known_by_phone_email_or_both(
        self, session: Session, demo: store.DemoSummary
    ) -> None:
        assert demo.customers == SMALL
        rows = session.execute(
            select(Customer.email, Customer.phone).where(Customer.source == "demo")
        ).all()
        kinds = Counter("both" if e and p else "email" if e else "phone" for e, p in rows)
        assert kinds["phone"] > 50 and kinds["email"] > 50 and kinds["both"] > 10
        both = session.scalar(
            select(Customer.id)
            .where(Customer.email.is_not(None), Customer.phone.is_not(None))
            .limit(1)
        )
        channels = set(session.scalars(select(Order.channel).where(Order.customer_id == both)))
        assert channels <= {"online", "in_store"}

    def test_someone_ordered_both_in_store_and_online(
        self, session: Session, demo: store.DemoSummary
    ) -> None:
        mixed = session.scalar(
            select(func.count()).select_from(
                select(Order.customer_id)
                .where(Order.customer_id.is_not(None))
                .group_by(Order.customer_id)
                .having(func.count(func.distinct(Order.channel)) == 2)
                .subquery()
            )
        )
        assert mixed and mixed > 0

    def test_repeat_buyers_follow_a_long_tail(
        self, session: Session, demo: store.DemoSummary
    ) -> None:
        per_customer = Counter(
            n for (n,) in session.execute(
                select(func.count()).where(Order.customer_id.is_not(None)).group_by(Order.customer_id)
            )
        )  # fmt: skip
        once_or_twice = per_customer[1] + per_customer[2]
        loyal = sum(count for n, count in per_customer.items() if n >= 10)
        assert once_or_twice > SMALL * 0.4
        assert 0 < loyal < SMALL * 0.2

    def test_refunds_full_and_partial(self, session: Session, demo: store.DemoSummary) -> None:
        statuses = Counter(session.scalars(select(Order.status)))
        assert statuses["refunded"] > 0 and statuses["partially_refunded"] > 0
        assert demo.refunds == session.scalar(select(func.count()).select_from(Refund))

    def test_online_orders_have_promised_and_delivery_times(
        self, session: Session, demo: store.DemoSummary
    ) -> None:
        online = session.execute(
            select(Order.promised_at, Order.delivered_at).where(Order.channel == "online")
        ).all()
        assert online and all(promised is not None for promised, _ in online)
        delivered = [(p, d) for p, d in online if d is not None]
        assert len(delivered) > len(online) * 0.8
        assert any(p is not None and d > p for p, d in delivered)  # some were late

    def test_guests_and_one_off_products(self, session: Session, demo: store.DemoSummary) -> None:
        assert session.scalar(
            select(func.count()).select_from(Order).where(Order.customer_id.is_(None))
        )
        one_offs = set(
            session.scalars(select(Product.category).where(Product.repeatable.is_(False)))
        )
        assert one_offs == {"equipment"}

    def test_names_birthdays_and_languages(self, session: Session, demo: store.DemoSummary) -> None:
        customers = list(session.scalars(select(Customer)))
        languages = {c.language for c in customers if c.language}
        assert {"en", "ar", "fa"} <= languages
        assert any(c.birth_calendar == "jalali" for c in customers)
        assert any(c.name and any("\u0600" <= ch <= "\u06ff" for ch in c.name) for c in customers)
        assert any(c.email_consent for c in customers) and any(c.sms_consent for c in customers)


class TestSameDay:
    def test_a_later_run_the_same_day_draws_the_same_store(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        def orders() -> list[tuple[str, int]]:
            rows = session.execute(
                select(Order.external_id, Order.total_amount).order_by(Order.external_id)
            )
            return [(str(r[0]), int(r[1])) for r in rows]

        clock.set(datetime(2026, 3, 15, 8, 0, tzinfo=UTC))
        store.build_demo(session, settings=settings, customers_count=40, seed=3, extensions=())
        morning = orders()
        store.clear_demo(session, metadata=metadata)
        clock.set(datetime(2026, 3, 15, 22, 30, tzinfo=UTC))
        store.build_demo(session, settings=settings, customers_count=40, seed=3, extensions=())
        assert orders() == morning


class TestDatabaseState:
    def test_empty_then_demo(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        assert store.database_state(session) is store.DemoState.empty
        store.build_demo(session, settings=settings, customers_count=20, seed=1, extensions=())
        assert store.database_state(session) is store.DemoState.demo

    def test_other_data_is_refused(self, session: Session, settings: Settings) -> None:
        create_customer(session)
        assert store.database_state(session) is store.DemoState.other
        with pytest.raises(store.NotADemoDatabase):
            store.build_demo(session, settings=settings, customers_count=20, seed=1, extensions=())
        with pytest.raises(store.NotADemoDatabase):
            store.clear_demo(session, metadata=metadata)

    def test_reset_empties_the_demo_store(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        store.build_demo(session, settings=settings, customers_count=20, seed=1, extensions=())
        store.clear_demo(session, metadata=metadata)
        assert store.database_state(session) is store.DemoState.empty
        again = store.build_demo(
            session, settings=settings, customers_count=20, seed=1, extensions=()
        )
        assert again.customers == 20


class TestOwnerLogin:
    def test_printed_password_logs_in_and_is_reset_each_run(self, session: Session) -> None:
        email, first = store.ensure_owner(session)
        assert auth.authenticate(session, email=email, password=first).role == "owner"
        _, second = store.ensure_owner(session)
        assert second != first
        assert auth.authenticate(session, email=email, password=second)
        with pytest.raises(Unauthorized):
            auth.authenticate(session, email=email, password=first)


class TestExtensions:
    def test_each_declared_domain_demo_runs_in_order(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        calls: list[tuple[str, Session, Settings, int]] = []

        def recorder(name: str) -> Domain:
            def demo(s: Session, st: Settings, seed: int) -> None:
                calls.append((name, s, st, seed))

            return Domain(name=name, summary="test", demo=demo)

        store.build_demo(
            session,
            settings=settings,
            customers_count=5,
            seed=9,
            extensions=(
                recorder("first"),
                Domain(name="none", summary="no demo"),
                recorder("second"),
            ),
        )
        assert calls == [("first", session, settings, 9), ("second", session, settings, 9)]
