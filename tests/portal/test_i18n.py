"""The portal speaks Arabic and Persian: every string translated, placeholders kept,
right to left with the language's digits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.portal.helpers import member, sign_in
from wafa.app.factory import create_app
from wafa.core.settings import Settings
from wafa.web import i18n
from wafa.web.i18n import LOCALE_DIR
from wafa.web.templating import TEMPLATE_DIR

SRC = Path(i18n.__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _msgids() -> set[str]:
    found: set[str] = set()
    for path in (TEMPLATE_DIR / "portal").rglob("*.html"):
        for _, msg, _, _ in extract_from_file(
            "jinja2", str(path), keywords=KEYWORDS, options={"extensions": "jinja2.ext.do"}
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    for path in (SRC / "portal").rglob("*.py"):
        for _, msg, _, _ in extract_from_file("python", str(path), keywords=KEYWORDS):
            found.add(msg if isinstance(msg, str) else msg[0])
    return found


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_every_portal_string_is_translated(language: str) -> None:
    known = i18n.translations(language)
    msgids = _msgids()
    assert len(msgids) > 40
    missing = sorted(m for m in msgids if m not in known)
    assert not missing, f"untranslated in {language}: {missing}"


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_translations_keep_their_placeholders(language: str) -> None:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "portal.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    for message in catalog:
        if message.id:
            wanted = set(PLACEHOLDER.findall(str(message.id)))
            assert set(PLACEHOLDER.findall(str(message.string))) == wanted, message.id


def test_a_persian_customer_reads_right_to_left_with_persian_digits(
    client: TestClient, session: Session, settings: Settings
) -> None:
    customer = member(session, settings, points=1250, name="مریم احمدی", language="fa")
    sign_in(client, session, settings, customer)
    page = client.get("/portal/").text
    assert 'lang="fa" dir="rtl"' in page
    assert "۱٬۲۵۰" in page and "1250" not in page and "1,250" not in page
    assert "سلام مریم" in page


def test_the_sign_in_page_follows_the_chosen_language(client: TestClient) -> None:
    page = client.get("/portal/login?lang=ar").text
    assert 'lang="ar" dir="rtl"' in page and "أرسل لي رابطًا" in page


def test_the_business_colour_reaches_the_portal(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    app = create_app(settings.model_copy(update={"brand_colour": "#7a1f5c"}))
    app.state.write_sessions = app.state.read_sessions = session_factory
    with TestClient(app) as client:
        assert "--brand: #7a1f5c" in client.get("/portal/login").text
