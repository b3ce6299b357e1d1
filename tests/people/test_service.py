from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import create_customer, create_order
from wafa.app.domains import people_hooks
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.customers import service
from wafa.customers.models import ConsentRecord, CustomerExternalId, CustomerMerge
from wafa.customers.schemas import ConsentIn, ExternalIdIn
from wafa.orders import service as orders
from wafa.people import service as lifecycle


class TestMergeCustomers:
    def test_moves_orders_consent_and_external_ids_with_an_audit(self, session: Session) -> None:
        winner = create_customer(session, email="w@example.com", phone=None)
        loser = create_customer(
            session,
            email=None,
            phone="+14155550150",
            external_ids=[ExternalIdIn(source="pos", external_id="card-9")],
            consent=[ConsentIn(channel="sms", granted=True, source="till")],
        )
        order = create_order(session, customer={"phone": "+14155550150"})
        assert order.customer_id == loser.id

        merge = lifecycle.merge_customers(
            session, winner_id=winner.id, loser_id=loser.id, merged_by="staff:owner@x"
        )

        assert orders.get_order(session, order.id).customer_id == winner.id
        assert winner.phone == "+14155550150" and winner.sms_consent is True
        assert loser.merged_into_id == winner.id and loser.phone is None
        ext = session.scalars(select(CustomerExternalId.customer_id)).all()
        assert set(ext) == {winner.id}
        consent_owner = session.scalars(select(ConsentRecord.customer_id)).all()
        assert set(consent_owner) == {winner.id}
        audit = session.get(CustomerMerge, merge.id)
        assert audit is not None and audit.merged_by == "staff:owner@x"
        assert audit.details["orders_moved"] == 1
        events = session.scalars(
            select(OutboxEvent.topic).where(OutboxEvent.topic == "customer.merged")
        ).all()
        assert events == ["customer.merged"]

    def test_later_orders_from_the_old_phone_land_on_the_winner(self, session: Session) -> None:
        winner = create_customer(session, email="w2@example.com", phone=None)
        loser = create_customer(session, email=None, phone="+14155550151")
        lifecycle.merge_customers(session, winner_id=winner.id, loser_id=loser.id, merged_by="t")
        later = create_order(session, customer={"phone": "+14155550151"})
        assert later.customer_id == winner.id

    def test_merging_twice_is_a_conflict(self, session: Session) -> None:
        a, b = create_customer(session), create_customer(session)
        lifecycle.merge_customers(session, winner_id=a.id, loser_id=b.id, merged_by="t")
        with pytest.raises(Conflict, match="already merged"):
            lifecycle.merge_customers(session, winner_id=a.id, loser_id=b.id, merged_by="t")

    def test_merging_into_itself_is_invalid(self, session: Session) -> None:
        a = create_customer(session)
        with pytest.raises(Invalid):
            lifecycle.merge_customers(session, winner_id=a.id, loser_id=a.id, merged_by="t")

    def test_merging_into_a_merged_record_is_refused(self, session: Session) -> None:
        a, b, c = create_customer(session), create_customer(session), create_customer(session)
        lifecycle.merge_customers(session, winner_id=b.id, loser_id=a.id, merged_by="t")
        with pytest.raises(Conflict, match="merge into that record"):
            lifecycle.merge_customers(session, winner_id=a.id, loser_id=c.id, merged_by="t")
        assert c.merged_into_id is None

    def test_the_opposite_merge_after_a_merge_is_refused(self, session: Session) -> None:
        a, b = create_customer(session), create_customer(session)
        lifecycle.merge_customers(session, winner_id=b.id, loser_id=a.id, merged_by="t")
        with pytest.raises(Conflict):
            lifecycle.merge_customers(session, winner_id=a.id, loser_id=b.id, merged_by="t")
        assert b.merged_into_id is None and a.merged_into_id == b.id

    def test_a_merged_record_resolves_to_the_winner(self, session: Session) -> None:
        a, b = create_customer(session), create_customer(session)
        lifecycle.merge_customers(session, winner_id=a.id, loser_id=b.id, merged_by="t")
        assert service.get_live_customer(session, b.id).id == a.id


class TestExportAndErase:
    def test_export_holds_profile_orders_and_consent_as_json(self, session: Session) -> None:
        c = create_customer(
            session,
            name="Maryam Ahmadi",
            email="maryam@example.com",
            consent=[ConsentIn(channel="email", granted=True, source="form")],
        )
        create_order(session, customer={"email": "maryam@example.com"})
        data = lifecycle.export_customer(session, c.id, hooks=people_hooks())
        json.dumps(data)  # JSON-ready
        assert data["customer"]["email"] == "maryam@example.com"
        assert len(data["orders"]) == 1 and data["orders"][0]["lines"]
        assert data["consent_history"][0]["source"] == "form"

    def test_erase_removes_personal_data_and_keeps_order_totals(
        self, session: Session, settings: Settings
    ) -> None:
        c = create_customer(
            session, name="Erase Me", email="erase@example.com", phone="+14155550160"
        )
        order = create_order(session, customer={"email": "erase@example.com"})
        total = order.total_amount
        lifecycle.erase_customer(
            session, settings=settings, hooks=people_hooks(), customer_id=c.id, erased_by="cli"
        )
        data = lifecycle.export_customer(session, c.id, hooks=people_hooks())
        assert data["customer"]["name"] is None and data["customer"]["email"] is None
        assert data["customer"]["phone"] is None and data["customer"]["erased_at"]
        kept = orders.get_order(session, order.id)
        assert kept.total_amount == total and kept.customer_id == c.id
        assert kept.contact_email is None and kept.contact_name is None
        assert "erase@example.com" not in json.dumps(data)

    def test_erased_customer_is_not_live_and_new_orders_make_a_new_record(
        self, session: Session, settings: Settings
    ) -> None:
        c = create_customer(session, email="gone@example.com")
        lifecycle.erase_customer(
            session, settings=settings, hooks=people_hooks(), customer_id=c.id, erased_by="t"
        )
        with pytest.raises(NotFound):
            service.get_live_customer(session, c.id)
        again = create_order(session, customer={"email": "gone@example.com"})
        assert again.customer_id not in (None, c.id)
