from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import create_customer
from wafa.core.errors import Invalid
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import CalendarKind
from wafa.customers import service
from wafa.customers.models import ConsentRecord, Customer, CustomerExternalId
from wafa.customers.schemas import Birthday, ConsentIn, CustomerUpdate
from wafa.customers.service import Contact, CustomerConflict


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


class TestCreateCustomer:
    def test_normalises_contact_details_and_emits_event(self, session: Session) -> None:
        c = create_customer(session, email=" Sara@Example.com ", phone="(415) 555-0134")
        assert (c.email, c.phone) == ("sara@example.com", "+14155550134")
        topics = session.scalars(select(OutboxEvent.topic).where(OutboxEvent.subject_id == c.id))
        assert list(topics) == ["customer.created"]

    def test_email_on_file_is_a_conflict_not_a_duplicate(self, session: Session) -> None:
        create_customer(session, email="dup@example.com")
        with pytest.raises(CustomerConflict, match="dup@example.com"):
            create_customer(session, email="DUP@example.com")

    def test_bad_phone_names_the_field(self, session: Session) -> None:
        with pytest.raises(Invalid) as err:
            create_customer(session, phone="12")
        assert err.value.errors[0][0] == ("phone",)

    def test_jalali_birthday_30_esfand_is_valid(self, session: Session) -> None:
        c = create_customer(
            session, birthday=Birthday(day=30, month=12, calendar=CalendarKind.jalali)
        )
        assert (c.birth_day, c.birth_month, c.birth_calendar) == (30, 12, "jalali")
        assert c.birthday_set_at is not None

    def test_31_april_is_refused(self, session: Session) -> None:
        with pytest.raises(Invalid, match="birthday"):
            create_customer(session, birthday=Birthday(day=31, month=4))

    def test_consent_is_recorded_with_source(self, session: Session) -> None:
        c = create_customer(
            session, consent=[ConsentIn(channel="email", granted=True, source="signup form")]
        )
        assert c.email_consent is True
        rec = session.scalars(select(ConsentRecord).where(ConsentRecord.customer_id == c.id)).one()
        assert (rec.channel, rec.granted, rec.source) == ("email", True, "signup form")


class TestUpdateCustomer:
    def test_changing_the_birthday_restarts_its_clock(self, session: Session, clock) -> None:  # type: ignore[no-untyped-def]
        c = create_customer(session, birthday=Birthday(day=1, month=5))
        first = c.birthday_set_at
        clock.advance(days=3)
        service.update_customer(
            session,
            customer_id=c.id,
            data=CustomerUpdate(birthday=Birthday(day=2, month=5)),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        assert c.birthday_set_at is not None and first is not None and c.birthday_set_at > first

    def test_taking_another_customers_phone_is_a_conflict(self, session: Session) -> None:
        create_customer(session, phone="+14155550100")
        b = create_customer(session)
        with pytest.raises(CustomerConflict):
            service.update_customer(
                session,
                customer_id=b.id,
                data=CustomerUpdate(phone="415 555 0100"),
                region="US",
                calendar=CalendarKind.gregorian,
            )


class TestResolveContacts:
    def test_matches_by_email_then_phone_and_enriches(self, session: Session) -> None:
        known = create_customer(session, email="a@example.com", phone=None)
        res = service.resolve_contacts(
            session, [Contact(email="a@example.com", phone="+14155550199")], source="pos"
        )
        assert res.customer_ids == [known.id] and res.created == []
        session.refresh(known)
        assert known.phone == "+14155550199"

    def test_phone_only_then_email_only_then_both_is_one_person(self, session: Session) -> None:
        res = service.resolve_contacts(
            session,
            [
                Contact(phone="+14155550111", name="Reza"),
                Contact(email="reza@example.com", phone="+14155550111"),
                Contact(email="reza@example.com"),
            ],
            source="test",
        )
        assert len(set(res.customer_ids)) == 1 and len(res.created) == 1

    def test_two_people_who_share_nothing_stay_two(self, session: Session) -> None:
        res = service.resolve_contacts(
            session,
            [
                Contact(name="Ali Rezaei", email="ali1@example.com"),
                Contact(name="Ali Rezaei", email="ali2@example.com"),
            ],
            source="test",
        )
        assert len(set(res.customer_ids)) == 2

    def test_guest_without_contact_details_gets_no_customer(self, session: Session) -> None:
        before = count(session, Customer)
        res = service.resolve_contacts(session, [Contact(name="Walk-in")], source="test")
        assert res.customer_ids == [None] and count(session, Customer) == before

    def test_email_and_phone_of_two_records_picks_email_and_flags_it(
        self, session: Session
    ) -> None:
        by_email = create_customer(session, email="e@example.com", phone=None)
        by_phone = create_customer(session, email=None, phone="+14155550122", name="P")
        res = service.resolve_contacts(
            session, [Contact(email="e@example.com", phone="+14155550122")], source="t"
        )
        assert res.customer_ids == [by_email.id]
        assert res.ambiguous and res.ambiguous[0][0] == 0
        session.refresh(by_phone)
        assert by_phone.phone == "+14155550122"  # left where it was

    def test_external_id_wins_and_is_recorded_once(self, session: Session) -> None:
        first = service.resolve_contacts(
            session,
            [Contact(email="x@example.com", external_source="shopify", external_id="42")],
            source="shopify",
        )
        again = service.resolve_contacts(
            session,
            [Contact(email="changed@example.com", external_source="shopify", external_id="42")],
            source="shopify",
        )
        assert first.customer_ids == again.customer_ids
        ext = session.scalars(
            select(CustomerExternalId).where(CustomerExternalId.external_id == "42")
        ).all()
        assert len(ext) == 1

    def test_opt_in_becomes_consent_with_source_and_time(self, session: Session) -> None:
        at = datetime(2025, 10, 7, 7, 50, tzinfo=UTC)
        res = service.resolve_contacts(
            session,
            [
                Contact(
                    email="m@example.com",
                    email_opt_in=True,
                    consent_source="shopify import",
                    seen_at=at,
                )
            ],
            source="shopify",
        )
        cid = res.customer_ids[0]
        customer = session.get(Customer, cid)
        assert customer is not None
        session.refresh(customer)
        assert customer.email_consent is True
        rec = session.scalars(select(ConsentRecord).where(ConsentRecord.customer_id == cid)).one()
        assert (rec.source, rec.recorded_at) == ("shopify import", at)

    def test_older_opt_in_does_not_override_a_newer_withdrawal(self, session: Session) -> None:
        c = create_customer(session, email="w@example.com")
        service.record_consent(
            session,
            customer=c,
            consent=ConsentIn(channel="email", granted=False, source="unsubscribe link"),
            at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        service.resolve_contacts(
            session,
            [
                Contact(
                    email="w@example.com",
                    email_opt_in=True,
                    seen_at=datetime(2025, 6, 1, tzinfo=UTC),
                )
            ],
            source="import",
        )
        session.refresh(c)
        assert c.email_consent is False


class TestSearch:
    def test_finds_by_persian_name_typed_with_arabic_letters(self, session: Session) -> None:
        c = create_customer(session, name="علی کریمی", email="ali.k@example.com")
        found, _ = service.search_customers(session, q="علي كريمي")
        assert c.id in [x.id for x in found]

    def test_finds_by_local_phone_digits(self, session: Session) -> None:
        c = create_customer(session, phone="+14155550177")
        found, _ = service.search_customers(session, q="555-0177")
        assert [x.id for x in found] == [c.id]

    def test_pages_with_a_cursor_without_gaps_or_repeats(self, session: Session) -> None:
        made = {create_customer(session, name=f"Pager {i}").id for i in range(7)}
        seen: list[object] = []
        cursor = None
        while True:
            page, cursor = service.search_customers(session, q="Pager", limit=3, cursor=cursor)
            seen.extend(c.id for c in page)
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 7 and set(seen) == made

    def test_damaged_cursor_is_invalid(self, session: Session) -> None:
        with pytest.raises(Invalid, match="cursor"):
            service.search_customers(session, cursor="!!!")


class TestBirthYears:
    def test_jalali_birth_year_is_kept(self, session: Session) -> None:
        c = create_customer(
            session, birthday=Birthday(day=17, month=5, year=1368, calendar=CalendarKind.jalali)
        )
        assert (c.birth_year, c.birth_calendar) == (1368, "jalali")

    def test_a_jalali_year_written_as_gregorian_is_refused(self, session: Session) -> None:
        with pytest.raises(Invalid) as err:
            create_customer(session, birthday=Birthday(day=17, month=5, year=1368))
        assert err.value.errors[0][0] == ("birthday", "year")

    def test_29_february_needs_a_leap_year(self, session: Session) -> None:
        assert create_customer(session, birthday=Birthday(day=29, month=2, year=2000)).birth_year
        with pytest.raises(Invalid, match="29/2/2001"):
            create_customer(session, birthday=Birthday(day=29, month=2, year=2001))

    def test_30_esfand_needs_a_jalali_leap_year(self, session: Session) -> None:
        kind = CalendarKind.jalali
        assert create_customer(
            session, birthday=Birthday(day=30, month=12, year=1403, calendar=kind)
        )
        with pytest.raises(Invalid, match="30/12/1404"):
            create_customer(session, birthday=Birthday(day=30, month=12, year=1404, calendar=kind))
