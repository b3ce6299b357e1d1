"""The customer list: its total count, and its CSV export (owners), safe against formulas."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import create_customer, create_order
from tests.web.helpers import logged_in
from wafa.auth.models import Role


def test_the_list_counts_every_match_and_exports_it_safely(
    client: TestClient, session: Session
) -> None:
    create_customer(session, name='=HYPERLINK("http://x","click")', email="evil@example.com")
    create_customer(session, name="Sara Karimi", email="sara@example.com", city="-Tehran")
    create_order(session, customer={"email": "sara@example.com"})
    logged_in(client, session, role=Role.owner)
    page = client.get("/customers")
    assert "2 customers" in page.text
    assert 'href="/customers/export.csv"' in page.text
    assert "1 customer<" in client.get("/customers", params={"q": "sara"}).text

    export = client.get("/customers/export.csv")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert len(rows) == 2
    by_email = {r["email"]: r for r in rows}
    assert by_email["evil@example.com"]["name"].startswith("'=")  # shown as text, never run
    assert by_email["sara@example.com"]["city"] == "'-Tehran"
    assert by_email["sara@example.com"]["orders"] == "1"
    assert by_email["sara@example.com"]["spend"] == "9.00"  # 2 × 4.50 USD
    only = client.get("/customers/export.csv", params={"q": "sara"})
    assert len(list(csv.DictReader(io.StringIO(only.text.lstrip("\ufeff"))))) == 1


def test_only_owners_export(client: TestClient, session: Session) -> None:
    logged_in(client, session, role=Role.manager)
    assert client.get("/customers/export.csv").status_code == 403
    assert "export.csv" not in client.get("/customers").text
