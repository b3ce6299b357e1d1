"""Possible duplicates: an order that names two customers is recorded, not dropped; the daily
scan finds one mailbox written two ways and a name with its phone; the owner merges in one
click (the audited merge) or keeps them apart for good."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import create_customer, create_order
from tests.web.helpers import csrf_token, logged_in
from wafa.auth.models import Role
from wafa.customers import duplicates
from wafa.customers.models import Customer, CustomerMerge, PossibleDuplicate


def _pairs(session: Session) -> list[tuple[str, str]]:
    return [(p.reason, p.status) for p in session.scalars(select(PossibleDuplicate))]


def test_an_order_naming_two_customers_is_queued_once(session: Session) -> None:
    create_customer(session, phone="+12025550101", name="Sara", email=None)
    create_customer(session, email="sara@example.com")
    for number in ("#1", "#2"):
        create_order(
            session,
            external_id=number,
            customer={"email": "sara@example.com", "phone": "+12025550101", "name": "Sara"},
        )
    assert _pairs(session) == [("contact_clash", "open")]


def test_the_scan_finds_one_mailbox_and_a_name_with_its_phone(session: Session) -> None:
    create_customer(session, email="Sara.Karimi+shop@gmail.com", name="Sara K")
    create_customer(session, email="sarakarimi@gmail.com")
    create_customer(session, name="Reza Ahmadi", phone="+989125551234", email=None)
    create_customer(session, name="reza ahmadi", phone="+12025551234", email=None)
    create_customer(session, name="Omid", email="omid@example.com")
    found = duplicates.scan(session)
    assert sorted(r for r, _ in _pairs(session)) == ["same_email", "same_name_phone"]
    assert found == 2
    assert duplicates.scan(session) == 0  # found again: nothing new


def test_merge_in_one_click_and_not_the_same_person(client: TestClient, session: Session) -> None:
    a = create_customer(session, phone="+12025550101", name="Sara", email=None)
    b = create_customer(session, email="sara@example.com")
    c = create_customer(session, phone="+12025550102", name="Omid", email=None)
    d = create_customer(session, email="omid@example.com")
    create_order(session, customer={"email": "sara@example.com", "phone": "+12025550101"})
    create_order(session, customer={"email": "omid@example.com", "phone": "+12025550102"})
    logged_in(client, session, role=Role.manager)
    page = client.get("/customers/duplicates")
    assert page.status_code == 200
    assert "2 pairs wait for you." in page.text
    assert 'href="/customers/duplicates"' in page.text  # in the navigation
    first, second = session.scalars(select(PossibleDuplicate).order_by(PossibleDuplicate.found_at))
    pair_of = {frozenset({a.id, b.id}): "sara", frozenset({c.id, d.id}): "omid"}
    sara = (
        first
        if pair_of[frozenset({first.customer_a_id, first.customer_b_id})] == "sara"
        else second
    )
    omid = second if sara is first else first
    token = csrf_token(client, "/customers/duplicates")
    merged = client.post(
        f"/customers/duplicates/{sara.id}/merge",
        data={"keep": str(a.id), "csrf_token": token},
        follow_redirects=False,
    )
    assert merged.status_code == 303
    session.expire_all()
    assert session.get(Customer, b.id).merged_into_id == a.id  # type: ignore[union-attr]
    assert session.scalar(select(CustomerMerge).where(CustomerMerge.loser_id == b.id))
    apart = client.post(
        f"/customers/duplicates/{omid.id}/dismiss",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert apart.status_code == 303
    session.expire_all()
    assert sorted(s for _, s in _pairs(session)) == ["dismissed", "merged"]
    assert "No possible duplicates" in client.get("/customers/duplicates").text
    again = client.post(
        f"/customers/duplicates/{omid.id}/dismiss",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert again.status_code == 409  # decided once


def test_cashiers_may_not_open_it(client: TestClient, session: Session) -> None:
    logged_in(client, session, role=Role.cashier)
    assert client.get("/customers/duplicates").status_code == 403
