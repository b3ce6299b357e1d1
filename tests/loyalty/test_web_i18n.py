"""The loyalty screens speak Arabic and Persian: every string is translated, placeholders match."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.loyalty.helpers import member
from tests.web.helpers import html_attrs, logged_in
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.loyalty import service, texts
from wafa.web import i18n
from wafa.web.i18n import LOCALE_DIR
from wafa.web.templating import TEMPLATE_DIR

SRC = Path(i18n.__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def _msgids() -> set[str]:
    """Every msgid of the loyalty templates and modules, and the engine's texts they show."""
    found: set[str] = set()
    for path in (TEMPLATE_DIR / "loyalty").rglob("*.html"):
        for _, msg, _, _ in extract_from_file(
            "jinja2", str(path), keywords=KEYWORDS, options={"extensions": "jinja2.ext.do"}
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    for path in [*(SRC / "loyalty" / "web").glob("*.py"), SRC / "loyalty" / "views.py"]:
        for _, msg, _, _ in extract_from_file("python", str(path), keywords=KEYWORDS):
            found.add(msg if isinstance(msg, str) else msg[0])
    for table in (
        texts.COUPON_REASONS,
        texts.ENTRY_REASONS,
        texts.RULES,
        texts.TIER_REASONS,
        texts.REFERRAL_FLAGS,
    ):
        found.update(table.values())
    return found


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_every_loyalty_string_is_translated(language: str) -> None:
    catalogue = i18n.translations(language)
    msgids = _msgids()
    assert len(msgids) > 400
    missing = sorted(m for m in msgids if m not in catalogue)
    assert not missing, f"untranslated in {language}: {missing}"


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_translations_keep_their_placeholders(language: str) -> None:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "loyalty_web.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else [str(i) for i in message.id]
        raw = message.string
        strings = [raw] if isinstance(raw, str) else [str(s) for s in raw or ()]
        wanted: set[str] = set().union(*(PLACEHOLDER.findall(i) for i in ids))
        for text in strings:
            got = set(PLACEHOLDER.findall(text))
            # Arabic plural forms for 0, 1 and 2 spell the number out.
            assert got <= wanted and (got == wanted or len(strings) > 1), (message.id, text)


class TestRightToLeft:
    @pytest.mark.parametrize("language", ["ar", "fa"])
    def test_the_settings_page_is_right_to_left_and_translated(
        self, client: TestClient, session: Session, language: str
    ) -> None:
        logged_in(client, session, role=Role.owner, locale=language)
        page = client.get("/loyalty/program")
        assert html_attrs(page.text)["dir"] == "rtl"
        assert i18n.gettext(language, "Version history") in page.text
        assert "Version history" not in page.text

    def test_the_persian_ledger_reads_in_persian(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.cashier, locale="fa")
        c = member(session)
        service.adjust(
            session, settings=settings, customer_id=c.id, points=25, reason="هدیه", by="t"
        )
        page = client.get(f"/customers/{c.id}/loyalty").text
        assert "اصلاح به دست کارکنان: <bdi>هدیه</bdi>" in page
        assert "+۲۵" in page
