"""An erased customer: their addresses stay suppressed as keyed hashes, never in clear, so a
later import of the same person sends them nothing; messaging's data is in the export."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.messaging.helpers import queue, reload, subscriber
from wafa.app.domains import people_hooks
from wafa.messaging.models import Message, Suppression
from wafa.messaging.pipeline import Pipeline
from wafa.people import service as lifecycle


class TestErase:
    def test_the_address_is_kept_only_as_a_hash_and_a_returning_import_gets_nothing(
        self, session: Session, pipeline: Pipeline
    ) -> None:
        gone = subscriber(session, email="erase.me@example.com", phone="+15550142")
        sent = queue(session, gone, kind="transactional")
        pipeline.run_once()
        lifecycle.erase_customer(
            session,
            settings=pipeline.settings,
            hooks=people_hooks(),
            customer_id=gone.id,
            erased_by="test",
        )
        session.flush()
        entries = session.scalars(select(Suppression)).all()
        assert {(e.medium, e.reason, e.scope) for e in entries} == {
            ("email", "erased", "all"),
            ("phone", "erased", "all"),
        }
        assert all(e.address is None for e in entries)
        assert all("erase.me" not in (e.detail or "") + e.source for e in entries)
        assert reload(session, sent).to_address is None  # the log forgets the address too
        # The same person comes back with a shop import, consent and all.
        back = subscriber(session, email="Erase.Me@example.com")
        message = queue(session, back, kind="transactional", reason="order_confirmation")
        pipeline.run_once()
        assert reload(session, message).status_reason == "suppressed"

    def test_queued_messages_of_the_erased_are_skipped(
        self, session: Session, pipeline: Pipeline
    ) -> None:
        customer = subscriber(session)
        waiting = queue(session, customer)
        lifecycle.erase_customer(
            session,
            settings=pipeline.settings,
            hooks=people_hooks(),
            customer_id=customer.id,
            erased_by="test",
        )
        session.flush()
        stored = reload(session, waiting)
        assert (stored.status, stored.status_reason) == ("skipped", "customer_gone")


class TestExport:
    def test_messages_and_preferences_are_in_the_export(
        self, session: Session, pipeline: Pipeline
    ) -> None:
        customer = subscriber(session, email="export@example.com")
        queue(session, customer, kind="transactional")
        pipeline.run_once()
        data = lifecycle.export_customer(session, customer.id, hooks=people_hooks())
        [message] = data["messaging"]["messages"]
        assert message["to"] == "export@example.com" and message["status"] == "sent"
        assert session.scalar(select(Message.to_address)) == "export@example.com"
