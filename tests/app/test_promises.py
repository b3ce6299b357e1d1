"""What the package says about itself: the licence ships with it, and it promises only what exists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import wafa
import wafa.web
from wafa.app.domains import DOMAINS

ROOT = Path(__file__).resolve().parents[2]

#: Words that promise a feature, and the domain that has to exist before they may be said.
FEATURES = {
    r"\bfeedback\b": "feedback",
    r"\bsurveys?\b": "feedback",
    r"\bcomplaints?\b": "feedback",
    r"\bportal\b": "portal",
}


def _project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]  # type: ignore[no-any-return]


def test_the_agpl_text_ships_with_the_code() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith("GNU AFFERO GENERAL PUBLIC LICENSE")
    assert "Version 3, 19 November 2007" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert "How to Apply These Terms to Your New Programs" in text
    assert len(text.splitlines()) > 600  # the whole licence, not a pointer to it
    project = _project()
    assert project["license"] == "AGPL-3.0-or-later"
    assert project["license-files"] == ["LICENSE"]


def test_descriptions_promise_only_domains_that_exist() -> None:
    from typer.main import get_command

    from wafa.cli.main import app

    existing = {domain.name for domain in DOMAINS}
    texts = {
        "pyproject description": str(_project()["description"]),
        "wafa docstring": wafa.__doc__ or "",
        "wafa.web docstring": wafa.web.__doc__ or "",
        "wafa --help": get_command(app).help or "",
    }
    for where, text in texts.items():
        for pattern, domain in FEATURES.items():
            if re.search(pattern, text, re.IGNORECASE):
                assert domain in existing, f"{where} promises {pattern!r}: no {domain} domain yet"
