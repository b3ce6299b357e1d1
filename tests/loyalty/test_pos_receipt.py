"""The receipt of a sale at the counter: the shop's logo served by Wafa (with the shop's name
as its text), the lines, the total and the points earned; without a logo, the name."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.loyalty.helpers import member, set_rules
from tests.messaging.test_logo import png
from tests.web.helpers import csrf_token, logged_in
from wafa.auth import business
from wafa.auth.models import Role


def _sale(client: TestClient, session: Session) -> str:
    set_rules(session, pending_days=0)
    c = member(session)
    answer = client.post(
        "/api/v1/pos/purchases",
        json={
            "customer_id": str(c.id),
            "reference": "POS-RECEIPT01",
            "lines": [{"sku": "LAT", "name": "Latte", "quantity": 2, "unit_price": 450}],
        },
        headers={"X-CSRF-Token": csrf_token(client, "/pos"), "Idempotency-Key": "receipt-1"},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["order_id"])


def test_the_receipt_carries_the_logo_lines_total_and_points(
    client: TestClient, session: Session
) -> None:
    logged_in(client, session, role=Role.cashier)
    logo = business.save_logo(session, data=png())
    order_id = _sale(client, session)
    page = client.get(f"/pos/receipt/{order_id}")
    assert page.status_code == 200
    img = re.search(r'<img class="receipt-logo" src="([^"]+)" alt="([^"]*)">', page.text)
    assert img and img.group(1) == f"/branding/logo?v={logo.version}"
    assert img.group(2) == "Test Café"  # the shop's name is the image's text
    assert "Latte" in page.text and "$9.00" in page.text
    assert re.search(r"Points earned</span><span class=\"num\">9<", page.text)
    assert client.get(img.group(1)).status_code == 200  # served by Wafa itself


def test_without_a_logo_the_name_heads_the_receipt(client: TestClient, session: Session) -> None:
    logged_in(client, session, role=Role.cashier, locale="fa")
    order_id = _sale(client, session)
    page = client.get(f"/pos/receipt/{order_id}").text
    assert 'class="receipt-logo"' not in page
    assert '<h2 id="receipt-shop">Test Café</h2>' in page
    assert "رسید" in page and "۹" in page


def test_the_counter_links_to_the_last_sale_receipt(client: TestClient, session: Session) -> None:
    logged_in(client, session, role=Role.cashier)
    page = client.get("/pos").text
    assert "data-pos-receipt-page-link" in page
