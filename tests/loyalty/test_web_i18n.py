"""The loyalty screens speak Arabic and Persian: every string is translated, placeholders match."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import deliver, member, place, set_rules
from tests.web.helpers import html_attrs, logged_in, post_form
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


class TestPersianDigits:
    """Persian pages wrote order numbers, a flash message, date hints and an amount example
    in Latin digits, and an English badge name came out reversed in right-to-left text."""

    def test_order_numbers_in_the_ledger(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=0)
        c = member(session)
        place(session, c, number="#1043")
        deliver(session, settings)
        logged_in(client, session, role=Role.cashier, locale="fa")
        page = client.get(f"/customers/{c.id}/loyalty").text
        assert "<bdi>#۱۰۴۳</bdi>" in page
        assert "#1043" not in page

    def test_the_flash_after_adding_points(self, client: TestClient, session: Session) -> None:
        # An owner: a manager's hand adjustments stop at 1,000 points (auth.permissions).
        logged_in(client, session, role=Role.owner, locale="fa")
        c = member(session)
        done = post_form(
            client,
            f"/customers/{c.id}/loyalty/adjust",
            {"points": "1250", "reason": "هدیه"},
            page=f"/customers/{c.id}/loyalty/adjust",
        )
        assert done.status_code == 303
        page = client.get(done.headers["location"]).text
        assert i18n.gettext("fa", "%(points)s points added.", points="۱٬۲۵۰") in page

    def test_date_hints_and_the_amount_example(
        self, client: TestClient, session: Session, clock: FrozenClock
    ) -> None:
        logged_in(client, session, role=Role.manager, locale="fa")
        form = client.get("/loyalty/rewards/new").text
        assert "۱۴۰۴/۱۲/۲۴" in form  # today (15 March 2026) as the example, in Jalali
        assert "2026" not in form and "1404/" not in form
        refused = post_form(
            client,
            "/loyalty/rewards/new",
            {"name": "x", "kind": "discount_fixed", "cost_points": "5", "amount": "پنج"},
            page="/loyalty/rewards/new",
        )
        assert "۱۲٫۵۰" in refused.text and "12.50" not in refused.text

    def test_an_english_badge_name_is_isolated(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(
            session,
            pending_days=0,
            badges=[{"code": "regular", "name": "2 visits", "kind": "visits", "threshold": 2}],
        )
        c = member(session)
        place(session, c)
        place(session, c)
        deliver(session, settings)
        logged_in(client, session, role=Role.cashier, locale="fa")
        page = client.get(f"/customers/{c.id}").text
        assert "<bdi>2 visits</bdi>" in page
