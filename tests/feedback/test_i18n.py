"""Every word feedback shows (its templates, its modules) is translated to Arabic and Persian."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file

from wafa.feedback import service
from wafa.web import i18n
from wafa.web.templating import TEMPLATE_DIR

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def feedback_msgids() -> set[str]:
    found: set[str] = set()
    for path in (TEMPLATE_DIR / "feedback").rglob("*.html"):
        for _, msg, _, _ in extract_from_file(
            "jinja2", str(path), keywords=KEYWORDS, options={"extensions": "jinja2.ext.do"}
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    for path in Path(service.__file__).resolve().parent.rglob("*.py"):
        for _, msg, _, _ in extract_from_file("python", str(path), keywords=KEYWORDS):
            found.add(msg if isinstance(msg, str) else msg[0])
    return found


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_every_feedback_string_is_translated(language: str) -> None:
    catalogue = i18n.translations(language)
    missing = sorted(m for m in feedback_msgids() if m not in catalogue)
    assert not missing, f"untranslated in {language}: {missing}"
