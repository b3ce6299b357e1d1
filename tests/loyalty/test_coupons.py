from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import member
from wafa.core.errors import Conflict, Invalid
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import codes, coupons, service
from wafa.loyalty.coupons import CouponRejected
from wafa.loyalty.models import Coupon, CouponSource
from wafa.loyalty.schemas.io import CartLine, CouponCreate
from wafa.orders import service as orders
from wafa.orders.schemas import ProductCreate


def _campaign(session: Session, settings: Settings, **kw: Any) -> Coupon:
    values: dict[str, Any] = {"name": "Spring", "amount": 500}
    values.update(kw)
    return coupons.create_campaign(
        session, settings=settings, data=CouponCreate.model_validate(values), by="owner"
    )


def _use(session: Session, code: str, ref: str, customer: Any = None, subtotal: int = 2000) -> Any:
    return coupons.use(
        session, code=code, order_ref=ref, customer_id=customer, subtotal=subtotal, now=utcnow()
    )


class TestCodes:
    def test_generated_codes_avoid_look_alike_characters(self) -> None:
        made = {codes.generate() for _ in range(500)}
        assert len(made) == 500
        assert not set("".join(made)) & set("0O1I")

    def test_typed_codes_are_read_in_any_case_with_dashes_and_persian_digits(self) -> None:
        assert codes.normalize(" abcd-ef gh ") == "ABCDEFGH"
        assert codes.normalize("summer۲۵") == "SUMMER25"
        assert codes.display("ABCDEFGH") == "ABCD-EFGH"


class TestCampaign:
    def test_custom_code_is_stored_normalised_and_unique(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = _campaign(session, settings, code="welcome-25")
        assert c.code == "WELCOME25"
        with pytest.raises(Conflict):
            _campaign(session, settings, code="Welcome 25")

    def test_bad_custom_code_names_the_field(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        with pytest.raises(Invalid) as exc:
            _campaign(session, settings, code="no!")
        assert exc.value.errors[0][0] == ("code",)

    def test_usage_limit(self, session: Session, settings: Settings, clock: FrozenClock) -> None:
        c = _campaign(session, settings, max_uses=2)
        _use(session, c.code, "a")
        _use(session, c.code, "b")
        with pytest.raises(CouponRejected) as exc:
            _use(session, c.code, "c")
        assert exc.value.context["reason"] == "used_up"

    def test_per_customer_limit(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = _campaign(session, settings, max_uses=None, per_customer_limit=1)
        a, b = member(session), member(session)
        _use(session, c.code, "1", a.id)
        with pytest.raises(CouponRejected) as exc:
            _use(session, c.code, "2", a.id)
        assert exc.value.context["reason"] == "customer_limit"
        _use(session, c.code, "3", b.id)
        assert (
            coupons.validate(session, code=c.code, customer_id=None, subtotal=900).reason
            == "customer_required"
        )

    def test_minimum_order_and_expiry(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = _campaign(
            session,
            settings,
            min_order_amount=1500,
            expires_at=(utcnow() + timedelta(days=3)).isoformat(),
        )
        assert (
            coupons.validate(session, code=c.code, customer_id=None, subtotal=1499).reason
            == "minimum_order"
        )
        assert coupons.validate(session, code=c.code, customer_id=None, subtotal=1500).valid
        clock.advance(days=3)
        assert (
            coupons.validate(session, code=c.code, customer_id=None, subtotal=5000).reason
            == "expired"
        )

    def test_the_same_order_uses_a_coupon_once(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = _campaign(session, settings, max_uses=5)
        first = _use(session, c.code, "till-9")
        again = _use(session, c.code.lower(), "till-9")
        assert first.id == again.id
        assert coupons.get_coupon(session, c.code).uses == 1

    def test_void_stops_it(self, session: Session, settings: Settings, clock: FrozenClock) -> None:
        c = _campaign(session, settings)
        coupons.void(session, code=c.code, reason="typo", by="owner")
        assert (
            coupons.validate(session, code=c.code, customer_id=None, subtotal=900).reason
            == "voided"
        )


class TestDiscount:
    def test_fixed_never_exceeds_the_cart(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = _campaign(session, settings, amount=500)
        assert (
            coupons.validate(session, code=c.code, customer_id=None, subtotal=300).discount == 300
        )

    def test_percent_rounds_toward_zero(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = _campaign(session, settings, kind="discount_percent", amount=None, percent_bp=1250)
        assert (
            coupons.validate(session, code=c.code, customer_id=None, subtotal=999).discount == 124
        )

    def test_free_product_is_worth_its_price(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        orders.create_product(
            session, data=ProductCreate(sku="MUF", name="Muffin", price=350), default_currency="USD"
        )
        c = _campaign(session, settings, kind="free_product", amount=None, product_sku="MUF")
        assert (
            coupons.validate(session, code=c.code, customer_id=None, subtotal=2000).discount == 350
        )
        in_cart = coupons.validate(
            session,
            code=c.code,
            customer_id=None,
            subtotal=2000,
            lines=[CartLine(sku="MUF", unit_price=300)],
        )
        assert in_cart.discount == 300

    def test_personal_coupon_refuses_another_customer(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        owner, other = member(session), member(session)
        c = _campaign(session, settings, customer_id=str(owner.id))
        assert c.source == "compensation"
        result = service.validate_coupon(session, code=c.code, customer_id=other.id, subtotal=900)
        assert (result.valid, result.reason, result.message) == (
            False,
            "other_customer",
            "This coupon belongs to another customer.",
        )
        assert service.validate_coupon(
            session, code=c.code, customer_id=owner.id, subtotal=900
        ).valid


class TestIssueMany:
    """Many single-use coupons at once (a flow's step for a whole group): once per
    occasion, the same coupons as ``issue`` one by one, each usable once by its owner."""

    def test_once_per_occasion_and_each_usable_once_by_its_owner(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        people = [member(session) for _ in range(5)]
        now = utcnow()
        earlier = coupons.issue(
            session,
            source=CouponSource.campaign,
            name="Back",
            discount_kind="discount_percent",
            currency=settings.currency,
            now=now,
            customer_id=people[0].id,
            percent_bp=1000,
            occasion="back:0",
        )

        def grant() -> dict[str, Coupon]:
            return coupons.issue_many(
                session,
                source=CouponSource.campaign,
                name="Back",
                discount_kind="discount_percent",
                currency=settings.currency,
                now=now,
                grants=[(c.id, f"back:{n}") for n, c in enumerate(people)],
                percent_bp=1000,
                expires_at=now + timedelta(days=30),
                created_by="flow:test",
            )

        def issued_events() -> int:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(OutboxEvent)
                    .where(OutboxEvent.topic == "coupon.issued")
                )
                or 0
            )

        before = issued_events()
        first = grant()
        assert list(first) == [f"back:{n}" for n in range(5)]
        assert first["back:0"].id == earlier.id  # issued before: the same coupon
        assert [first[f"back:{n}"].customer_id for n in range(5)] == [c.id for c in people]
        assert len({c.code for c in first.values()}) == 5
        assert issued_events() == before + 4
        again = grant()
        assert {k: c.id for k, c in again.items()} == {k: c.id for k, c in first.items()}
        assert issued_events() == before + 4  # nothing issued twice, nothing announced twice
        assert session.scalar(select(func.count()).select_from(Coupon)) == 5

        coupon = first["back:3"]
        assert (coupon.max_uses, coupon.uses, coupon.percent_bp) == (1, 0, 1000)
        assert coupon.expires_at == now + timedelta(days=30)
        other = coupons.validate(session, code=coupon.code, customer_id=people[1].id, subtotal=2000)
        assert (other.valid, other.reason) == (False, "other_customer")
        mine = coupons.validate(session, code=coupon.code, customer_id=people[3].id, subtotal=2000)
        assert (mine.valid, mine.discount) == (True, 200)
        _use(session, coupon.code, "order-1", people[3].id)
        with pytest.raises(CouponRejected):
            _use(session, coupon.code, "order-2", people[3].id)
