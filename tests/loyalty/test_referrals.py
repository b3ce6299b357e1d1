from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import deliver, events_of, member, place, refund, set_rules
from wafa.core.errors import Invalid
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import referrals, service
from wafa.loyalty.models import ReferralStatus
from wafa.loyalty.referrals import AlreadyReferred

PROGRAM: dict[str, Any] = {
    "enabled": True,
    "referee_points": 50,
    "referrer_points": 100,
    "max_per_period": 3,
    "period_days": 30,
}


def _setup(session: Session, settings: Settings, **kw: Any) -> tuple[Any, str]:
    set_rules(session, pending_days=14, referral={**PROGRAM, **kw})
    referrer = member(session, name="Sara Karimi")
    code = referrals.referral_code(session, settings=settings, customer_id=referrer.id)
    return referrer, code


def _points(session: Session, settings: Settings, cid: Any) -> tuple[int, int]:
    s = service.status(session, settings=settings, customer_id=cid)
    return s.available, s.pending


def _pay_due(session: Session, settings: Settings) -> None:
    while referrals.pay_due_batch(session, settings=settings, now=utcnow()):
        pass


class TestCodeAndLink:
    def test_each_member_has_one_code_and_a_link(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        _, code = _setup(session, settings, link_base="https://cafe.example/?ref=")
        sara = referrals._referrer_for(session, code)
        info = referrals.info(session, settings=settings, customer_id=sara)
        assert info.code == code
        assert info.link == f"https://cafe.example/?ref={code}"
        assert referrals.referral_code(session, settings=settings, customer_id=sara) == code
        assert not set(code) & set("0O1I")


class TestHappyPath:
    def test_friend_rewarded_on_first_order_referrer_after_the_pending_period(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        referrer, code = _setup(session, settings)
        friend = member(session)
        referrals.apply_code(session, settings=settings, referee_id=friend.id, code=code.lower())
        place(session, friend)
        deliver(session, settings)
        assert _points(session, settings, friend.id) == (50, 10)
        assert _points(session, settings, referrer.id) == (0, 0)
        clock.advance(days=13)
        _pay_due(session, settings)
        assert _points(session, settings, referrer.id) == (0, 0)
        clock.advance(days=1)
        _pay_due(session, settings)
        _pay_due(session, settings)
        assert _points(session, settings, referrer.id) == (100, 0)
        sides = sorted(e.payload["side"] for e in events_of(session, "referral.rewarded"))
        assert sides == ["referee", "referrer"]
        stats = referrals.stats(session, referrer.id)
        assert (stats.invited, stats.rewarded, stats.points_earned) == (1, 1, 100)

    def test_code_on_the_first_order_links_the_friend(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        _, code = _setup(session, settings)
        friend = member(session)
        place(session, friend, attributes={"referral_code": code})
        deliver(session, settings)
        assert _points(session, settings, friend.id) == (50, 10)

    def test_a_friend_is_referred_once(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        _, code = _setup(session, settings)
        other = member(session)
        other_code = referrals.referral_code(session, settings=settings, customer_id=other.id)
        friend = member(session)
        referrals.apply_code(session, settings=settings, referee_id=friend.id, code=code)
        referrals.apply_code(session, settings=settings, referee_id=friend.id, code=code)
        with pytest.raises(AlreadyReferred):
            referrals.apply_code(session, settings=settings, referee_id=friend.id, code=other_code)

    def test_no_self_referral(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        referrer, code = _setup(session, settings)
        with pytest.raises(Invalid):
            referrals.apply_code(session, settings=settings, referee_id=referrer.id, code=code)


class TestFraudChecks:
    def test_same_phone_goes_to_review_and_pays_nothing(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        referrer, code = _setup(session, settings)
        friend = member(session, phone=None, email="twin@example.com", address="12 Rose St")
        session.get(type(referrer), referrer.id).address = "12  rose st"  # type: ignore[union-attr]
        referrals.apply_code(session, settings=settings, referee_id=friend.id, code=code)
        place(session, friend)
        deliver(session, settings)
        [held] = referrals.list_referrals(session, status="review")[0]
        assert held.flags == ["same_contact"]
        assert _points(session, settings, friend.id) == (0, 10)

    def test_an_old_customer_is_not_new(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        _, code = _setup(session, settings, new_customer_days=1)
        friend = member(session)
        clock.advance(days=5)
        ref = referrals.apply_code(session, settings=settings, referee_id=friend.id, code=code)
        assert ref.flags == ["not_new"]

    def test_too_many_referrals_in_the_period(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        _, code = _setup(session, settings)
        friends = [member(session) for _ in range(4)]
        for f in friends:
            referrals.apply_code(session, settings=settings, referee_id=f.id, code=code)
        for f in friends:
            place(session, f)
        deliver(session, settings)
        statuses = [r.status for r in referrals.list_referrals(session, limit=10)[0]]
        assert statuses.count(ReferralStatus.review) == 4

    def test_refunded_first_order_holds_the_referrer_reward(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        referrer, code = _setup(session, settings)
        friend = member(session)
        referrals.apply_code(session, settings=settings, referee_id=friend.id, code=code)
        o = place(session, friend)
        deliver(session, settings)
        refund(session, o)
        deliver(session, settings)
        clock.advance(days=15)
        _pay_due(session, settings)
        [held] = referrals.list_referrals(session, status="review")[0]
        assert "refunded" in held.flags
        assert _points(session, settings, referrer.id) == (0, 0)


class TestReview:
    def _held(self, session: Session, settings: Settings) -> tuple[Any, Any, Any]:
        referrer, code = _setup(session, settings)
        friend = member(session)
        clock_ref = referrals.apply_code(
            session, settings=settings, referee_id=friend.id, code=code
        )
        clock_ref.flags = ["same_contact"]
        place(session, friend)
        deliver(session, settings)
        return referrer, friend, clock_ref

    def test_approve_pays_both_sides_once(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        referrer, friend, ref = self._held(session, settings)
        referrals.approve(
            session, settings=settings, referral_id=ref.id, by="owner", note="cousins, fine"
        )
        referrals.approve(session, settings=settings, referral_id=ref.id, by="owner")
        assert _points(session, settings, friend.id)[0] == 50
        assert _points(session, settings, referrer.id)[0] == 100
        assert ref.reviewed_by == "owner"

    def test_reject_pays_nothing(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        referrer, _friend, ref = self._held(session, settings)
        referrals.reject(session, referral_id=ref.id, by="owner", note="same person")
        clock.advance(days=30)
        _pay_due(session, settings)
        assert _points(session, settings, referrer.id) == (0, 0)
        assert ref.status == ReferralStatus.rejected
        assert timedelta(0) <= utcnow() - ref.created_at
