from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from tests.factories import create_customer, create_order
from wafa.core.errors import Conflict, Invalid
from wafa.people import queries
from wafa.people import service as lifecycle


class TestNextBirthday:
    def test_later_this_year(self, session: Session) -> None:
        customer = create_customer(session, birthday={"day": 10, "month": 5})
        assert queries.next_birthday(customer, date(2026, 3, 1)) == date(2026, 5, 10)

    def test_passed_means_next_year(self, session: Session) -> None:
        customer = create_customer(session, birthday={"day": 10, "month": 1})
        assert queries.next_birthday(customer, date(2026, 3, 1)) == date(2027, 1, 10)

    def test_today_is_today(self, session: Session) -> None:
        customer = create_customer(session, birthday={"day": 1, "month": 3})
        assert queries.next_birthday(customer, date(2026, 3, 1)) == date(2026, 3, 1)

    def test_29_february_outside_leap_years(self, session: Session) -> None:
        customer = create_customer(session, birthday={"day": 29, "month": 2})
        assert queries.next_birthday(customer, date(2026, 1, 1)) == date(2026, 2, 28)
        assert queries.next_birthday(customer, date(2027, 12, 1)) == date(2028, 2, 29)

    def test_jalali_birthday(self, session: Session) -> None:
        customer = create_customer(
            session, birthday={"day": 1, "month": 1, "calendar": "jalali"}
        )  # Nowruz
        assert queries.next_birthday(customer, date(2026, 3, 22)) == date(2027, 3, 21)

    def test_no_birthday(self, session: Session) -> None:
        assert queries.next_birthday(create_customer(session), date(2026, 1, 1)) is None


class TestCustomerProfile:
    def test_collects_history_and_spend(self, session: Session) -> None:
        customer = create_customer(
            session,
            email="profile@example.com",
            external_ids=[{"source": "shopify", "external_id": "42"}],
            consent=[{"channel": "email", "granted": True, "source": "test"}],
        )
        create_order(session, customer={"email": "profile@example.com"})
        profile = queries.customer_profile(session, customer.id, today=date(2026, 3, 15))
        assert profile.stats["orders"] == 1
        assert profile.spend == {"USD": 900}
        assert [(e.source, e.external_id) for e in profile.external_ids] == [("shopify", "42")]
        assert [c.channel for c in profile.consent] == ["email"]
        assert {entry["kind"] for entry in profile.timeline} >= {"order", "consent", "created"}


class TestMergeCandidates:
    def test_default_search_is_the_name_and_skips_itself(self, session: Session) -> None:
        keep = create_customer(session, name="Daniel Walker")
        twin = create_customer(session, name="Daniel Walker", email=None, phone="+15550100777")
        create_customer(session, name="Someone Else")
        found = queries.merge_candidates(session, keep.id, q=None)
        assert found.q == "Daniel Walker"
        assert [row.customer.id for row in found.rows] == [twin.id]


class TestMergePreview:
    def test_lists_the_fields_the_kept_record_gains(self, session: Session) -> None:
        keep = create_customer(session, name="Kept", email="kept@example.com")
        dup = create_customer(
            session,
            name="Dup",
            email=None,
            phone="+15550100888",
            city="Shiraz",
            birthday={"day": 3, "month": 4},
        )
        preview = queries.merge_preview(session, keep_id=keep.id, duplicate_id=dup.id)
        assert set(preview.fields_taken) == {"phone", "city", "birthday"}

    def test_same_record_is_invalid(self, session: Session) -> None:
        keep = create_customer(session)
        with pytest.raises(Invalid):
            queries.merge_preview(session, keep_id=keep.id, duplicate_id=keep.id)

    def test_already_merged_is_a_conflict(self, session: Session) -> None:
        keep, dup = create_customer(session), create_customer(session)
        lifecycle.merge_customers(session, winner_id=keep.id, loser_id=dup.id, merged_by="test")
        with pytest.raises(Conflict):
            queries.merge_preview(session, keep_id=keep.id, duplicate_id=dup.id)
