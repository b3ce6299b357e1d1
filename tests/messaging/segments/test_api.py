"""/api/v1/segments: the contract's forms, paths in errors, paging, the CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.messaging.segments.population import NOW, build, business
from wafa.auth import service as auth
from wafa.core.settings import Settings
from wafa.messaging.segments import stats

RICH = {"all": [{"field": "orders_count", "op": ">=", "value": 1}]}


@pytest.fixture
def biz(settings: Settings) -> Settings:
    return business(settings.database_url)


@pytest.fixture
def shop(session: Session, clock: FrozenClock, biz: Settings) -> dict[str, uuid.UUID]:
    ids = build(session, clock, biz)
    clock.set(NOW)
    return ids


@pytest.fixture
def biz_api(app: Any, biz: Settings, api_key: str) -> Any:
    app.state.settings = biz
    with TestClient(app) as c:
        c.headers["Authorization"] = f"Bearer {api_key}"
        yield c


class TestCreateSegment:
    def test_answers_201_with_id_and_count(self, biz_api: TestClient, shop: Any) -> None:
        r = biz_api.post("/api/v1/segments", json={"name": "Buyers", "rules": RICH})
        assert r.status_code == 201, r.text
        body = r.json()
        assert uuid.UUID(body["id"]) and body["count"] == 3
        assert body["rules"] == RICH and body["name"] == "Buyers"
        again = biz_api.get(f"/api/v1/segments/{body['id']}")
        assert again.status_code == 200 and again.json()["count"] == 3

    def test_nested_rules_are_stored_as_sent(self, biz_api: TestClient, shop: Any) -> None:
        rules = {
            "any": [
                {"field": "city", "op": "=", "value": "Tehran"},
                {"all": [{"field": "tier", "op": ">=", "value": "silver"}]},
            ]
        }
        r = biz_api.post("/api/v1/segments", json={"name": "Mixed", "rules": rules})
        assert r.status_code == 201, r.text
        assert r.json()["rules"] == rules and r.json()["count"] == 2

    @pytest.mark.parametrize(
        ("rules", "loc", "words"),
        [
            (
                {"all": [{"field": "cityy", "op": "=", "value": "x"}]},
                ["body", "rules", "all", 0, "field"],
                "unknown field",
            ),
            (
                {"all": [{"any": [{"field": "city", "op": ">", "value": "x"}]}]},
                ["body", "rules", "all", 0, "any", 0, "op"],
                "does not apply",
            ),
            (
                {"all": [{"field": "orders_count", "op": ">=", "value": "three"}]},
                ["body", "rules", "all", 0, "value"],
                "whole number",
            ),
            (
                {"all": [{"field": "p_alive", "op": "<", "value": 2}]},
                ["body", "rules", "all", 0, "value"],
                "at most 1",
            ),
            (
                {"all": [{"field": "tags", "op": "in", "value": []}]},
                ["body", "rules", "all", 0, "value"],
                "non-empty list",
            ),
            (
                {"all": [{"field": "last_order_on", "op": "=", "value": "15/03/2026"}]},
                ["body", "rules", "all", 0, "value"],
                "YYYY-MM-DD",
            ),
            ({"all": [{"field": "city", "op": "="}]}, ["body", "rules", "all", 0], "missing"),
            ({"field": "city", "op": "=", "value": "x"}, ["body", "rules"], "start with a group"),
            (
                {"all": [{"field": "city", "op": "=", "value": "x", "extra": 1}]},
                ["body", "rules", "all", 0, "extra"],
                "Extra",
            ),
        ],
    )
    def test_bad_rules_are_422_naming_the_path(
        self, biz_api: TestClient, shop: Any, rules: Any, loc: list[Any], words: str
    ) -> None:
        r = biz_api.post("/api/v1/segments", json={"name": "Bad", "rules": rules})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        errors = r.json()["errors"]
        assert any(e["loc"] == loc and words in e["msg"] for e in errors), errors

    def test_rules_the_database_refutes_are_422_naming_the_path(
        self, biz_api: TestClient, shop: Any
    ) -> None:
        rules = {"all": [{"any": [{"field": "tier", "op": "=", "value": "platinum"}]}]}
        r = biz_api.post("/api/v1/segments", json={"name": "Bad", "rules": rules})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["loc"] == ["rules", "all", 0, "any", 0, "value"]
        assert "platinum" in r.json()["errors"][0]["msg"]

    def test_names_are_unique_among_live_segments(self, biz_api: TestClient, shop: Any) -> None:
        first = biz_api.post("/api/v1/segments", json={"name": "VIP", "rules": RICH})
        assert first.status_code == 201
        clash = biz_api.post("/api/v1/segments", json={"name": "vip", "rules": RICH})
        assert clash.status_code == 409
        assert biz_api.delete(f"/api/v1/segments/{first.json()['id']}").status_code == 204
        again = biz_api.post("/api/v1/segments", json={"name": "VIP", "rules": RICH})
        assert again.status_code == 201

    def test_read_scope_cannot_create(
        self, client: TestClient, session: Session, shop: Any
    ) -> None:
        _, token = auth.create_api_key(session, name="ro", scopes=["read"])
        session.flush()
        r = client.post(
            "/api/v1/segments",
            json={"name": "x", "rules": RICH},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 403


class TestCountAndFields:
    def test_live_count_without_saving(self, biz_api: TestClient, shop: Any) -> None:
        r = biz_api.post(
            "/api/v1/segments/count",
            json={"rules": {"all": [{"field": "consent_email", "op": "=", "value": True}]}},
        )
        assert r.status_code == 200 and r.json() == {"count": 2}
        assert biz_api.get("/api/v1/segments").json()["items"] == []

    def test_fields_list_the_catalogue(self, biz_api: TestClient) -> None:
        r = biz_api.get("/api/v1/segments/fields")
        by_name = {f["name"]: f for f in r.json()}
        assert by_name["city"]["ops"] == ["=", "!=", "in", "contains"]
        assert "champions" in by_name["rfm_segment"]["choices"]


class TestMembers:
    def test_pages_like_the_other_lists(
        self, biz_api: TestClient, session: Session, shop: Any, biz: Settings
    ) -> None:
        for n in range(5):
            create_customer(session, name=f"Extra {n}", city="Tehran")
        session.flush()
        seg = biz_api.post(
            "/api/v1/segments",
            json={
                "name": "Tehran",
                "rules": {"all": [{"field": "city", "op": "=", "value": "Tehran"}]},
            },
        ).json()
        assert seg["count"] == 6
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 4}
            if cursor:
                params["cursor"] = cursor
            r = biz_api.get(f"/api/v1/segments/{seg['id']}/customers", params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            seen += [c["id"] for c in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert pages == 2 and len(seen) == len(set(seen)) == 6
        assert seen == sorted(seen, reverse=True)  # newest first
        assert str(shop["ava"]) in seen

    def test_bad_cursor_is_422(self, biz_api: TestClient, shop: Any) -> None:
        seg = biz_api.post("/api/v1/segments", json={"name": "All", "rules": {"all": []}}).json()
        r = biz_api.get(f"/api/v1/segments/{seg['id']}/customers", params={"cursor": "@@"})
        assert r.status_code == 422

    def test_unknown_segment_is_404(self, biz_api: TestClient) -> None:
        assert biz_api.get(f"/api/v1/segments/{uuid.uuid4()}/customers").status_code == 404


class TestUpdate:
    def test_new_rules_are_counted(self, biz_api: TestClient, shop: Any) -> None:
        seg = biz_api.post("/api/v1/segments", json={"name": "S", "rules": RICH}).json()
        r = biz_api.patch(
            f"/api/v1/segments/{seg['id']}",
            json={"rules": {"all": [{"field": "tier", "op": "=", "value": "gold"}]}},
        )
        assert r.status_code == 200, r.text
        assert r.json()["count"] == 1 and r.json()["name"] == "S"


class TestExport:
    def test_csv_is_safe_against_formulas(
        self, biz_api: TestClient, session: Session, shop: Any
    ) -> None:
        create_customer(session, name='=HYPERLINK("http://x")', city="@evil", tags=["+1", "-x"])
        session.flush()
        seg = biz_api.post(
            "/api/v1/segments",
            json={
                "name": "Odd",
                "rules": {"all": [{"field": "city", "op": "=", "value": "@evil"}]},
            },
        ).json()
        r = biz_api.get(f"/api/v1/segments/{seg['id']}/export")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows[0][:3] == ["customer_id", "name", "email"]
        assert len(rows) == 2
        row = dict(zip(rows[0], rows[1], strict=True))
        assert row["name"] == '\'=HYPERLINK("http://x")'
        assert row["city"] == "'@evil"
        assert row["tags"] == "'+1 -x"

    def test_figures_in_the_export(self, biz_api: TestClient, shop: Any) -> None:
        seg = biz_api.post(
            "/api/v1/segments",
            json={"name": "Ava", "rules": {"all": [{"field": "tier", "op": "=", "value": "gold"}]}},
        ).json()
        rows = list(
            csv.DictReader(io.StringIO(biz_api.get(f"/api/v1/segments/{seg['id']}/export").text))
        )
        assert len(rows) == 1
        assert rows[0]["orders"] == "3" and rows[0]["total_spent"] == "60.00"
        assert rows[0]["last_order_on"] == "2026-03-15" and rows[0]["email_consent"] == "yes"


def test_stats_rebuild_is_what_the_api_counts(
    biz_api: TestClient, session: Session, shop: Any, biz: Settings
) -> None:
    assert stats.drifted(session, currency=biz.currency) == 0
