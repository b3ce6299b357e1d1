from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

# One shop built and refreshed once for the module; every test (and the app) works in a
# savepoint of it: the conftest's ``session`` and ``client`` use this ``connection``.
from tests.analytics.test_api import connection, shop_connection  # noqa: F401
from tests.web.helpers import html_attrs, logged_in, post_form
from wafa.analytics.rfm import SEGMENT_COLOURS
from wafa.analytics.tables import AnalyticsRun, CustomerScore
from wafa.analytics.web import _ink
from wafa.auth.models import Role
from wafa.orders.models import Order, OrderLine
from wafa.web.templating import STATIC_DIR


class TestDashboard:
    def test_a_manager_sees_the_figures(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        page = client.get("/analytics")
        assert page.status_code == 200, page.text
        text = page.text
        for heading in (
            "Who comes back, month by month",
            "Customer segments",
            "What customers are worth",
            "Valuable customers at risk",
            "Can you trust the predictions?",
        ):
            assert heading in text
        # the cohort heatmap has a row per cohort and a cell per month since the first order
        assert text.count('class="num an-cell') > 10
        # the segment map links each of its 25 cells to a segment's list
        assert len(re.findall(r'class="an-tile"[^>]*href="/analytics/segments/', text)) == 25 or (
            len(re.findall(r'href="/analytics/segments/[a-z_]+" style', text)) == 25
        )
        assert 'href="/analytics"' in text  # in the sidebar

    def test_cashiers_may_not_open_it(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier)
        assert client.get("/analytics").status_code == 403

    def test_persian_is_right_to_left_with_translated_segments(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.owner, locale="fa")
        page = client.get("/analytics")
        assert page.status_code == 200
        assert html_attrs(page.text)["dir"] == "rtl"
        assert "قهرمان" in page.text  # "Champions"
        assert "Champions" not in page.text

    def test_a_segment_lists_its_customers(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        key, count = session.execute(
            select(CustomerScore.segment, func.count())
            .group_by(CustomerScore.segment)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        page = client.get(f"/analytics/segments/{key}")
        assert page.status_code == 200
        assert page.text.count('class="row-link" href="/customers/') == min(count, 50)
        assert client.get("/analytics/segments/vip").status_code == 404

    def test_refresh_now_recomputes(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        before = session.scalar(select(func.count()).select_from(AnalyticsRun))
        response = post_form(client, "/analytics/refresh", {}, page="/analytics")
        assert response.status_code == 303 and response.headers["location"] == "/analytics"
        assert session.scalar(select(func.count()).select_from(AnalyticsRun)) == (before or 0) + 1
        assert "Analytics refreshed" in client.get("/analytics").text


class TestProfilePanel:
    def test_the_profile_shows_segment_predictions_and_suggestions(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        score = session.scalars(
            select(CustomerScore).where(CustomerScore.repeat_purchases > 0)
        ).first()
        assert score is not None
        page = client.get(f"/customers/{score.customer_id}")
        assert page.status_code == 200
        text = page.text
        assert "Insights" in text and "Still a customer" in text and "Suggest" in text

    def test_a_one_off_product_the_customer_owns_is_not_suggested(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        owner = session.scalar(
            select(Order.customer_id)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(OrderLine.sku == "KET", Order.status == "paid")
            .limit(1)
        )
        assert owner is not None
        page = client.get(f"/customers/{owner}")
        suggestions = page.text.split("Suggest", 1)[1]
        assert "Kettle" not in suggestions


def _contrast(a: str, b: str) -> float:
    def lum(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_every_segment_tile_number_is_readable() -> None:
    # White on the light tiles measured 2.2-3.9:1 (axe-core flagged the demo store's map).
    for key, colour in SEGMENT_COLOURS.items():
        assert _contrast(colour, _ink(colour)) >= 4.5, key


def test_the_warning_colour_is_readable_on_the_page_and_on_cards() -> None:
    css = (STATIC_DIR / "wafa.css").read_text()
    found = re.search(r"--warning:\s*(#[0-9a-fA-F]{6})", css)
    bg = re.search(r"--bg:\s*(#[0-9a-fA-F]{6})", css)
    assert found and bg
    assert _contrast(found.group(1), bg.group(1)) >= 4.5  # #b7620a was 4.1 (expiring points)
    assert _contrast(found.group(1), "#ffffff") >= 4.5
