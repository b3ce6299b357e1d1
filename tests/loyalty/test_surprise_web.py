"""The Surprises page and the counter: create, edit and pause a rule, grant a segment rule to
a segment, see the cost per month; the POS card says "surprise this customer"; the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import deliver, member, place, set_rules
from tests.web.helpers import html_attrs, logged_in, post_form
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.loyalty import rewards
from wafa.loyalty.models import SurpriseGrant, SurpriseRule
from wafa.loyalty.schemas.io import RewardCreate
from wafa.loyalty.surprise import service as surprise
from wafa.loyalty.surprise.schemas import SurpriseRuleCreate
from wafa.messaging.segments import service as segments
from wafa.messaging.segments.schemas import SegmentCreate
from wafa.web import i18n

PAGE = "/loyalty/surprises"


def _pastry(session: Session, settings: Settings) -> str:
    reward = rewards.create_reward(
        session,
        settings=settings,
        data=RewardCreate(name="A free pastry", kind="gift", cost_points=0, in_catalogue=False),
    )
    return str(reward.id)


class TestRulesPage:
    def test_create_edit_pause_in_three_languages(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        set_rules(session)
        logged_in(client, session)
        assert client.get(PAGE).status_code == 200
        assert client.get(f"{PAGE}/new").status_code == 200
        pastry = _pastry(session, settings)
        refused = post_form(
            client,
            f"{PAGE}/new",
            {"name": "Tenth", "trigger": "nth_order", "gives": "reward", "reward_id": pastry},
            page=PAGE,
        )
        assert refused.status_code == 422
        assert 'id="count-error"' in refused.text
        made = post_form(
            client,
            f"{PAGE}/new",
            {
                "name": "Tenth",
                "trigger": "nth_order",
                "count": "10",
                "gives": "reward",
                "reward_id": pastry,
                "cost_amount": "1.50",
                "monthly_budget_amount": "30",
            },
            page=PAGE,
        )
        assert made.status_code == 303, made.text
        rule = session.scalars(select(SurpriseRule)).one()
        assert (rule.count, rule.unit_cost_amount, rule.monthly_budget_amount) == (10, 150, 3000)
        assert client.get(f"{PAGE}/{rule.id}").status_code == 200
        edited = post_form(
            client,
            f"{PAGE}/{rule.id}",
            {"name": "Tenth order", "count": "12", "gives": "points", "points": "200"},
            page=PAGE,
        )
        assert edited.status_code == 303, edited.text
        session.refresh(rule)
        assert (rule.name, rule.count, rule.points, rule.reward_id) == (
            "Tenth order",
            12,
            200,
            None,
        )
        paused = post_form(client, f"{PAGE}/{rule.id}/status", {"status": "paused"}, page=PAGE)
        assert paused.status_code == 303
        session.refresh(rule)
        assert rule.status == "paused"
        for language in ("ar", "fa"):
            logged_in(client, session, locale=language)
            page = client.get(PAGE)
            assert page.status_code == 200
            assert html_attrs(page.text)["dir"] == "rtl"
        assert "غافلگیری" in page.text

    def test_a_cashier_may_not_see_the_page(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier)
        assert client.get(PAGE).status_code == 403

    def test_a_segment_rule_granted_to_a_segment_once_a_quarter(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        logged_in(client, session)
        rule = surprise.create_rule(
            session,
            settings=settings,
            data=SurpriseRuleCreate(name="Thanks", trigger="segment", points=50),
            by="owner",
        )
        regulars = [member(session, name=f"Regular {i}") for i in range(3)]
        segment = segments.create_segment(
            session,
            settings=settings,
            data=SegmentCreate.model_validate(
                {
                    "name": "Everyone",
                    "rules": {"all": [{"field": "days_since_created", "op": ">=", "value": 0}]},
                }
            ),
            by="owner",
        )
        for _ in range(2):
            done = post_form(
                client, f"{PAGE}/{rule.id}/grant", {"segment_id": str(segment.id)}, page=PAGE
            )
            assert done.status_code == 303
        assert {g.customer_id for g in session.scalars(select(SurpriseGrant))} == {
            c.id for c in regulars
        }
        page = client.get(PAGE)
        assert "Regular 0" in page.text


class TestAtTheCounter:
    def test_the_card_says_surprise_this_customer_until_given(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        pastry = _pastry(session, settings)
        surprise.create_rule(
            session,
            settings=settings,
            data=SurpriseRuleCreate.model_validate(
                {
                    "name": "First",
                    "trigger": "nth_order",
                    "count": 1,
                    "reward_id": pastry,
                    "cost_amount": 90,
                }
            ),
            by="owner",
        )
        c = member(session)
        place(session, c, placed_at=clock.now)
        deliver(session, settings)
        logged_in(client, session, role=Role.cashier)
        card = client.get(f"/pos/customers/{c.id}")
        assert "Surprise this customer: <bdi>A free pastry</bdi>" in card.text
        (grant,) = session.scalars(select(SurpriseGrant))
        given = post_form(
            client, f"/pos/customers/{c.id}/surprises/{grant.id}/handed", {}, page="/pos"
        )
        assert given.status_code == 303
        assert "Surprise this customer" not in client.get(f"/pos/customers/{c.id}").text


class TestApi:
    def test_rules_grants_costs_and_fields_named(
        self, api: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        bad = api.post("/api/v1/loyalty/surprises/rules", json={"name": "x", "trigger": "random"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["loc"][-1] == "count"
        made = api.post(
            "/api/v1/loyalty/surprises/rules",
            json={
                "name": "Lucky",
                "trigger": "nth_order",
                "count": 1,
                "points": 100,
                "monthly_budget_amount": 100,
            },
        )
        assert made.status_code == 201, made.text
        rule_id = made.json()["id"]
        for _ in range(2):
            place(session, member(session), placed_at=clock.now)
        deliver(session, settings)
        assert len(api.get("/api/v1/loyalty/surprises/grants").json()) == 1
        assert api.get("/api/v1/loyalty/surprises/costs").json()[0]["cost_amount"] == 100
        paused = api.patch(f"/api/v1/loyalty/surprises/rules/{rule_id}", json={"status": "paused"})
        assert paused.json()["status"] == "paused"


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_every_surprise_string_is_translated(language: str) -> None:
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    root = Path(__file__).resolve().parents[2] / "src" / "wafa"
    found: set[str] = set()
    for name in ("surprises.html", "surprise_form.html", "_pos_info.html"):
        path = root / "web" / "templates" / "loyalty" / name
        for _, msg, _, _ in extract_from_file(
            "jinja2", str(path), keywords=keywords, options={"extensions": "jinja2.ext.do"}
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    for path in (
        root / "messaging" / "surprises" / "web" / "page.py",
        root / "loyalty" / "web" / "surprises.py",
    ):
        for _, msg, _, _ in extract_from_file("python", str(path), keywords=keywords):
            found.add(msg if isinstance(msg, str) else msg[0])
    catalogue = i18n.translations(language)
    missing = sorted(m for m in found if m not in catalogue)
    assert len(found) > 40 and not missing, missing
