"""The API contract of issue 3, exactly, plus the routes around it."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import deliver, member, place, set_rules
from wafa.auth import service as auth
from wafa.core.settings import Settings


def _key(session: Session, *scopes: str) -> dict[str, str]:
    _, token = auth.create_api_key(session, name="scoped", scopes=list(scopes))
    session.flush()
    return {"Authorization": f"Bearer {token}"}


class TestLoyaltyStatus:
    def test_answers_the_contract_shape(
        self, api: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, expiry={"policy": "fixed", "months": 1})
        c = member(session)
        place(session, c)
        deliver(session, settings)
        r = api.get(f"/api/v1/customers/{c.id}/loyalty")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["available"] == 0
        assert body["pending"] == 10
        assert body["tier"] is None
        assert body["expiring"] == [{"points": 10, "on": "2026-04-15"}]
        assert body["releasing"] == [{"points": 10, "on": "2026-03-29"}]

    def test_released_points_leave_the_releasing_list(
        self, api: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        place(session, c)
        deliver(session, settings)
        clock.advance(days=15)  # past the 14-day pending period, before the release job
        body = api.get(f"/api/v1/customers/{c.id}/loyalty").json()
        assert (body["available"], body["pending"], body["releasing"]) == (10, 0, [])

    def test_unknown_customer_is_404_problem(self, api: TestClient) -> None:
        r = api.get(f"/api/v1/customers/{uuid.uuid4()}/loyalty")
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")


class TestAdjustments:
    def test_points_are_available_at_once(self, api: TestClient, session: Session) -> None:
        c = member(session)
        r = api.post(
            f"/api/v1/customers/{c.id}/adjustments", json={"points": 40, "reason": "goodwill"}
        )
        assert r.status_code == 201, r.text
        entry = r.json()
        assert entry["points"] == 40
        assert entry["note"] == "goodwill"
        assert entry["created_by"].startswith("api_key:")
        status = api.get(f"/api/v1/customers/{c.id}/loyalty").json()
        assert (status["available"], status["pending"]) == (40, 0)

    def test_needs_write_scope(self, client: TestClient, session: Session) -> None:
        c = member(session)
        r = client.post(
            f"/api/v1/customers/{c.id}/adjustments",
            json={"points": 5, "reason": "x"},
            headers=_key(session, "read"),
        )
        assert r.status_code == 403

    def test_write_scope_is_enough(self, client: TestClient, session: Session) -> None:
        c = member(session)
        r = client.post(
            f"/api/v1/customers/{c.id}/adjustments",
            json={"points": 5, "reason": "x"},
            headers=_key(session, "write"),
        )
        assert r.status_code == 201, r.text

    def test_a_reason_is_required(self, api: TestClient, session: Session) -> None:
        c = member(session)
        r = api.post(f"/api/v1/customers/{c.id}/adjustments", json={"points": 5})
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["body", "reason"]

    def test_replay_with_idempotency_key_adds_once(self, api: TestClient, session: Session) -> None:
        c = member(session)
        headers = {"Idempotency-Key": "adj-1"}
        body = {"points": 7, "reason": "sorry"}
        first = api.post(f"/api/v1/customers/{c.id}/adjustments", json=body, headers=headers)
        second = api.post(f"/api/v1/customers/{c.id}/adjustments", json=body, headers=headers)
        assert first.json() == second.json()
        assert api.get(f"/api/v1/customers/{c.id}/loyalty").json()["available"] == 7


class TestRewardsAndRedemptions:
    def test_create_reward_answers_201_with_id(self, api: TestClient) -> None:
        r = api.post(
            "/api/v1/rewards",
            json={
                "name": "Free coffee",
                "kind": "free_product",
                "cost_points": 100,
                "product_sku": "COF-1",
            },
        )
        assert r.status_code == 201, r.text
        assert uuid.UUID(r.json()["id"])

    @pytest.mark.parametrize(
        ("body", "stored"),
        [
            (
                {"name": "Free coffee", "kind": "free_product", "cost_points": 100},
                {"product_sku": None},
            ),
            (
                {"name": "5 off", "kind": "discount_fixed", "cost_points": 50, "value": 500},
                {"amount": 500},
            ),
            (
                {"name": "10% off", "kind": "discount_percent", "cost_points": 80, "percent": 10},
                {"percent_bp": 1000},
            ),
            (
                {"name": "Mug", "kind": "gift", "cost_points": 10, "colour": "blue"},
                {"kind": "gift"},
            ),
        ],
    )
    def test_the_contracts_minimal_forms_are_accepted(
        self, api: TestClient, body: dict[str, object], stored: dict[str, object]
    ) -> None:
        r = api.post("/api/v1/rewards", json=body)
        assert r.status_code == 201, r.text
        assert {k: r.json()[k] for k in stored} == stored

    @pytest.mark.parametrize(
        ("body", "field", "words"),
        [
            ({"kind": "discount_fixed"}, "amount", "needs the amount"),
            ({"kind": "discount_fixed", "amount": 0}, "amount", "needs the amount"),
            ({"kind": "discount_percent"}, "percent_bp", "needs the percentage"),
            ({"kind": "partner_offer"}, "partner_name", "needs the partner"),
        ],
    )
    def test_a_reward_that_does_not_say_what_it_gives_is_422_naming_the_field(
        self, api: TestClient, body: dict[str, object], field: str, words: str
    ) -> None:
        r = api.post("/api/v1/rewards", json={"name": "Nothing", "cost_points": 50, **body})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        errors = r.json()["errors"]
        assert [e["loc"] for e in errors] == [["body", field]]
        assert words in errors[0]["msg"]
        assert api.get("/api/v1/rewards").json() == []

    def test_a_free_catalogue_reward_without_a_limit_is_422(self, api: TestClient) -> None:
        r = api.post("/api/v1/rewards", json={"name": "Free", "kind": "gift", "cost_points": 0})
        assert r.status_code == 422, r.text
        assert [e["loc"] for e in r.json()["errors"]] == [["body", "limit_per_customer"]]
        made = api.post(
            "/api/v1/rewards",
            json={
                "name": "Free",
                "kind": "gift",
                "cost_points": 0,
                "limit_per_customer": 1,
                "limit_period": "month",
            },
        )
        assert made.status_code == 201, made.text
        assert (made.json()["limit_per_customer"], made.json()["limit_period"]) == (1, "month")
        lifted = api.patch(
            f"/api/v1/rewards/{made.json()['id']}", json={"limit_per_customer": None}
        )
        assert lifted.status_code == 422
        assert [e["loc"] for e in lifted.json()["errors"]] == [["limit_per_customer"]]

    def test_taking_a_money_off_rewards_amount_away_is_refused(self, api: TestClient) -> None:
        reward = api.post(
            "/api/v1/rewards",
            json={"name": "5 off", "kind": "discount_fixed", "cost_points": 50, "amount": 500},
        ).json()
        r = api.patch(f"/api/v1/rewards/{reward['id']}", json={"amount": None})
        assert r.status_code == 422, r.text
        assert [e["loc"] for e in r.json()["errors"]] == [["amount"]]
        assert api.get(f"/api/v1/rewards/{reward['id']}").json()["amount"] == 500

    def test_a_reward_that_ends_before_it_starts_names_valid_until(self, api: TestClient) -> None:
        r = api.post(
            "/api/v1/rewards",
            json={
                "name": "Mug",
                "kind": "gift",
                "cost_points": 10,
                "valid_from": "2026-05-01T00:00:00Z",
                "valid_until": "2026-04-01T00:00:00Z",
            },
        )
        assert r.status_code == 422
        assert [e["loc"] for e in r.json()["errors"]] == [["body", "valid_until"]]

    def test_a_write_key_can_keep_the_catalogue(self, client: TestClient, session: Session) -> None:
        r = client.post(
            "/api/v1/rewards",
            json={"name": "Mug", "kind": "gift", "cost_points": 10},
            headers=_key(session, "write"),
        )
        assert r.status_code == 201, r.text

    def test_redemption_answers_201_with_coupon_code(
        self, api: TestClient, session: Session
    ) -> None:
        c = member(session)
        api.post(f"/api/v1/customers/{c.id}/adjustments", json={"points": 150, "reason": "seed"})
        reward = api.post(
            "/api/v1/rewards",
            json={"name": "5 off", "kind": "discount_fixed", "cost_points": 100, "amount": 500},
        ).json()
        r = api.post(f"/api/v1/customers/{c.id}/redemptions", json={"reward_id": reward["id"]})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["id"] and body["coupon_code"]
        assert not set(body["coupon_code"].replace("-", "")) & set("0O1I")
        assert api.get(f"/api/v1/customers/{c.id}/loyalty").json()["available"] == 50

    def test_short_balance_is_409_insufficient_points(
        self, api: TestClient, session: Session
    ) -> None:
        c = member(session)
        api.post(f"/api/v1/customers/{c.id}/adjustments", json={"points": 99, "reason": "seed"})
        reward = api.post(
            "/api/v1/rewards", json={"name": "Mug", "kind": "gift", "cost_points": 100}
        ).json()
        r = api.post(f"/api/v1/customers/{c.id}/redemptions", json={"reward_id": reward["id"]})
        assert r.status_code == 409
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("insufficient-points")
        assert api.get(f"/api/v1/customers/{c.id}/loyalty").json()["available"] == 99


class TestCouponValidate:
    def test_valid_code_gives_the_discount(self, api: TestClient) -> None:
        api.post(
            "/api/v1/coupons",
            json={
                "name": "Summer",
                "code": "summer-10",
                "kind": "discount_percent",
                "percent_bp": 1000,
                "max_uses": None,
            },
        )
        r = api.post("/api/v1/coupons/validate", json={"code": "SUMMER10", "subtotal": 2500})
        assert r.status_code == 200, r.text
        assert r.json() == {"valid": True, "discount": 250}

    def test_unknown_code_is_invalid_with_reason(self, api: TestClient) -> None:
        r = api.post("/api/v1/coupons/validate", json={"code": "NOPE", "subtotal": 100})
        assert r.status_code == 200
        assert r.json()["valid"] is False
        assert r.json()["discount"] == 0
        assert r.json()["reason"] == "not_found"


class TestProgramApi:
    def test_get_put_and_versions(self, api: TestClient, clock: FrozenClock) -> None:
        current = api.get("/api/v1/loyalty/program").json()
        assert current["version"] == 0
        assert current["rules"]["earning"]["rate_bp"] == 100
        rules = current["rules"] | {"pending_days": 3}
        r = api.put("/api/v1/loyalty/program", json={"rules": rules, "note": "shorter wait"})
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 1
        versions = api.get("/api/v1/loyalty/program/versions").json()
        assert [(v["version"], v["note"]) for v in versions] == [(1, "shorter wait")]

    def test_past_effective_instant_is_refused(self, api: TestClient, clock: FrozenClock) -> None:
        rules = api.get("/api/v1/loyalty/program").json()["rules"]
        r = api.put(
            "/api/v1/loyalty/program",
            json={"rules": rules, "effective_from": "2026-01-01T00:00:00+00:00"},
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["effective_from"]

    def test_bad_tiers_name_the_field(self, api: TestClient) -> None:
        rules = api.get("/api/v1/loyalty/program").json()["rules"]
        rules["tiers"] = {
            "enabled": True,
            "levels": [
                {"code": "a", "name": "A", "threshold": 10},
                {"code": "b", "name": "B", "threshold": 5},
            ],
        }
        r = api.put("/api/v1/loyalty/program", json={"rules": rules})
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"][:3] == ["body", "rules", "tiers"]

    def test_configuration_needs_admin_scope(self, client: TestClient, session: Session) -> None:
        headers = _key(session, "read", "write")
        rules = client.get("/api/v1/loyalty/program", headers=headers).json()["rules"]
        assert (
            client.put(
                "/api/v1/loyalty/program", json={"rules": rules}, headers=headers
            ).status_code
            == 403
        )

    def test_tier_preview(
        self, api: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        place(session, c, lines=[{"sku": "A", "name": "a", "quantity": 1, "unit_price": 50_000}])
        deliver(session, settings)
        r = api.post(
            "/api/v1/loyalty/program/tier-preview",
            json={
                "tiers": {
                    "enabled": True,
                    "levels": [{"code": "gold", "name": "Gold", "threshold": 100}],
                }
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["upgrades"] == 1
        assert r.json()["moves"][0]["to_tier"] == "gold"


class TestLedgerApi:
    def test_ledger_pages_newest_first_with_reasons(
        self, api: TestClient, session: Session
    ) -> None:
        c = member(session)
        for n in (5, 6, 7):
            api.post(f"/api/v1/customers/{c.id}/adjustments", json={"points": n, "reason": f"r{n}"})
        page = api.get(f"/api/v1/customers/{c.id}/loyalty/ledger", params={"limit": 2}).json()
        assert [e["points"] for e in page["items"]] == [7, 6]
        rest = api.get(
            f"/api/v1/customers/{c.id}/loyalty/ledger", params={"cursor": page["next_cursor"]}
        ).json()
        assert [(e["points"], e["reason"], e["note"]) for e in rest["items"]] == [
            (5, "adjustment", "r5")
        ]
        assert rest["next_cursor"] is None

    def test_negative_adjustment_cannot_overdraw(self, api: TestClient, session: Session) -> None:
        c = member(session)
        r = api.post(f"/api/v1/customers/{c.id}/adjustments", json={"points": -1, "reason": "x"})
        assert r.status_code == 409
        assert r.json()["type"].endswith("insufficient-points")


class TestCouponApi:
    def test_create_list_redeem_void(self, api: TestClient, session: Session) -> None:
        made = api.post("/api/v1/coupons", json={"name": "Gift", "amount": 300})
        assert made.status_code == 201, made.text
        code = made.json()["display_code"]
        assert api.get("/api/v1/coupons").json()["items"][0]["code"] == code.replace("-", "")
        used = api.post(
            f"/api/v1/coupons/{code}/redeem", json={"order_ref": "till-1", "subtotal": 1000}
        )
        assert used.status_code == 201, used.text
        assert used.json()["discount_amount"] == 300
        again = api.post(
            f"/api/v1/coupons/{code}/redeem", json={"order_ref": "till-2", "subtotal": 1000}
        )
        assert again.status_code == 409
        assert again.json()["reason"] == "used_up"
        assert again.json()["type"].endswith("coupon-rejected")
        other = api.post("/api/v1/coupons", json={"name": "Other", "amount": 100}).json()["code"]
        voided = api.post(f"/api/v1/coupons/{other}/void", json={"reason": "mistake"})
        assert voided.json()["status"] == "voided"

    def test_a_money_off_code_without_its_amount_is_422_naming_the_field(
        self, api: TestClient
    ) -> None:
        r = api.post("/api/v1/coupons", json={"name": "Nothing", "kind": "discount_fixed"})
        assert r.status_code == 422, r.text
        assert [e["loc"] for e in r.json()["errors"]] == [["body", "amount"]]
        assert api.get("/api/v1/coupons").json()["items"] == []

    def test_cancel_redemption_via_api(self, api: TestClient, session: Session) -> None:
        c = member(session)
        api.post(f"/api/v1/customers/{c.id}/adjustments", json={"points": 100, "reason": "seed"})
        reward = api.post(
            "/api/v1/rewards", json={"name": "Mug", "kind": "gift", "cost_points": 60}
        ).json()
        red = api.post(
            f"/api/v1/customers/{c.id}/redemptions", json={"reward_id": reward["id"]}
        ).json()
        r = api.post(f"/api/v1/redemptions/{red['id']}/cancel")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "cancelled"
        assert api.get(f"/api/v1/customers/{c.id}/loyalty").json()["available"] == 100
        listed = api.get(f"/api/v1/customers/{c.id}/redemptions").json()
        assert [x["status"] for x in listed] == ["cancelled"]


class TestEngagementApi:
    def test_stamp_cards_referrals_leaderboard_liability(
        self, api: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(
            session,
            pending_days=0,
            referral={"enabled": True, "referee_points": 10, "referrer_points": 20},
        )
        reward = api.post(
            "/api/v1/rewards",
            json={"name": "Free", "kind": "gift", "cost_points": 0, "in_catalogue": False},
        ).json()
        card = api.post(
            "/api/v1/stamp-cards",
            json={
                "name": "Card",
                "stamps_required": 5,
                "skus": ["COF-1"],
                "reward_id": reward["id"],
            },
        )
        assert card.status_code == 201, card.text
        a, b = member(session, name="Amir Tehrani"), member(session)
        info = api.get(f"/api/v1/customers/{a.id}/referral").json()
        applied = api.post(f"/api/v1/customers/{b.id}/referral", json={"code": info["code"]})
        assert applied.status_code == 201, applied.text
        place(session, b)
        deliver(session, settings)
        assert api.get(f"/api/v1/customers/{b.id}/stamps").json()[0]["stamps"] == 1
        assert (
            api.get("/api/v1/referrals", params={"customer_id": str(a.id)}).json()["items"][0][
                "status"
            ]
            == "qualified"
        )
        api.post(f"/api/v1/customers/{a.id}/leaderboard", json={"opt_in": True})
        api.post(f"/api/v1/customers/{a.id}/adjustments", json={"points": 5, "reason": "x"})
        place(session, a)
        deliver(session, settings)
        board = api.get("/api/v1/loyalty/leaderboard", params={"month": "2026-03"}).json()
        assert board["rows"][0]["name"] == "Amir T."
        assert (
            api.get("/api/v1/loyalty/leaderboard", params={"month": "2026-13"}).status_code == 422
        )
        liability = api.get("/api/v1/loyalty/liability").json()
        assert liability["available_points"] == 35
        assert liability["available_value"] == 35


class TestPosApi:
    def test_find_summary_purchase(
        self, api: TestClient, session: Session, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session, name="Sara Karimi", phone="+12025550123")
        found = api.get("/api/v1/pos/customers", params={"q": "0123"}).json()
        assert found[0]["id"] == str(c.id)
        assert api.get(f"/api/v1/pos/customers/{c.id}").json()["greeting_name"] == "Sara"
        r = api.post(
            "/api/v1/pos/purchases",
            json={
                "customer_id": str(c.id),
                "reference": "till-9",
                "lines": [{"sku": "COF-1", "name": "Flat white", "quantity": 1, "unit_price": 450}],
            },
        )
        assert r.status_code == 201, r.text
        assert (r.json()["points"], r.json()["status"]["pending"]) == (4, 4)

    def test_enrol(self, api: TestClient) -> None:
        r = api.post(
            "/api/v1/pos/enrol", json={"name": "Neda", "phone": "2025550177", "sms_consent": True}
        )
        assert r.status_code == 201, r.text
        assert r.json()["phone"] == "+12025550177"
        again = api.post("/api/v1/pos/enrol", json={"name": "Neda", "phone": "2025550177"})
        assert again.status_code == 409
