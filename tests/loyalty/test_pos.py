from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import deliver, member, place, set_rules
from wafa.core.errors import Conflict, Invalid
from wafa.core.settings import Settings
from wafa.customers.schemas import Birthday
from wafa.loyalty import accrual, pos, rewards, service
from wafa.loyalty.schemas.io import PosAttach, PosEnrol, PosLine, PosPurchase, RewardCreate
from wafa.orders import service as orders
from wafa.orders.models import Order
from wafa.orders.schemas import OrderCreate

LINE = PosLine(sku="COF-1", name="Flat white", quantity=2, unit_price=450, category="coffee")


class TestSearchAndSummary:
    def test_find_by_a_few_phone_digits(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session, name="Sara Karimi", phone="+12025550188")
        service.adjust(session, settings=settings, customer_id=c.id, points=42, reason="x", by="t")
        found = pos.search(session, settings=settings, q="0188")
        assert [(f.id, f.available) for f in found] == [(c.id, 42)]

    def test_the_phone_ending_in_the_digits_comes_before_emails_and_mid_number_matches(
        self, session: Session, settings: Settings
    ) -> None:
        # As a cashier found it: typing a phone's last digits put an email that happened
        # to contain them first, and a number with them in the middle next.
        sara = member(session, name="Sara Karimi", phone="+12025554844")
        member(session, name="Ali Rezaei", email="ali4844@example.com")
        member(session, name="Mina Ahmadi", phone="+12024844123")
        names = [f.name for f in pos.search(session, settings=settings, q="4844")]
        assert names == ["Sara Karimi", "Ali Rezaei", "Mina Ahmadi"]
        typed_in_persian = pos.search(session, settings=settings, q="۴۸۴۴")
        assert typed_in_persian[0].id == sara.id

    def test_the_whole_number_in_any_writing_comes_first(
        self, session: Session, settings: Settings
    ) -> None:
        member(session, name="Ends the same", phone="+12035554844")
        sara = member(session, name="Sara Karimi", phone="+12025554844")
        for typed in ("(202) 555-4844", "+1 202 555 4844", "2025554844"):
            found = pos.search(session, settings=settings, q=typed)
            assert [f.id for f in found][:1] == [sara.id], typed

    def test_a_number_typed_from_its_start_with_the_trunk_zero(
        self, session: Session, settings: Settings
    ) -> None:
        iran = settings.model_copy(update={"phone_region": "IR"})
        reza = member(session, name="Reza", phone="+989121234567")
        member(session, name="Has it inside", phone="+989359121234")
        found = pos.search(session, settings=iran, q="0912 123")
        assert [f.name for f in found] == ["Reza", "Has it inside"]
        assert found[0].id == reza.id

    def test_names_before_emails_and_word_starts_before_the_middle_of_a_name(
        self, session: Session, settings: Settings
    ) -> None:
        member(session, name="Omid Sarabi", email="o@example.com")
        member(session, name="Nasrin", email="sarah@example.com")
        member(session, name="Mosarrat", email="p@example.com")
        member(session, name="Sara Karimi", email="s@example.com")
        names = [f.name for f in pos.search(session, settings=settings, q="sar")]
        # Sara and Omid Sarabi start a word; Mosarrat has it inside; Nasrin only by email.
        assert names == ["Sara Karimi", "Omid Sarabi", "Mosarrat", "Nasrin"]

    def test_summary_greets_and_shows_what_the_cashier_needs(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=0)
        c = member(session, name="Sara Karimi", birthday={"day": 15, "month": 3})
        place(
            session,
            c,
            lines=[{"sku": "COF-1", "name": "Flat white", "quantity": 1, "unit_price": 5000}],
        )
        place(
            session,
            c,
            lines=[
                {"sku": "COF-1", "name": "Flat white", "quantity": 1, "unit_price": 500},
                {"sku": "CAK", "name": "Cake", "quantity": 1, "unit_price": 700},
            ],
        )
        deliver(session, settings)
        cheap = rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(name="Cookie", kind="gift", cost_points=40),
        )
        dear = rewards.create_reward(
            session, settings=settings, data=RewardCreate(name="Mug", kind="gift", cost_points=400)
        )
        summary = pos.summary(session, settings=settings, customer_id=c.id)
        assert summary.greeting_name == "Sara"
        assert summary.birthday_today
        assert summary.status.available == 62
        assert [(f.sku, f.times) for f in summary.favourites] == [("COF-1", 2), ("CAK", 1)]
        assert [(r.id, r.affordable) for r in summary.rewards] == [
            (cheap.id, True),
            (dear.id, False),
        ]


class TestRecordPurchase:
    def test_points_at_once_and_the_handler_adds_nothing(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        data = PosPurchase(customer_id=c.id, reference="till-0042", lines=[LINE])
        result = pos.record_purchase(session, settings=settings, data=data, by="cashier")
        assert (result.created, result.points, result.status.pending) == (True, 9, 9)
        again = pos.record_purchase(session, settings=settings, data=data, by="cashier")
        assert (again.created, again.order_id, again.status.pending) == (False, result.order_id, 9)
        deliver(session, settings)
        assert accrual.earned_by_order(session, result.order_id) == 9

    def test_a_customer_without_phone_or_email_cannot_buy_at_the_pos(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = member(session, phone=None, email=None, name="Just a name")
        with pytest.raises(Invalid):
            pos.record_purchase(
                session,
                settings=settings,
                data=PosPurchase(customer_id=c.id, reference="r", lines=[LINE]),
                by="c",
            )


class TestAttach:
    def _till_order(self, session: Session, number: str) -> Order:
        order, _ = orders.create_order(
            session,
            data=OrderCreate.model_validate(
                {
                    "source": "till",
                    "external_id": f"t-{number}",
                    "number": number,
                    "channel": "in_store",
                    "placed_at": "2026-03-15T11:00:00+00:00",
                    "currency": "USD",
                    "lines": [{"sku": "X", "name": "x", "quantity": 1, "unit_price": 1500}],
                }
            ),
            region="US",
        )
        return order

    def test_a_guest_till_order_is_claimed_by_number(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        order = self._till_order(session, "A-17")
        deliver(session, settings)
        c = member(session)
        result = pos.attach_order(
            session,
            settings=settings,
            data=PosAttach(customer_id=c.id, number="A-17"),
            by="cashier",
        )
        assert (result.order_id, result.points) == (order.id, 15)
        again = pos.attach_order(
            session,
            settings=settings,
            data=PosAttach(customer_id=c.id, number="A-17"),
            by="cashier",
        )
        assert again.status.pending == 15
        other = member(session)
        with pytest.raises(Conflict):
            pos.attach_order(
                session,
                settings=settings,
                data=PosAttach(customer_id=other.id, number="A-17"),
                by="c",
            )


class TestEnrol:
    def test_enrol_with_consent_and_a_friends_code(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        from wafa.loyalty import referrals

        set_rules(session, referral={"enabled": True, "referee_points": 30})
        friend = member(session)
        code = referrals.referral_code(session, settings=settings, customer_id=friend.id)
        summary = pos.enrol(
            session,
            settings=settings,
            data=PosEnrol(
                name="Neda Ahmadi",
                phone="202-555-0199",
                sms_consent=True,
                birthday=Birthday(day=1, month=1, calendar="jalali"),
                referral_code=code,
            ),
            by="cashier@cafe",
        )
        assert (summary.greeting_name, summary.phone) == ("Neda", "+12025550199")
        from wafa.customers.models import Customer

        created = session.get(Customer, summary.id)
        assert created is not None and created.sms_consent and created.birth_calendar == "jalali"
        assert (
            referrals.info(session, settings=settings, customer_id=summary.id).referred_by
            == friend.id
        )
