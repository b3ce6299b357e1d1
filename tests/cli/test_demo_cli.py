from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select

from tests.cli.conftest import Invoke
from tests.factories import create_customer
from wafa.auth import service as auth
from wafa.cli import demo as demo_cli
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.orders.models import Order


def printed_login(output: str) -> tuple[str, str]:
    email = re.search(r"login\s+(\S+)", output)
    password = re.search(r"password\s+(\S+)", output)
    assert email and password, output
    return email.group(1), password.group(1)


def can_log_in(settings: Settings, email: str, password: str) -> bool:
    with session_scope(settings) as session:
        return auth.authenticate(session, email=email, password=password).role == "owner"


class TestDemoCommand:
    def test_builds_prints_a_working_login_and_reuses_the_store(
        self, wafa: Invoke, committed_db: Settings
    ) -> None:
        result = wafa("demo", "--no-serve", "--customers", "120", "--seed", "5")
        assert result.exit_code == 0, result.output
        assert "built the demo store" in result.stdout
        assert "http://127.0.0.1:8000/" in result.stdout
        email, password = printed_login(result.stdout)
        assert can_log_in(committed_db, email, password)
        with session_scope(committed_db, write=False) as session:
            orders = session.scalar(select(func.count()).select_from(Order))
            assert session.scalar(select(func.count()).select_from(Customer)) == 120

        again = wafa("demo", "--no-serve", "--customers", "120", "--seed", "5")
        assert again.exit_code == 0, again.output
        assert "reusing the demo store" in again.stdout
        _, new_password = printed_login(again.stdout)
        assert can_log_in(committed_db, email, new_password)
        with session_scope(committed_db, write=False) as session:
            assert session.scalar(select(func.count()).select_from(Order)) == orders

    def test_reset_rebuilds_the_same_store_for_the_same_seed(
        self, wafa: Invoke, committed_db: Settings
    ) -> None:
        def totals() -> list[tuple[str, int]]:
            with session_scope(committed_db, write=False) as session:
                rows = session.execute(
                    select(Order.external_id, Order.total_amount).order_by(Order.external_id)
                )
                return [(str(r[0]), int(r[1])) for r in rows]

        assert wafa("demo", "--no-serve", "--customers", "60", "--seed", "8").exit_code == 0
        first = totals()
        result = wafa("demo", "--no-serve", "--customers", "60", "--seed", "8", "--reset")
        assert result.exit_code == 0, result.output
        assert "deleting the existing demo store" in result.stdout
        assert totals() == first

    def test_refuses_a_database_with_other_data(self, wafa: Invoke, committed_db: Settings) -> None:
        with session_scope(committed_db) as session:
            create_customer(session)
        result = wafa("demo", "--no-serve", "--customers", "50")
        assert result.exit_code == 1
        assert "not the demo store" in result.stderr
        with session_scope(committed_db, write=False) as session:
            assert session.scalar(select(func.count()).select_from(Order)) == 0


class TestDemoProgress:
    def test_each_step_is_counted_and_timed(self, wafa: Invoke, committed_db: Settings) -> None:
        result = wafa("demo", "--no-serve", "--customers", "40", "--seed", "3")
        assert result.exit_code == 0, result.output
        assert "about 1 minute for 40 customers" in result.stdout
        steps = re.findall(r"^\s+\d+:\d\d  \[(\d+)/(\d+)\] ", result.stdout, re.MULTILINE)
        total = int(steps[0][1])
        assert [int(n) for n, _ in steps] == list(range(1, total + 1)), result.stdout
        assert re.search(r"\d+:\d\d\s+[\d,]+ of [\d,]+ orders written", result.stdout)

    def test_a_long_step_keeps_saying_it_is_at_work(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with demo_cli.progress(heartbeat=0.2) as say:
            say("[4/5] adding the loyalty demo data")
            time.sleep(0.7)
        printed = capsys.readouterr().out
        assert printed.count("still adding the loyalty demo data") >= 2, printed
