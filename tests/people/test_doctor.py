"""``wafa doctor``'s checks: merge cycles and what is stranded on merged records."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from tests.factories import create_customer, create_order
from wafa.customers.models import Customer
from wafa.people import service as people
from wafa.people.doctor import diagnose


class TestDiagnose:
    def test_a_clean_merge_is_healthy(self, session: Session) -> None:
        a = create_customer(session, phone="+14155550171")
        b = create_customer(session, phone="+14155550172")
        create_order(session, customer={"phone": "+14155550172"})
        people.merge_customers(session, winner_id=a.id, loser_id=b.id, merged_by="t")
        assert diagnose(session).problems == []

    def test_finds_a_cycle_and_the_orders_stranded_on_it(self, session: Session) -> None:
        # What two opposite merges left behind before merges locked both records.
        a = create_customer(session, phone="+14155550173")
        b = create_customer(session, phone="+14155550174")
        create_order(session, customer={"phone": "+14155550173"})
        session.execute(update(Customer).where(Customer.id == a.id).values(merged_into_id=b.id))
        session.execute(update(Customer).where(Customer.id == b.id).values(merged_into_id=a.id))
        found = diagnose(session)
        assert not found.healthy
        first, second = sorted([a.id, b.id])
        assert f"merge cycle (no live record left): {first} → {second} → {first}" in found.problems
        assert f"1 orders stranded on merged record {a.id}" in found.problems
