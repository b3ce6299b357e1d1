"""The next-visit offers page (manager), its form, its report, and the POS receipt view;
English, Arabic and Persian; every string translated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.loyalty.helpers import member, place
from tests.web.helpers import html_attrs, logged_in, post_form
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.loyalty import accrual
from wafa.loyalty.bounceback import service as bounceback
from wafa.loyalty.models import BounceBackRule
from wafa.web import i18n
from wafa.web.templating import TEMPLATE_DIR

SRC = Path(i18n.__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
FORM = {
    "name": "Come back soon",
    "active": "yes",
    "kind": "discount_percent",
    "percent": "15",
    "min_amount": "5.00",
    "valid_days": "10",
    "holdout_percent": "20",
}


def test_add_edit_and_read(client: TestClient, session: Session) -> None:
    logged_in(client, session, role=Role.manager)
    page = client.get("/loyalty/bounce-back")
    assert page.status_code == 200 and "No next-visit offers yet" in page.text
    assert 'href="/loyalty/bounce-back"' in page.text  # in the sidebar
    made = post_form(client, "/loyalty/bounce-back/new", FORM, page="/loyalty/bounce-back/new")
    assert made.status_code == 303, made.text
    rule = session.scalars(select(BounceBackRule)).one()
    assert (rule.percent_bp, rule.min_amount, rule.valid_days, rule.holdout_percent) == (
        1500,
        500,
        10,
        20,
    )
    form = client.get(f"/loyalty/bounce-back/{rule.id}")
    assert 'value="15"' in form.text and 'value="5.00"' in form.text
    changed = post_form(
        client,
        f"/loyalty/bounce-back/{rule.id}",
        {**FORM, "active": "", "valid_days": "7"},
        page=f"/loyalty/bounce-back/{rule.id}",
    )
    assert changed.status_code == 303
    session.refresh(rule)
    assert (rule.active, rule.valid_days) == (False, 7)
    page = client.get("/loyalty/bounce-back")
    assert "Come back soon" in page.text and "Do they come back?" in page.text


def test_bad_input_is_redrawn_naming_the_field(client: TestClient, session: Session) -> None:
    logged_in(client, session, role=Role.manager)
    answer = post_form(
        client,
        "/loyalty/bounce-back/new",
        {**FORM, "valid_days": "0", "percent": ""},
        page="/loyalty/bounce-back/new",
    )
    assert answer.status_code == 422
    assert 'id="valid_days-error"' in answer.text
    assert session.scalars(select(BounceBackRule)).first() is None


def test_a_cashier_may_not_manage_offers(client: TestClient, session: Session) -> None:
    logged_in(client, session, role=Role.cashier)
    assert client.get("/loyalty/bounce-back").status_code == 403


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_right_to_left(client: TestClient, session: Session, language: str) -> None:
    logged_in(client, session, role=Role.owner, locale=language)
    page = client.get("/loyalty/bounce-back/new")
    assert page.status_code == 200
    attrs = html_attrs(page.text)
    assert (attrs["lang"], attrs["dir"]) == (language, "rtl")
    assert "Which purchases qualify" not in page.text


def test_pos_receipt_shows_the_coupon(
    client: TestClient, session: Session, settings: Settings
) -> None:
    from wafa.loyalty.bounceback.schemas import RuleCreate

    bounceback.create_rule(
        session,
        data=RuleCreate.model_validate(
            {"name": "Back soon", "percent_bp": 1000, "holdout_percent": 0}
        ),
        by="test",
    )
    order = place(session, member(session))
    accrual.accrue_order(session, settings=settings, order_id=order.id)
    offer = bounceback.coupon_for_order(session, settings=settings, order_id=order.id)
    assert offer is not None
    logged_in(client, session, role=Role.cashier, locale="fa")
    answer = client.get(f"/pos/orders/{order.id}/receipt")
    assert answer.status_code == 200
    assert offer.code in answer.text and "برای مراجعهٔ بعدی" in answer.text
    other = place(session, None)
    assert "data-pos-next-visit" not in client.get(f"/pos/orders/{other.id}/receipt").text


def _msgids() -> set[str]:
    found: set[str] = set()
    for name in ("bounceback.html", "bounceback_form.html", "_pos_receipt.html"):
        for _, msg, _, _ in extract_from_file(
            "jinja2",
            str(TEMPLATE_DIR / "loyalty" / name),
            keywords=KEYWORDS,
            options={"extensions": "jinja2.ext.do"},
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    for _, msg, _, _ in extract_from_file(
        "python", str(SRC / "loyalty" / "web" / "bounceback.py"), keywords=KEYWORDS
    ):
        found.add(msg if isinstance(msg, str) else msg[0])
    return found


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_every_string_is_translated(language: str) -> None:
    catalogue = i18n.translations(language)
    missing = sorted(m for m in _msgids() if m not in catalogue)
    assert not missing, f"untranslated in {language}: {missing}"


def test_the_report_by_offer_and_period(
    client: TestClient, session: Session, settings: Settings
) -> None:
    from wafa.loyalty.bounceback.schemas import RuleCreate

    kept = bounceback.create_rule(
        session,
        data=RuleCreate.model_validate({"name": "Kept", "percent_bp": 1000, "holdout_percent": 0}),
        by="test",
    )
    order = place(session, member(session))
    accrual.accrue_order(session, settings=settings, order_id=order.id)
    logged_in(client, session, role=Role.manager, locale="fa")
    day = order.placed_at.date().isoformat()

    def qualifying(query: str) -> str:
        page = client.get("/loyalty/bounce-back" + query)
        assert page.status_code == 200
        found = re.search(r"خریدهای واجد شرایط</th><td class=\"num\">([^<]+)<", page.text)
        assert found, page.text
        return found.group(1)

    assert qualifying("") == "۱"
    assert qualifying(f"?rule={kept.id}") == "۱"
    # Gregorian days typed by a Persian reader are read as Jalali: 2026 is far in the future.
    assert qualifying(f"?since={day}") == "۰"
    page = client.get("/loyalty/bounce-back?since=1405/01/10&until=1405/01/01")
    assert 'id="bb-until-error"' in page.text and "روز آخر پیش از روز اول است." in page.text
    assert 'id="bb-since-error"' in client.get("/loyalty/bounce-back?since=nonsense").text
