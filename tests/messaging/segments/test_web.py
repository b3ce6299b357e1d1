"""The segment pages: list, builder (with and without its script), members, export, archive."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.messaging.segments.population import NOW, build, business
from tests.web.helpers import html_attrs, logged_in, post_form
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.messaging.segments.models import Segment

WIN_BACK = {
    "all": [
        {"field": "orders_count", "op": ">=", "value": 1},
        {"field": "days_since_last_order", "op": ">", "value": 90},
    ]
}


@pytest.fixture
def shop(
    app: Any, session: Session, clock: FrozenClock, settings: Settings
) -> dict[str, uuid.UUID]:
    biz = business(settings.database_url)
    app.state.settings = biz
    ids = build(session, clock, biz)
    clock.set(NOW)
    return ids


def _catalogue(page: str) -> dict[str, Any]:
    found = re.search(r'data-catalogue="([^"]*)"', page)
    assert found
    return dict(json.loads(html.unescape(found.group(1))))


def _save(
    client: TestClient, rules: Any, name: str = "Win back", path: str = "/segments/new"
) -> Any:
    return post_form(
        client,
        path,
        {"name": name, "description": "", "rules": json.dumps(rules), "action": "save"},
        page="/segments/new",
    )


class TestList:
    def test_empty_list_offers_a_first_segment(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        page = client.get("/segments")
        assert page.status_code == 200
        assert "No segments yet" in page.text and 'href="/segments/new"' in page.text

    def test_reachable_from_the_navigation(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        assert 'href="/segments"' in client.get("/").text

    def test_cashiers_cannot_open_it(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier)
        assert client.get("/segments").status_code == 403
        assert 'href="/segments"' not in client.get("/customers").text


class TestBuilder:
    def test_the_catalogue_speaks_the_page_language(
        self, client: TestClient, session: Session, shop: Any
    ) -> None:
        logged_in(client, session, locale="fa")
        page = client.get("/segments/new")
        assert page.status_code == 200
        assert html_attrs(page.text)["dir"] == "rtl"
        catalogue = _catalogue(page.text)
        by_name = {f["name"]: f for f in catalogue["fields"]}
        assert by_name["orders_count"]["label"] == "تعداد سفارش‌ها"
        assert [c["value"] for c in by_name["tier"]["choices"]] == ["bronze", "silver", "gold"]
        assert by_name["order_location"]["choices"][0]["value"] == "SHOP1"
        assert len(by_name["birthday_month"]["choices"]) == 12
        assert "contains" not in [o["op"] for o in by_name["tags"]["ops"]]

    def test_saving_counts_and_opens_the_segment(
        self, client: TestClient, session: Session, shop: Any
    ) -> None:
        logged_in(client, session)
        answer = _save(client, WIN_BACK)
        assert answer.status_code == 303, answer.text
        segment = session.scalars(select(Segment)).one()
        assert answer.headers["location"] == f"/segments/{segment.id}"
        assert segment.rules == WIN_BACK and segment.last_count == 2
        assert segment.created_by and segment.created_by.startswith("staff:")

    def test_count_without_the_script(
        self, client: TestClient, session: Session, shop: Any
    ) -> None:
        logged_in(client, session)
        answer = post_form(
            client,
            "/segments/new",
            {"name": "", "rules": json.dumps(WIN_BACK), "action": "count"},
            page="/segments/new",
        )
        assert answer.status_code == 200
        assert "2 customers" in answer.text
        assert session.scalars(select(Segment)).first() is None

    def test_a_bad_rule_is_shown_on_its_condition(
        self, client: TestClient, session: Session, shop: Any
    ) -> None:
        logged_in(client, session)
        bad = {"all": [{"field": "tier", "op": "=", "value": "platinum"}]}
        answer = _save(client, bad)
        assert answer.status_code == 422
        assert "Nothing was saved yet" in answer.text
        found = re.search(r'data-errors="([^"]*)"', answer.text)
        assert found
        errors = json.loads(html.unescape(found.group(1)))
        assert errors[0]["loc"] == ["all", 0, "value"]
        assert session.scalars(select(Segment)).first() is None

    def test_a_missing_name_is_shown_on_the_name(
        self, client: TestClient, session: Session, shop: Any
    ) -> None:
        logged_in(client, session)
        answer = _save(client, WIN_BACK, name="")
        assert answer.status_code == 422
        assert 'id="name-error"' in answer.text

    def test_a_taken_name(self, client: TestClient, session: Session, shop: Any) -> None:
        logged_in(client, session)
        assert _save(client, WIN_BACK).status_code == 303
        again = _save(client, WIN_BACK)
        assert again.status_code == 409 and "Another segment already has this name" in again.text

    def test_edit_keeps_the_rule_and_saves_the_change(
        self, client: TestClient, session: Session, shop: Any
    ) -> None:
        logged_in(client, session)
        _save(client, WIN_BACK)
        segment = session.scalars(select(Segment)).one()
        page = client.get(f"/segments/{segment.id}/edit")
        assert page.status_code == 200 and "days_since_last_order" in html.unescape(page.text)
        gold = {"all": [{"field": "tier", "op": "=", "value": "gold"}]}
        answer = _save(client, gold, name="Gold", path=f"/segments/{segment.id}/edit")
        assert answer.status_code == 303
        session.refresh(segment)
        assert (segment.name, segment.rules, segment.last_count) == ("Gold", gold, 1)


class TestMembers:
    def test_the_rule_in_words_and_the_customers(
        self, client: TestClient, session: Session, shop: Any
    ) -> None:
        logged_in(client, session)
        _save(client, WIN_BACK)
        segment = session.scalars(select(Segment)).one()
        page = client.get(f"/segments/{segment.id}")
        assert page.status_code == 200
        assert "Number of orders at least 1" in page.text
        assert "Days since the last order more than 90 days" in page.text
        assert "Ben" in page.text and "Dee" in page.text and "Ava" not in page.text
        assert "data-segment-size>2<" in page.text

    def test_in_persian(self, client: TestClient, session: Session, shop: Any) -> None:
        logged_in(client, session, locale="fa")
        _save(client, WIN_BACK)
        segment = session.scalars(select(Segment)).one()
        page = client.get(f"/segments/{segment.id}")
        assert html_attrs(page.text)["dir"] == "rtl"
        assert "۲" in page.text and "تعداد سفارش‌ها" in page.text

    def test_export_is_a_safe_csv(self, client: TestClient, session: Session, shop: Any) -> None:
        logged_in(client, session)
        _save(client, WIN_BACK)
        segment = session.scalars(select(Segment)).one()
        answer = client.get(f"/segments/{segment.id}/export.csv")
        assert answer.status_code == 200
        rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
        assert sorted(r["name"] for r in rows) == ["Ben", "Dee"]

    def test_archive(self, client: TestClient, session: Session, shop: Any) -> None:
        logged_in(client, session)
        _save(client, WIN_BACK)
        segment = session.scalars(select(Segment)).one()
        answer = post_form(client, f"/segments/{segment.id}/archive", {}, page="/segments")
        assert answer.status_code == 303
        assert client.get(f"/segments/{segment.id}").status_code == 404
        assert "Win back" not in client.get("/segments").text
