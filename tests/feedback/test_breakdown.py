"""Survey scores by the location, channel, staff member and product of the order each
answer is about: the API's figures equal a direct computation over the same answers."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import create_customer, create_order
from tests.feedback.helpers import make_survey
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.feedback import breakdown, scoring, service
from wafa.feedback.models import AnswerChannel
from wafa.orders.models import Location, Order

PASSWORD = "a-long-password-1"


def _shops(session: Session) -> None:
    for code, name in (("north", "North shop"), ("south", "South shop")):
        if session.query(Location).filter_by(code=code).first() is None:
            session.add(Location(code=code, name=name, kind="shop"))
    session.flush()


def _seed(
    session: Session, settings: Settings, kind: str, *, tag: str = ""
) -> tuple[uuid.UUID, list[dict[str, Any]]]:
    """A survey with 120 answers about orders in two shops and online, three products and
    two staff members; returns what each answer is about, for the direct computation."""
    rng = random.Random(11)
    _shops(session)
    survey = make_survey(session, kind)
    staff = [
        auth.create_user(
            session, email=f"s{i}{tag}@shop.example", password=PASSWORD, role=Role.cashier
        )
        for i in range(2)
    ]
    products = [("LAT", "Latte"), ("TEA", "Tea"), ("CAK", "Cake")]
    low, high = scoring.SCALES[kind]
    made: list[dict[str, Any]] = []
    for _ in range(120):
        customer = create_customer(session)
        channel, location = rng.choice(
            [("in_store", "north"), ("in_store", "south"), ("online", None)]
        )
        bought = rng.sample(products, rng.randint(1, 2))
        order = create_order(
            session,
            channel=channel,
            location=location,
            lines=[{"sku": s, "name": n, "quantity": 1, "unit_price": 300} for s, n in bought],
        )
        who = rng.choice([*staff, None])
        score = rng.randint(low, high)
        service.answer(
            session,
            settings=settings,
            survey_id=survey.id,
            customer_id=customer.id,
            occasion=f"order:{order.id}",
            score=score,
            channel=AnswerChannel.api,
            staff_id=who.id if who else None,
        )
        made.append(
            {
                "location": str(order.location_id) if order.location_id else None,
                "channel": channel,
                "staff": str(who.id) if who else None,
                "product": [s for s, _ in bought],
                "score": score,
            }
        )
    # One answer about no order at all.
    stranger = create_customer(session)
    service.answer(
        session,
        settings=settings,
        survey_id=survey.id,
        customer_id=stranger.id,
        occasion="visit:1",
        score=high,
        channel=AnswerChannel.api,
    )
    made.append(
        {"location": None, "channel": None, "staff": None, "product": [None], "score": high}
    )
    session.flush()
    return survey.id, made


def _direct(kind: str, made: list[dict[str, Any]], by: str) -> dict[str | None, dict[str, Any]]:
    groups: dict[str | None, list[int]] = defaultdict(list)
    for answer in made:
        keys = answer[by] if by == "product" else [answer[by]]
        for key in keys:
            groups[key].append(answer["score"])
    out: dict[str | None, dict[str, Any]] = {}
    for key, scores in groups.items():
        n = len(scores)
        if kind == "nps":
            promoters = sum(1 for s in scores if s >= 9)
            detractors = sum(1 for s in scores if s <= 6)
            out[key] = {"responses": n, "promoters": promoters, "detractors": detractors}
        else:
            good = sum(1 for s in scores if s >= (4 if kind == "csat" else 5))
            out[key] = {"responses": n, "satisfied": good}
    return out


def _half_up(x: float) -> int:
    return int(x + 0.5) if x >= 0 else -int(-x + 0.5)


class TestBreakdown:
    def test_equal_to_a_direct_computation(
        self, api: TestClient, session: Session, settings: Settings
    ) -> None:
        for kind in ("nps", "csat", "ces"):
            survey_id, made = _seed(session, settings, kind, tag=kind)
            for by in breakdown.DIMENSIONS:
                body = api.get(f"/api/v1/surveys/{survey_id}/breakdown", params={"by": by}).json()
                assert body["by"] == by and body["kind"] == kind
                got = {g["value"]: g for g in body["groups"]}
                expected = _direct(kind, made, by)
                assert set(got) == set(expected), (kind, by)
                for key, want in expected.items():
                    group = got[key]
                    assert group["responses"] == want["responses"], (kind, by, key)
                    if kind == "nps":
                        assert group["promoters"] == want["promoters"]
                        assert group["detractors"] == want["detractors"]
                        n, p, d = want["responses"], want["promoters"], want["detractors"]
                        assert group["score"] == _half_up(100 * (p - d) / n)
                    else:
                        assert group["satisfied"] == want["satisfied"]
                        assert group["score"] == _half_up(
                            100 * want["satisfied"] / want["responses"]
                        )
                    assert group["small"] == (want["responses"] < 30)
                # The group without an order (or staff member) comes last.
                assert body["groups"][-1]["value"] is None

    def test_labels_name_the_location_and_product(
        self, api: TestClient, session: Session, settings: Settings
    ) -> None:
        survey_id, _ = _seed(session, settings, "nps")
        by_location = api.get(f"/api/v1/surveys/{survey_id}/breakdown?by=location").json()
        names = {
            session.scalar(select(Location.name).where(Location.id == uuid.UUID(g["value"])))
            for g in by_location["groups"]
            if g["value"]
        }
        assert {g["label"] for g in by_location["groups"] if g["value"]} == names
        by_product = api.get(f"/api/v1/surveys/{survey_id}/breakdown?by=product").json()
        assert {g["label"] for g in by_product["groups"] if g["value"]} == {"Latte", "Tea", "Cake"}
        assert api.get(f"/api/v1/surveys/{survey_id}/breakdown?by=colour").status_code == 422

    def test_margin_is_the_95_percent_half_width(self) -> None:
        # 50 promoters, 30 passives, 20 detractors of 100: NPS 30, sd of +1/0/-1 answers
        # sqrt(0.7 - 0.09) = 0.781, half-width 1.96 * 0.781 / 10 = 15.3 points.
        figures = scoring.score("nps", [10] * 50 + [7] * 30 + [0] * 20)
        assert figures.score == 30 and breakdown.margin(figures) == 15
        csat = scoring.score("csat", [5] * 8 + [1] * 2)
        assert breakdown.margin(csat) == 25  # 1.96 * sqrt(0.16 / 10) = 0.248
        assert breakdown.margin(scoring.score("nps", [])) is None


class TestAnswerKnowsItsOrder:
    def test_the_link_carries_order_and_staff_to_the_answer(
        self, session: Session, settings: Settings
    ) -> None:
        survey = make_survey(session, "csat")
        cashier = auth.create_user(
            session, email="c@shop.example", password=PASSWORD, role=Role.cashier
        )
        customer = create_customer(session)
        _shops(session)
        order = create_order(session, channel="in_store", location="north")
        link = service.survey_link(
            session,
            settings=settings,
            customer_id=customer.id,
            occasion="visit:today",
            survey_id=survey.id,
            order_id=order.id,
            staff_id=cashier.id,
        )
        assert link is not None
        made = service.answer(
            session,
            settings=settings,
            survey_id=survey.id,
            customer_id=customer.id,
            occasion="visit:today",
            score=5,
        )
        assert made.response.order_id == order.id
        assert made.response.staff_id == cashier.id
        rows = breakdown.breakdown(session, survey_id=survey.id, by="staff")
        assert [(r["value"], r["responses"], r["score"]) for r in rows] == [
            (str(cashier.id), 1, 100)
        ]
        assert session.get(Order, order.id) is not None

    def test_an_unknown_staff_member_is_refused(self, api: TestClient, session: Session) -> None:
        survey = make_survey(session, "nps")
        customer = create_customer(session)
        answer = api.post(
            f"/api/v1/surveys/{survey.id}/responses",
            json={
                "customer_id": str(customer.id),
                "occasion": "x",
                "score": 9,
                "staff_id": str(uuid.uuid4()),
            },
        )
        assert answer.status_code == 422
        assert "staff_id" in answer.text


class TestReportsPage:
    @pytest.mark.parametrize("language", ["en", "fa"])
    def test_scores_by_location_on_the_reports_page(
        self, client: TestClient, session: Session, settings: Settings, language: str
    ) -> None:
        from tests.feedback.test_web import csrf, login

        login(client, session, Role.manager, f"mgr-{language}@example.com")
        if language != "en":
            client.post(
                "/locale",
                data={
                    "csrf_token": csrf(client, "/feedback/reports"),
                    "locale": language,
                    "next": "/",
                },
            )
        _shops(session)
        survey = make_survey(session, "nps")
        for score in (10, 10, 3):
            customer = create_customer(session)
            order = create_order(session, channel="in_store", location="north")
            service.answer(
                session,
                settings=settings,
                survey_id=survey.id,
                customer_id=customer.id,
                occasion=f"order:{order.id}",
                score=score,
            )
        session.flush()
        page = client.get(f"/feedback/reports?survey={survey.id}&by=location")
        assert page.status_code == 200
        assert "North shop" in page.text
        # 2 promoters, 1 detractor of 3: NPS 33, three answers: "few answers".
        if language == "fa":
            assert "۳۳" in page.text and "پاسخ‌های کم" in page.text
        else:
            assert ">33<" in page.text and "Few answers" in page.text
        by_channel = client.get(f"/feedback/reports?survey={survey.id}&by=channel")
        assert by_channel.status_code == 200
        assert ("In store" if language == "en" else "حضوری") in by_channel.text
