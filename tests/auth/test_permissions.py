"""The permission model: issue 9's bypasses refused, keys tied to their creator, docs current."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.web.helpers import csrf_token, logged_in
from wafa.auth import permissions
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.auth.permissions import Permission

DOCS = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"


def test_the_documented_table_is_current() -> None:
    assert DOCS.read_text("utf-8") == permissions.table(), (
        "run: python -m wafa.auth.permissions > docs/permissions.md"
    )


def test_the_issue_s_boundaries() -> None:
    cashier = permissions.ROLE_PERMISSIONS[Role.cashier]
    manager = permissions.ROLE_PERMISSIONS[Role.manager]
    for perm in (
        Permission.adjust_points,
        Permission.create_coupons,
        Permission.edit_rewards,
        Permission.merge,
        Permission.refund,
        Permission.export,
        Permission.erase,
        Permission.manage_keys,
    ):
        assert perm not in cashier
    for perm in (
        Permission.export,
        Permission.erase,
        Permission.manage_keys,
        Permission.manage_staff,
        Permission.settings,
    ):
        assert perm not in manager
    assert permissions.ROLE_PERMISSIONS[Role.owner] == frozenset(Permission)
    for scope_perms in permissions.SCOPE_PERMISSIONS.values():
        assert Permission.manage_staff not in scope_perms


class TestStaffCookieInTheApi:
    """The bypasses of issue 9 item 2, replayed with a staff session cookie."""

    def test_a_cashier_cannot_do_what_the_dashboard_refuses(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        headers = {"X-CSRF-Token": csrf_token(client, "/customers")}
        cid = uuid.uuid4()
        attempts = [
            (f"/api/v1/customers/{cid}/adjustments", {"points": 5000, "reason": "x"}),
            ("/api/v1/coupons", {"kind": "amount", "amount": 100000}),
            (f"/api/v1/customers/{cid}/merge", {"other_id": str(uuid.uuid4())}),
            (f"/api/v1/orders/{cid}/refunds", {"external_id": "r1"}),
            ("/api/v1/rewards", {"name": "x", "cost": 1}),
            ("/api/v1/api-keys", {"name": "mine", "scopes": ["admin"]}),
        ]
        for path, body in attempts:
            answer = client.post(path, json=body, headers=headers)
            assert answer.status_code == 403, path
            assert answer.json()["type"].endswith("/permission-denied"), path
        answer = client.patch(f"/api/v1/rewards/{cid}", json={"cost": 1}, headers=headers)
        assert answer.status_code == 403

    def test_a_manager_cannot_export_erase_or_make_keys(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.manager)
        headers = {"X-CSRF-Token": csrf_token(client, "/customers")}
        cid = uuid.uuid4()
        assert client.get(f"/api/v1/customers/{cid}/export").status_code == 403
        erase = client.post(f"/api/v1/customers/{cid}/erase", json={}, headers=headers)
        assert erase.status_code == 403
        key = client.post(
            "/api/v1/api-keys", json={"name": "k", "scopes": ["admin"]}, headers=headers
        )
        assert key.status_code == 403

    def test_a_manager_adjusts_up_to_the_limit(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        headers = {"X-CSRF-Token": csrf_token(client, "/customers")}
        cid = uuid.uuid4()
        too_many = client.post(
            f"/api/v1/customers/{cid}/adjustments",
            json={"points": 1001, "reason": "gift"},
            headers=headers,
        )
        assert too_many.status_code == 403
        assert too_many.json()["type"].endswith("/adjustment-limit")
        within = client.post(
            f"/api/v1/customers/{cid}/adjustments",
            json={"points": -1000, "reason": "gift"},
            headers=headers,
        )
        assert within.status_code == 404  # allowed; the customer does not exist


class TestKeysDieWithTheirCreator:
    def _owner_key(self, client: TestClient, session: Session) -> tuple[str, uuid.UUID]:
        owner = logged_in(client, session, role=Role.owner)
        headers = {"X-CSRF-Token": csrf_token(client, "/customers")}
        made = client.post(
            "/api/v1/api-keys",
            json={"name": "webshop", "scopes": ["read", "write", "admin"]},
            headers=headers,
        )
        assert made.status_code == 201, made.text
        client.cookies.clear()
        return made.json()["token"], owner.id

    @pytest.mark.parametrize("change", ["disable", "demote"])
    def test_a_key_stops_when_its_creator_loses_access(
        self, client: TestClient, session: Session, change: str
    ) -> None:
        token, owner_id = self._owner_key(client, session)
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/customers", headers=bearer).status_code == 200
        user = auth.get_user(session, owner_id)
        if change == "disable":
            user.active = False
        else:
            user.role = Role.manager
        session.flush()
        answer = client.get("/api/v1/customers", headers=bearer)
        assert answer.status_code == 401
        assert "lost its access" in answer.json()["detail"]

    def test_a_key_never_exceeds_its_creator_s_role(self, session: Session) -> None:
        manager = auth.create_user(
            session, email="m@example.com", password="long-enough-pw", role=Role.manager
        )
        _, token = auth.create_api_key(
            session, name="k", scopes=["read", "write", "admin"], created_by=manager
        )
        session.flush()
        found, creator = auth.authenticate_api_key(session, token)
        assert creator is not None and creator.id == manager.id
        granted = permissions.scope_permissions(found.scopes) & permissions.role_permissions(
            creator.role
        )
        assert Permission.erase not in granted and Permission.export not in granted

    def test_use_is_recorded(self, client: TestClient, session: Session) -> None:
        key, token = auth.create_api_key(session, name="k", scopes=["read"])
        session.flush()
        assert key.last_used_at is None
        client.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"})
        session.refresh(key)
        assert key.last_used_at is not None
