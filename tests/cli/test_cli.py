from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from tests.cli.conftest import Invoke
from tests.factories import order_payload
from wafa.auth import service as auth
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.orders import service as orders
from wafa.orders.schemas import OrderCreate


class TestInit:
    def test_init_is_repeatable(self, wafa: Invoke) -> None:
        assert wafa("init").exit_code == 0
        assert wafa("init").exit_code == 0


class TestApiKeyCreate:
    def test_prints_the_key_alone_on_the_last_line(
        self, wafa: Invoke, committed_db: Settings
    ) -> None:
        result = wafa("apikey", "create", "--name", "shop", "--scopes", "read,write")
        assert result.exit_code == 0, result.output
        token = result.output.strip().splitlines()[-1]
        assert token.startswith("wafa_") and " " not in token
        with session_scope(committed_db) as s:
            key, _ = auth.authenticate_api_key(s, token)
            assert key.scopes == ["read", "write"]

    def test_unknown_scope_fails_with_a_message(self, wafa: Invoke) -> None:
        result = wafa("apikey", "create", "--name", "x", "--scopes", "read,delete")
        assert result.exit_code == 1 and "unknown scope 'delete'" in result.output


class TestUserCreate:
    def test_without_a_terminal_it_generates_a_password_instead_of_prompting(
        self, committed_db: Settings
    ) -> None:
        env = {
            **os.environ,
            "WAFA_DATABASE_URL": committed_db.database_url,
            "WAFA_ENVIRONMENT": "test",
        }
        env.pop("WAFA_PASSWORD", None)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "wafa.cli",
                "user",
                "create",
                "--email",
                "cashier@shop.test",
                "--role",
                "cashier",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        password = done.stdout.strip().splitlines()[-1].removeprefix("password: ")
        with session_scope(committed_db) as s:
            user = auth.authenticate(s, email="cashier@shop.test", password=password)
            assert user.role == "cashier"

    def test_short_password_is_refused(self, wafa: Invoke) -> None:
        result = wafa("user", "create", "--email", "o@shop.test", "--password", "short")
        assert result.exit_code == 1 and "at least 10" in result.output


class TestCustomerExportErase:
    def _customer(self, settings: Settings) -> uuid.UUID:
        with session_scope(settings) as s:
            order, _ = orders.create_order(
                s,
                data=OrderCreate.model_validate(
                    order_payload(customer={"email": "gdpr@example.com", "name": "Leila"})
                ),
                region="US",
            )
            assert order.customer_id is not None
            return order.customer_id

    def test_export_prints_json_with_orders(self, wafa: Invoke, committed_db: Settings) -> None:
        cid = self._customer(committed_db)
        result = wafa("customer", "export", str(cid))
        assert result.exit_code == 0
        data = json.loads(result.stdout)
        assert data["customer"]["email"] == "gdpr@example.com" and len(data["orders"]) == 1

    def test_erase_keeps_totals_and_removes_the_person(
        self, wafa: Invoke, committed_db: Settings
    ) -> None:
        cid = self._customer(committed_db)
        assert wafa("customer", "erase", str(cid), "--yes").exit_code == 0
        data = json.loads(wafa("customer", "export", str(cid)).stdout)
        assert data["customer"]["name"] is None and data["customer"]["email"] is None
        assert data["orders"][0]["total"] == 900 and data["orders"][0]["contact"]["email"] is None

    def test_unknown_customer_is_an_error_not_a_traceback(self, wafa: Invoke) -> None:
        result = wafa("customer", "export", str(uuid.uuid4()))
        assert result.exit_code == 1 and "not found" in result.output

    def test_bad_id_is_an_error(self, wafa: Invoke) -> None:
        result = wafa("customer", "export", "not-a-uuid")
        assert result.exit_code == 1 and "not a customer id" in result.output
