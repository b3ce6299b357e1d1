from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer, create_order
from tests.web.helpers import html_attrs, logged_in, post_form
from wafa.auth.models import Role
from wafa.customers import service as customers
from wafa.customers.models import CustomerMerge
from wafa.orders.models import Order


class TestCustomerList:
    def test_lists_customers_with_their_orders(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        customer = create_customer(session, name="Leila Haddad", email="leila@example.com")
        create_order(session, customer={"email": "leila@example.com"})
        page = client.get("/customers")
        assert page.status_code == 200
        assert "Leila Haddad" in page.text
        assert f'href="/customers/{customer.id}"' in page.text
        assert "$9.00" in page.text  # 2 × 450 minor units

    def test_search_by_name(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        create_customer(session, name="Omid Rahimi")
        create_customer(session, name="Sara Walker")
        page = client.get("/customers", params={"q": "omid"}).text
        assert "Omid Rahimi" in page
        assert "Sara Walker" not in page

    def test_search_persian_name_with_arabic_letters(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session)
        create_customer(session, name="علی کریمی")
        page = client.get("/customers", params={"q": "علي"}).text  # Arabic yeh
        assert "علی کریمی" in page

    def test_search_by_phone_digits(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        create_customer(session, name="Phone Person", phone="+15550123456", email=None)
        page = client.get("/customers", params={"q": "0123456"}).text
        assert "Phone Person" in page

    def test_no_match_says_so(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        page = client.get("/customers", params={"q": "zzzz-nobody"}).text
        assert "No customer matches" in page

    def test_pages_follow_the_next_link(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        names = [f"Paged Person {i:02d}" for i in range(30)]
        for name in names:
            create_customer(session, name=name)
        first = client.get("/customers", params={"q": "Paged Person"}).text
        # The list pages by number (page=, linkable with its sort and filters).
        following = re.search(
            r'<a[^>]*rel="next"[^>]*href="([^"]+)"|<a[^>]*href="([^"]+)"[^>]*rel="next"', first
        )
        assert following is not None
        second = client.get(html.unescape(following.group(1) or following.group(2))).text
        shown = [n for n in names if n in first] + [n for n in names if n in second]
        assert sorted(shown) == names  # every customer once, across the two pages

    def test_cashier_may_search(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier)
        assert client.get("/customers").status_code == 200


class TestCustomerProfile:
    def test_shows_details_and_order_timeline(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        customer = create_customer(
            session,
            name="Maryam Nasser",
            email="maryam@example.com",
            phone="+15550100222",
            tags=["vip"],
            birthday={"day": 29, "month": 2},
        )
        order = create_order(session, number="#1042", customer={"email": "maryam@example.com"})
        page = client.get(f"/customers/{customer.id}").text
        assert "Maryam Nasser" in page
        assert '<bdi dir="ltr" class="ltr">maryam@example.com</bdi>' in page
        assert "+1 555-010-0222" in page
        assert "vip" in page
        assert "29 February" in page
        assert f'href="/orders/{order.id}"' in page
        assert "#1042" in page

    def test_birthday_in_its_own_calendar(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        customer = create_customer(
            session, name="Jalali Birthday", birthday={"day": 15, "month": 7, "calendar": "jalali"}
        )
        page = client.get(f"/customers/{customer.id}").text
        assert "15 Mehr" in page

    def test_persian_profile_shows_jalali_order_dates(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, locale="fa")
        customer = create_customer(session, name="رضا احمدی", email="reza@example.com")
        create_order(
            session,
            customer={"email": "reza@example.com"},
            placed_at=datetime(2026, 3, 21, 9, 0, tzinfo=UTC).isoformat(),
        )
        page = client.get(f"/customers/{customer.id}").text
        assert html_attrs(page)["dir"] == "rtl"
        assert "۱ فروردین ۱۴۰۵" in page

    def test_merged_record_redirects_to_the_survivor(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session)
        keep, dup = create_customer(session), create_customer(session)
        post_form(client, f"/customers/{keep.id}/merge", {"other_id": str(dup.id)})
        response = client.get(f"/customers/{dup.id}", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/customers/{keep.id}"


class TestProfileHistory:
    def test_the_history_is_paginated_and_every_order_is_on_a_page(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session)
        customer = create_customer(session, email="many@example.com")
        for n in range(30):
            create_order(
                session,
                number=f"#{5000 + n}",
                placed_at=datetime(2025, 1, 1 + n % 28, 9, n, tzinfo=UTC).isoformat(),
                customer={"email": "many@example.com"},
            )
        first = client.get(f"/customers/{customer.id}").text
        second = client.get(f"/customers/{customer.id}?history=2").text
        shown = [re.findall(r"#(50\d\d)</bdi>", page) for page in (first, second)]
        assert first.count('<li class="tl-item') == 25  # a page: "added to Wafa" and 24 orders
        assert sorted(shown[0] + shown[1]) == [str(5000 + n) for n in range(30)]
        assert 'rel="next"' in first and "history=2" in first
        assert 'rel="prev"' in second and 'rel="next"' not in second


class TestCreateCustomer:
    def test_creates_with_consent(self, client: TestClient, session: Session) -> None:
        user = logged_in(client, session)
        response = post_form(
            client,
            "/customers/new",
            {
                "name": "New Person",
                "email": "NEW@example.com",
                "phone": "+15550100333",
                "tags": "vip، wholesale, vip",
                "birth_day": "۵",
                "birth_month": "3",
                "birth_calendar": "gregorian",
                "email_consent": "yes",
            },
        )
        assert response.status_code == 303
        found, _ = customers.search_customers(session, q="new person")
        assert len(found) == 1
        created = found[0]
        assert response.headers["location"] == f"/customers/{created.id}"
        assert created.email == "new@example.com"
        assert created.tags == ["vip", "wholesale"]
        assert (created.birth_day, created.birth_month) == (5, 3)
        assert created.email_consent is True
        assert created.sms_consent is False
        history = client.get(f"/customers/{created.id}").text
        assert f"staff:{user.email}" in history  # the consent source names who recorded it

    def test_nothing_to_know_them_by_is_refused(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        response = post_form(client, "/customers/new", {"city": "Shiraz"})
        assert response.status_code == 422
        assert "Give at least a name, an email address or a phone number." in response.text
        assert 'value="Shiraz"' in response.text  # what was typed is kept

    def test_bad_email_is_shown_next_to_the_field(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, locale="fa")
        response = post_form(client, "/customers/new", {"name": "X", "email": "not-an-email"})
        assert response.status_code == 422
        assert "یک ایمیل درست وارد کنید" in response.text
        assert customers.search_customers(session, q="not-an-email")[0] == []


class TestEditCustomer:
    def test_saves_changes(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        customer = create_customer(session, name="Old Name", email="edit@example.com")
        form = client.get(f"/customers/{customer.id}/edit").text
        assert 'value="Old Name"' in form
        response = post_form(
            client,
            f"/customers/{customer.id}/edit",
            {
                "name": "New Name",
                "email": "edit@example.com",
                "city": "Tabriz",
                "birth_day": "1",
                "birth_month": "1",
                "birth_calendar": "jalali",
            },
        )
        assert response.status_code == 303
        session.refresh(customer)
        assert (customer.name, customer.city) == ("New Name", "Tabriz")
        assert (customer.birth_day, customer.birth_month, customer.birth_calendar) == (
            1,
            1,
            "jalali",
        )

    def test_email_of_another_customer_is_a_conflict(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session)
        other = create_customer(session, email="taken@example.com")
        customer = create_customer(session, name="Keeps Email", email="mine@example.com")
        response = post_form(
            client,
            f"/customers/{customer.id}/edit",
            {"name": "Keeps Email", "email": "taken@example.com"},
        )
        assert response.status_code == 409
        assert "Another customer already has this." in response.text
        assert f'href="/customers/{other.id}"' in response.text
        session.refresh(customer)
        assert customer.email == "mine@example.com"

    def test_day_without_month_is_refused(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        customer = create_customer(session, name="Half Birthday")
        response = post_form(
            client, f"/customers/{customer.id}/edit", {"name": "Half Birthday", "birth_day": "4"}
        )
        assert response.status_code == 422
        session.refresh(customer)
        assert customer.birth_day is None

    def test_impossible_day_in_the_calendar_is_refused(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session)
        customer = create_customer(session, name="Esfand")
        response = post_form(
            client,
            f"/customers/{customer.id}/edit",
            {"name": "Esfand", "birth_day": "31", "birth_month": "12", "birth_calendar": "jalali"},
        )
        assert response.status_code == 422
        assert "This day does not exist in the chosen calendar." in response.text


class TestConsent:
    def test_withdraw_and_record_again(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        customer = create_customer(session, name="Consenting")
        post_form(
            client, f"/customers/{customer.id}/consent", {"channel": "sms", "granted": "true"}
        )
        session.refresh(customer)
        assert customer.sms_consent is True
        post_form(
            client, f"/customers/{customer.id}/consent", {"channel": "sms", "granted": "false"}
        )
        session.refresh(customer)
        assert customer.sms_consent is False


class TestMerge:
    def test_search_shows_candidates_but_not_itself(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.manager)
        keep = create_customer(session, name="Nadia Saleh", email="nadia@example.com")
        dup = create_customer(session, name="Nadia Saleh", email=None, phone="+15550100444")
        page = client.get(f"/customers/{keep.id}/merge").text  # searches the name by default
        assert f"/customers/{keep.id}/merge/{dup.id}" in page
        assert f"/customers/{keep.id}/merge/{keep.id}" not in page

    def test_confirm_page_shows_what_moves(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        keep = create_customer(session, name="Keep Me", email="keep@example.com")
        dup = create_customer(session, name="Keep Me", email=None, phone="+15550100555")
        create_order(session, customer={"phone": "+15550100555"})
        page = client.get(f"/customers/{keep.id}/merge/{dup.id}").text
        assert "1 order moves to the kept record." in page
        assert "Phone" in page  # the kept record gains the phone
        assert 'data-confirm="Merge these two records? This cannot be undone."' in page

    def test_merge_moves_orders_and_records_who(self, client: TestClient, session: Session) -> None:
        user = logged_in(client, session, role=Role.manager)
        keep = create_customer(session, name="Winner", email="winner@example.com")
        dup = create_customer(session, name="Loser", email=None, phone="+15550100666")
        order = create_order(session, customer={"phone": "+15550100666"})
        response = post_form(client, f"/customers/{keep.id}/merge", {"other_id": str(dup.id)})
        assert response.status_code == 303
        assert response.headers["location"] == f"/customers/{keep.id}"
        session.refresh(keep)
        assert session.get(Order, order.id, populate_existing=True).customer_id == keep.id  # type: ignore[union-attr]
        assert keep.phone == "+15550100666"
        merge = session.query(CustomerMerge).filter_by(winner_id=keep.id).one()
        assert merge.merged_by == f"staff:{user.email}"
        page = client.get(response.headers["location"]).text
        assert "Records merged." in page
        assert "A duplicate record was merged into this one" in page

    def test_cashier_cannot_merge(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier)
        keep, dup = create_customer(session), create_customer(session)
        response = post_form(client, f"/customers/{keep.id}/merge", {"other_id": str(dup.id)})
        assert response.status_code == 403
        session.refresh(dup)
        assert dup.merged_into_id is None

    def test_merge_into_itself_is_refused(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        keep = create_customer(session)
        response = client.get(f"/customers/{keep.id}/merge/{keep.id}")
        assert response.status_code == 422


class TestExport:
    def test_owner_downloads_json(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.owner)
        customer = create_customer(session, name="مریم رضایی", email="export@example.com")
        create_order(session, customer={"email": "export@example.com"})
        response = client.get(f"/customers/{customer.id}/export")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert "attachment" in response.headers["content-disposition"]
        data = json.loads(response.content)
        assert data["customer"]["name"] == "مریم رضایی"
        assert len(data["orders"]) == 1
        assert "مریم رضایی".encode() in response.content  # readable UTF-8, not \u escapes

    def test_manager_may_not_export(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        customer = create_customer(session)
        assert client.get(f"/customers/{customer.id}/export").status_code == 403


class TestErase:
    def test_requires_the_owner(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        customer = create_customer(session, name="Not Erased")
        response = post_form(client, f"/customers/{customer.id}/erase", {"confirm": "yes"})
        assert response.status_code == 403
        session.refresh(customer)
        assert customer.erased_at is None

    def test_requires_the_confirmation_box(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.owner)
        customer = create_customer(session, name="Still Here")
        response = post_form(client, f"/customers/{customer.id}/erase", {})
        assert response.status_code == 422
        assert "Tick the box to confirm." in response.text
        session.refresh(customer)
        assert customer.erased_at is None

    def test_owner_erases_and_totals_stay(
        self, client: TestClient, session: Session, clock: FrozenClock
    ) -> None:
        logged_in(client, session, role=Role.owner)
        customer = create_customer(session, name="Forget Me", email="forget@example.com")
        order = create_order(session, customer={"email": "forget@example.com"})
        confirm = client.get(f"/customers/{customer.id}/erase").text
        assert "This cannot be undone." in confirm
        response = post_form(client, f"/customers/{customer.id}/erase", {"confirm": "yes"})
        assert response.status_code == 303
        session.refresh(customer)
        assert customer.erased_at is not None
        assert customer.name is None
        stored = session.get(Order, order.id, populate_existing=True)
        assert stored is not None
        assert (stored.total_amount, stored.contact_email) == (900, None)
        page = client.get(f"/customers/{customer.id}").text
        assert "Forget Me" not in page
        assert "personal data was erased on" in page
