"""The assembly reads everything from the declarations; a listed domain cannot go missing."""

from __future__ import annotations

import importlib
import sys

import pytest

from wafa.app import domains
from wafa.core.settings import Settings


def test_every_domain_package_is_declared() -> None:
    """Every package with a declaration.py is in DOMAINS (none forgotten, none made up)."""
    from pathlib import Path

    root = Path(domains.__file__).resolve().parents[1]
    declared = {p.parent.name for p in root.glob("*/declaration.py")}
    assert declared == {d.name for d in domains.DOMAINS}


def test_consumers_and_tasks_come_from_the_declarations(settings: Settings) -> None:
    assert [c.name for c in domains.consumers(settings)] == [
        "loyalty",
        "messaging",
        "messaging-segments",
        "gatherings",
        "flows",
        "integrations-webhooks",
        "partners",
    ]
    names = {t.name for t in domains.tasks()}
    assert {"loyalty", "loyalty-release", "analytics"} <= names


def test_a_listed_domain_that_is_missing_is_an_import_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "wafa.loyalty.declaration", None)  # as if deleted
    monkeypatch.delitem(sys.modules, "wafa.app.domains")
    with pytest.raises(ImportError):
        importlib.import_module("wafa.app.domains")
    monkeypatch.undo()
    importlib.import_module("wafa.app.domains")
