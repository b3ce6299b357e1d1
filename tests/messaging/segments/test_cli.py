"""``wafa segment``: list, count, export, rebuild the order figures."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.cli.conftest import Invoke
from tests.conftest import FrozenClock
from tests.factories import create_customer, create_order
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.messaging.segments import service
from wafa.messaging.segments.rules import parse_rules
from wafa.messaging.segments.schemas import SegmentCreate


def _segment(settings: Settings) -> str:
    with session_scope(settings) as s:
        create_customer(s, name="=cmd|'/c calc'!A1", email="a@example.com", city="Tehran")
        create_customer(s, name="Sara", email="s@example.com", city="Shiraz")
        create_order(s, customer={"email": "a@example.com"})
        segment = service.create_segment(
            s,
            settings=settings,
            data=SegmentCreate(
                name="Tehran",
                rules=parse_rules({"all": [{"field": "city", "op": "=", "value": "Tehran"}]}),
            ),
            by="test",
        )
        return str(segment.id)


class TestSegmentCommands:
    def test_list_and_count(self, wafa: Invoke, committed_db: Settings, clock: FrozenClock) -> None:
        sid = _segment(committed_db)
        listed = wafa("segment", "list")
        assert listed.exit_code == 0 and sid in listed.stdout and "Tehran" in listed.stdout
        counted = wafa("segment", "count", sid)
        assert counted.exit_code == 0 and counted.stdout.strip() == "1"
        assert wafa("segment", "count", "nope").exit_code == 1

    def test_export_escapes_formulas(
        self, wafa: Invoke, committed_db: Settings, clock: FrozenClock, tmp_path: Path
    ) -> None:
        sid = _segment(committed_db)
        out = tmp_path / "tehran.csv"
        result = wafa("segment", "export", sid, "--out", str(out))
        assert result.exit_code == 0, result.output
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
        assert [r["name"] for r in rows] == ["'=cmd|'/c calc'!A1"]

    def test_rebuild_and_check(
        self, wafa: Invoke, committed_db: Settings, clock: FrozenClock
    ) -> None:
        _segment(committed_db)
        check = wafa("segment", "rebuild-stats", "--check")
        assert check.exit_code == 1 and "1 customers" in check.stdout
        rebuilt = wafa("segment", "rebuild-stats")
        assert rebuilt.exit_code == 0 and "order figures of 1 customers" in rebuilt.stdout
        assert wafa("segment", "rebuild-stats", "--check").exit_code == 0
