"""Every text of the analytics pages and the report is translated to Persian and Arabic."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file

import wafa
from wafa.web import i18n

ROOT = Path(wafa.__file__).resolve().parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "t": None}


def analytics_msgids() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "web" / "templates" / "analytics").glob("*.html"):
        for _, msg, _, _ in extract_from_file(
            "jinja2", str(path), keywords=KEYWORDS, options={"extensions": "jinja2.ext.do"}
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    for name in ("report.py", "web.py"):
        for _, msg, _, _ in extract_from_file(
            "python", str(ROOT / "analytics" / name), keywords=KEYWORDS
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    return found


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_every_analytics_string_is_translated(language: str) -> None:
    catalogue = i18n.translations(language)
    msgids = analytics_msgids()
    assert len(msgids) > 150
    missing = sorted(m for m in msgids if m not in catalogue)
    assert not missing, f"untranslated in {language}: {missing}"


def test_a_lone_percent_sign_never_reaches_the_formatter() -> None:
    # Templates format every message with %: "90% range" would print "90{}ange".
    for msgid in analytics_msgids():
        assert "% " not in msgid.replace("%%", ""), msgid
