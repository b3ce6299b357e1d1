from __future__ import annotations

from sqlalchemy import update

from tests.cli.conftest import Invoke
from tests.factories import create_customer
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.customers.models import Customer


class TestDoctor:
    def test_healthy_then_a_cycle_exits_1(self, wafa: Invoke, committed_db: Settings) -> None:
        ok = wafa("doctor")
        assert ok.exit_code == 0, ok.output
        assert "no merge cycles" in ok.stdout
        with session_scope(committed_db) as s:
            a, b = create_customer(s), create_customer(s)
            s.flush()
            s.execute(update(Customer).where(Customer.id == a.id).values(merged_into_id=b.id))
            s.execute(update(Customer).where(Customer.id == b.id).values(merged_into_id=a.id))
        bad = wafa("doctor")
        assert bad.exit_code == 1
        assert "merge cycle" in bad.stdout and "1 problems found" in bad.output
