from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import create_customer, order_payload
from wafa.auth import service as auth


class TestCustomersApi:
    def test_create_read_update(self, api: TestClient) -> None:
        r = api.post(
            "/api/v1/customers",
            json={"name": "Nasrin", "phone": "(415) 555-0190", "birthday": {"day": 29, "month": 2}},
        )
        assert r.status_code == 201, r.text
        c = r.json()
        assert (c["name"], c["phone"], c["email"]) == ("Nasrin", "+14155550190", None)
        assert c["birthday"] == {"day": 29, "month": 2, "year": None, "calendar": "gregorian"}
        r = api.patch(f"/api/v1/customers/{c['id']}", json={"email": "N@Example.com"})
        assert r.status_code == 200 and r.json()["email"] == "n@example.com"
        assert api.get(f"/api/v1/customers/{c['id']}").json()["email"] == "n@example.com"

    def test_conflicting_email_is_409_problem(self, api: TestClient, session: Session) -> None:
        create_customer(session, email="taken@example.com")
        r = api.post("/api/v1/customers", json={"email": "taken@example.com"})
        assert r.status_code == 409
        assert r.json()["type"].endswith("/customer-conflict")

    def test_unknown_field_is_refused_with_its_path(self, api: TestClient) -> None:
        r = api.post("/api/v1/customers", json={"name": "X", "favourite": "tea"})
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "favourite"]

    def test_search_and_cursor_pagination(self, api: TestClient, session: Session) -> None:
        for i in range(5):
            create_customer(session, name=f"Golnar {i}")
        page = api.get("/api/v1/customers", params={"q": "golnar", "limit": 2}).json()
        assert len(page["items"]) == 2 and page["next_cursor"]
        names = [c["name"] for c in page["items"]]
        while page["next_cursor"]:
            page = api.get(
                "/api/v1/customers",
                params={"q": "golnar", "limit": 2, "cursor": page["next_cursor"]},
            ).json()
            names += [c["name"] for c in page["items"]]
        assert sorted(names) == [f"Golnar {i}" for i in range(5)]

    def test_limit_above_200_is_refused(self, api: TestClient) -> None:
        assert api.get("/api/v1/customers", params={"limit": 201}).status_code == 422

    def test_timeline_lists_orders(self, api: TestClient) -> None:
        order = api.post("/api/v1/orders", json=order_payload()).json()
        items = api.get(f"/api/v1/customers/{order['customer_id']}/timeline").json()
        assert [e["kind"] for e in items if e["kind"] == "order"] == ["order"]

    def test_merge_endpoint(self, api: TestClient, session: Session) -> None:
        a = create_customer(session, email="keep@example.com", phone=None)
        b = create_customer(session, email=None, phone="+14155550191")
        r = api.post(f"/api/v1/customers/{a.id}/merge", json={"other_id": str(b.id)})
        assert r.status_code == 200, r.text
        assert r.json()["loser_id"] == str(b.id)
        assert api.get(f"/api/v1/customers/{a.id}").json()["phone"] == "+14155550191"
        assert api.get(f"/api/v1/customers/{b.id}").json()["merged_into_id"] == str(a.id)


class TestScopes:
    def _key(self, session: Session, scopes: list[str]) -> dict[str, str]:
        _, token = auth.create_api_key(session, name="k", scopes=scopes)
        return {"Authorization": f"Bearer {token}"}

    def test_read_key_cannot_write(self, client: TestClient, session: Session) -> None:
        headers = self._key(session, ["read"])
        assert client.get("/api/v1/customers", headers=headers).status_code == 200
        r = client.post("/api/v1/customers", json={"name": "x"}, headers=headers)
        assert r.status_code == 403 and r.json()["type"].endswith("/insufficient-scope")

    def test_write_key_cannot_export_personal_data(
        self, client: TestClient, session: Session
    ) -> None:
        headers = self._key(session, ["write"])
        c = create_customer(session)
        r = client.get(f"/api/v1/customers/{c.id}/export", headers=headers)
        assert r.status_code == 403

    def test_revoked_key_is_refused(self, client: TestClient, session: Session) -> None:
        key, token = auth.create_api_key(session, name="old", scopes=["read"])
        auth.revoke_api_key(session, key_id=key.id)
        r = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and "revoked" in r.json()["detail"]

    def test_wrong_key_is_refused(self, client: TestClient) -> None:
        r = client.get("/api/v1/customers", headers={"Authorization": "Bearer wafa_nope"})
        assert r.status_code == 401

    def test_basic_auth_scheme_is_refused(self, client: TestClient) -> None:
        r = client.get("/api/v1/customers", headers={"Authorization": "Basic abc"})
        assert r.status_code == 401


class TestIdempotencyKey:
    def test_replay_returns_the_first_answer_and_creates_nothing(self, api: TestClient) -> None:
        headers = {"Idempotency-Key": "abc-1"}
        first = api.post("/api/v1/customers", json={"name": "Once"}, headers=headers)
        second = api.post("/api/v1/customers", json={"name": "Once"}, headers=headers)
        assert (first.status_code, second.status_code) == (201, 201)
        assert first.json() == second.json()
        assert second.headers.get("idempotent-replayed") == "true"
        found = api.get("/api/v1/customers", params={"q": "Once"}).json()["items"]
        assert len(found) == 1

    def test_same_key_with_another_body_is_refused(self, api: TestClient) -> None:
        headers = {"Idempotency-Key": "abc-2"}
        api.post("/api/v1/customers", json={"name": "A"}, headers=headers)
        r = api.post("/api/v1/customers", json={"name": "B"}, headers=headers)
        assert r.status_code == 422 and "different request" in r.json()["detail"]

    def test_a_failed_request_does_not_burn_the_key(self, api: TestClient) -> None:
        headers = {"Idempotency-Key": "abc-3"}
        bad = api.post("/api/v1/customers", json={"name": "C", "phone": "12"}, headers=headers)
        assert bad.status_code == 422
        good = api.post("/api/v1/customers", json={"name": "C"}, headers=headers)
        assert good.status_code == 201
