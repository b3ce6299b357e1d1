"""The campaign screens speak Arabic and Persian: every string translated, placeholders kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from wafa.web import i18n
from wafa.web.i18n import LOCALE_DIR
from wafa.web.templating import TEMPLATE_DIR

SRC = Path(i18n.__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _msgids() -> set[str]:
    found: set[str] = set()
    for path in (TEMPLATE_DIR / "messaging" / "campaigns").rglob("*.html"):
        for _, msg, _, _ in extract_from_file(
            "jinja2", str(path), keywords=KEYWORDS, options={"extensions": "jinja2.ext.do"}
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    for path in (SRC / "messaging" / "campaigns" / "web").glob("*.py"):
        for _, msg, _, _ in extract_from_file("python", str(path), keywords=KEYWORDS):
            found.add(msg if isinstance(msg, str) else msg[0])
    return found


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_every_campaign_string_is_translated(language: str) -> None:
    known = i18n.translations(language)
    msgids = _msgids()
    assert len(msgids) > 80
    missing = sorted(m for m in msgids if m not in known)
    assert not missing, f"untranslated in {language}: {missing}"


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_translations_keep_their_placeholders(language: str) -> None:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messaging_campaigns.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    for message in catalog:
        if message.id:
            wanted = set(PLACEHOLDER.findall(str(message.id)))
            assert set(PLACEHOLDER.findall(str(message.string))) == wanted, message.id
            assert ("{{ coupon_code }}" in str(message.id)) == (
                "{{ coupon_code }}" in str(message.string)
            ), message.id
