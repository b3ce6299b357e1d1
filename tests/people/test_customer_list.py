"""The customer list: sort by name, last order, spend and points in both directions,
stable across pages; filters by tier, tag, city, consent, spend, last order and RFM
segment, kept in the URL, in the page links and in the CSV export.

The shop is the segment tests' (``tests/messaging/segments/population.py``), worked out
on paper: Ava spent 60.00 (last order 15 March in Tehran, 500 points, gold, champions,
email), Ben 15.00 (1 October 2025, 50 points, silver, at risk, SMS), Dee 20.00 in dollars
(14 December 2025, no points, lost, both), Cy nothing (no order, no points, no consent).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.messaging.segments.population import NOW, build, business
from tests.web.helpers import logged_in
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.people import queries

ROW = re.compile(r'class="row-link" href="/customers/([0-9a-f-]{36})"')


@pytest.fixture
def shop(
    app: Any, session: Session, clock: FrozenClock, settings: Settings
) -> dict[str, uuid.UUID]:
    biz = business(settings.database_url)
    app.state.settings = biz
    ids = build(session, clock, biz)
    clock.set(NOW)
    return ids


def names(page: str, ids: dict[str, uuid.UUID]) -> list[str]:
    by_id = {str(v): k for k, v in ids.items()}
    return [by_id[found] for found in ROW.findall(page)]


def listed(client: TestClient, ids: dict[str, uuid.UUID], **params: str) -> list[str]:
    page = client.get("/customers", params=params)
    assert page.status_code == 200, page.text[:2000]
    return names(page.text, ids)


def exported(client: TestClient, ids: dict[str, uuid.UUID], **params: str) -> list[str]:
    answer = client.get("/customers/export.csv", params=params)
    assert answer.status_code == 200, answer.text[:2000]
    rows = csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff")))
    by_id = {str(v): k for k, v in ids.items()}
    return [by_id[r["customer_id"]] for r in rows]


def by_id_desc(ids: dict[str, uuid.UUID], *names_: str) -> list[str]:
    return sorted(names_, key=lambda n: ids[n], reverse=True)


class TestSort:
    def test_each_key_both_ways_with_the_missing_last(
        self, client: TestClient, session: Session, shop: dict[str, uuid.UUID]
    ) -> None:
        logged_in(client, session)
        zero_points = by_id_desc(shop, "cy", "dee")
        cases: list[tuple[dict[str, str], list[str]]] = [
            ({"sort": "name", "dir": "asc"}, ["ava", "ben", "cy", "dee"]),
            ({"sort": "name"}, ["dee", "cy", "ben", "ava"]),
            ({"sort": "spend"}, ["ava", "dee", "ben", "cy"]),
            ({"sort": "spend", "dir": "asc"}, ["cy", "ben", "dee", "ava"]),
            ({"sort": "last_order"}, ["ava", "dee", "ben", "cy"]),
            ({"sort": "last_order", "dir": "asc"}, ["ben", "dee", "ava", "cy"]),
            ({"sort": "points"}, ["ava", "ben", *zero_points]),
            ({"sort": "points", "dir": "asc"}, [*reversed(zero_points), "ben", "ava"]),
            ({}, by_id_desc(shop, "ava", "ben", "cy", "dee")),
        ]
        for params, expected in cases:
            assert listed(client, shop, **params) == expected, params

    def test_pages_are_stable_and_cover_everyone_once(
        self, session: Session, shop: dict[str, uuid.UUID], app: Any
    ) -> None:
        settings = app.state.settings
        for sort in queries.SORTS:
            for descending in (True, False):
                query = queries.ListQuery(sort=sort, descending=descending)
                seen: list[uuid.UUID] = []
                for number in (1, 2, 3):
                    page = queries.directory(
                        session, q=None, limit=2, settings=settings, query=query, page=number
                    )
                    assert page.total == 4 and page.pages == 2
                    seen += [row.customer.id for row in page.rows]
                assert sorted(seen) == sorted(shop[n] for n in ("ava", "ben", "cy", "dee"))
                again = queries.directory(
                    session, q=None, limit=4, settings=settings, query=query, page=1
                )
                assert [r.customer.id for r in again.rows] == seen, (sort, descending)

    def test_header_links_sort_and_say_which_way(
        self, client: TestClient, session: Session, shop: dict[str, uuid.UUID]
    ) -> None:
        logged_in(client, session)
        page = client.get("/customers", params={"sort": "spend", "tag": "coffee"}).text
        assert 'aria-sort="descending"' in page
        # The spend header turns the order round; the filter stays.
        assert 'href="/customers?tag=coffee&amp;sort=spend&amp;dir=asc"' in page
        assert 'href="/customers?tag=coffee&amp;sort=name&amp;dir=asc"' in page


class TestFilters:
    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"tier": "gold"}, {"ava"}),
            ({"tier": "silver"}, {"ben"}),
            ({"tag": "coffee"}, {"ava", "ben"}),
            ({"city": "tehran"}, {"ava"}),
            ({"consent": "email"}, {"ava", "dee"}),
            ({"consent": "sms"}, {"ben", "dee"}),
            ({"consent": "none"}, {"cy"}),
            ({"spend_min": "15.00"}, {"ava", "ben", "dee"}),
            ({"spend_min": "15.01", "spend_max": "60"}, {"ava", "dee"}),
            ({"spend_max": "1"}, {"cy"}),
            ({"last_from": "2025-12-01"}, {"ava", "dee"}),
            ({"last_to": "2025-12-14"}, {"ben", "dee"}),
            ({"last_from": "2025-12-15", "last_to": "2026-03-14"}, set()),
            ({"rfm": "at_risk"}, {"ben"}),
            ({"tag": "coffee", "consent": "sms"}, {"ben"}),
            ({"tag": "coffee", "q": "ava"}, {"ava"}),
        ],
    )
    def test_each_filter(
        self,
        client: TestClient,
        session: Session,
        shop: dict[str, uuid.UUID],
        params: dict[str, str],
        expected: set[str],
    ) -> None:
        logged_in(client, session)
        assert set(listed(client, shop, **params)) == expected
        page = client.get("/customers", params=params).text
        count = len(expected)
        assert f"{count} customer" in page
        assert set(exported(client, shop, **params)) == expected

    def test_the_export_follows_the_filters_and_the_order(
        self, client: TestClient, session: Session, shop: dict[str, uuid.UUID]
    ) -> None:
        logged_in(client, session)
        params = {"tag": "coffee", "sort": "spend", "dir": "asc"}
        page = client.get("/customers", params=params).text
        assert 'href="/customers/export.csv?tag=coffee&amp;sort=spend&amp;dir=asc"' in page
        assert exported(client, shop, **params) == ["ben", "ava"]
        answer = client.get("/customers/export.csv", params=params)
        row = next(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
        assert row["points"] == "50" and row["tags"] == "coffee" and row["sms_consent"] == "yes"

    def test_the_next_page_keeps_the_filters(
        self, client: TestClient, session: Session, shop: dict[str, uuid.UUID]
    ) -> None:
        logged_in(client, session)
        for n in range(30):
            from tests.factories import create_customer

            create_customer(session, name=f"Tea {n}", email=f"tea{n}@example.com", tags=["tea"])
        page = client.get("/customers", params={"tag": "tea", "sort": "name", "dir": "asc"})
        assert "31 customers" in page.text and "Page 1 of 2" in page.text
        assert 'href="/customers?tag=tea&amp;sort=name&amp;dir=asc&amp;page=2"' in page.text
        second = client.get(
            "/customers", params={"tag": "tea", "sort": "name", "dir": "asc", "page": "2"}
        )
        assert len(ROW.findall(second.text)) == 6

    def test_a_bad_value_names_its_field(
        self, client: TestClient, session: Session, shop: dict[str, uuid.UUID]
    ) -> None:
        logged_in(client, session)
        page = client.get("/customers", params={"spend_min": "abc", "last_to": "31/31/2025"})
        assert page.status_code == 422
        assert 'id="spend_min-error"' in page.text and 'id="last_to-error"' in page.text
        assert client.get("/customers/export.csv", params={"spend_min": "abc"}).status_code == 422
        assert client.get("/customers", params={"tier": "platinum"}).status_code == 422
        assert client.get("/customers", params={"sort": "age"}).status_code == 422

    def test_persian_dates_and_digits(
        self, client: TestClient, session: Session, shop: dict[str, uuid.UUID]
    ) -> None:
        logged_in(client, session, locale="fa")
        # 1404/09/10 is 1 December 2025; typed in Persian digits.
        page = client.get("/customers", params={"last_from": "۱۴۰۴/۰۹/۱۰"})
        assert page.status_code == 200
        assert set(names(page.text, shop)) == {"ava", "dee"}
        assert "فیلترها" in page.text and "۲ مشتری" in page.text


def test_cashiers_see_the_list_but_no_export(
    client: TestClient, session: Session, shop: dict[str, uuid.UUID]
) -> None:
    logged_in(client, session, role=Role.cashier)
    page = client.get("/customers", params={"tag": "coffee"})
    assert page.status_code == 200 and "export.csv" not in page.text
