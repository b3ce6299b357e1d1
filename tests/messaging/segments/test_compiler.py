"""The rule compiler on a hand-built shop: every field, every operator, nesting, edges.

Each case is a rule and the customers worked out on paper (see ``population.py``).
The same cases run on SQLite and on PostgreSQL (``--db``); a case checks the count
query and the members query against each other too.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.messaging.segments.population import LIVE, NOW, build, business, jalali
from wafa.core.errors import Invalid
from wafa.core.settings import Settings
from wafa.messaging.segments import compiler, fields, service
from wafa.messaging.segments.rules import parse_rules


@pytest.fixture
def shop(
    session: Session, clock: FrozenClock, settings: Settings
) -> tuple[Settings, dict[str, uuid.UUID]]:
    biz = business(settings.database_url)
    ids = build(session, clock, biz)
    clock.set(NOW)
    return biz, ids


def who(
    session: Session, biz: Settings, ids: dict[str, uuid.UUID], rules: dict[str, Any]
) -> set[str]:
    rule = parse_rules(rules)
    ctx = service.context_for(session, biz)
    names = {v: k for k, v in ids.items()}
    found = {names[i] for i in session.scalars(compiler.members_query(rule, ctx))}
    counted = session.scalar(compiler.count_query(rule, ctx))
    assert counted == len(found), (rules, counted, found)
    return found


def cond(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"all": [{"field": field, "op": op, "value": value}]}


def check(session: Session, shop: Any, cases: list[tuple[str, str, Any, set[str]]]) -> None:
    biz, ids = shop
    wrong = []
    for field, op, value, expected in cases:
        got = who(session, biz, ids, cond(field, op, value))
        if got != expected:
            wrong.append(f"{field} {op} {value!r}: expected {sorted(expected)}, got {sorted(got)}")
    assert not wrong, "\n".join(wrong)


class TestProfileFields:
    def test_text_fields_ignore_case_and_escape_wildcards(
        self, session: Session, shop: Any
    ) -> None:
        check(
            session,
            shop,
            [
                ("city", "=", "tehran", {"ava"}),
                ("city", "!=", "Tehran", {"ben", "cy", "dee"}),
                ("city", "in", ["Shiraz", "ISFAHAN"], {"ben", "dee"}),
                ("city", "contains", "RA", {"ava", "ben"}),
                ("city", "contains", "%", set()),
                ("city", "contains", "_", set()),
                ("source", "=", "POS", {"ava"}),
                ("source", "contains", "o", {"ava", "ben", "dee"}),
                ("source", "in", ["manual", "import"], {"cy", "dee"}),
            ],
        )

    def test_choices(self, session: Session, shop: Any) -> None:
        check(
            session,
            shop,
            [
                ("language", "=", "fa", {"ava"}),
                ("language", "!=", "fa", {"ben", "cy", "dee"}),
                ("language", "in", ["en", "ar"], {"ben", "dee"}),
                ("gender", "=", "female", {"ava"}),
                ("gender", "!=", "male", {"ava", "cy", "dee"}),
                ("gender", "in", ["male", "other"], {"ben", "dee"}),
            ],
        )

    def test_tags_are_a_set(self, session: Session, shop: Any) -> None:
        check(
            session,
            shop,
            [
                ("tags", "=", "vip", {"ava"}),
                ("tags", "contains", "coffee", {"ava", "ben"}),
                ("tags", "in", ["tea", "vip"], {"ava", "dee"}),
                ("tags", "!=", "coffee", {"cy", "dee"}),
                ("tags", "=", "VIP", set()),
            ],
        )

    def test_consent(self, session: Session, shop: Any) -> None:
        check(
            session,
            shop,
            [
                ("consent_email", "=", True, {"ava", "dee"}),
                ("consent_email", "!=", True, {"ben", "cy"}),
                ("consent_email", "=", False, {"ben", "cy"}),
                ("consent_sms", "=", True, {"ben", "dee"}),
            ],
        )

    def test_created_is_a_local_date(self, session: Session, shop: Any) -> None:
        check(
            session,
            shop,
            [
                ("created_on", "=", "2026-01-10", {"ava"}),
                # 22:00 UTC on 31 December is 1 January in Tehran.
                ("created_on", "=", "2025-01-01", {"dee"}),
                ("created_on", "=", "2024-12-31", set()),
                ("created_on", ">", "2025-06-01", {"ava", "cy"}),
                ("created_on", ">=", "2025-06-01", {"ava", "ben", "cy"}),
                ("created_on", "<", "2025-06-01", {"dee"}),
                ("created_on", "<=", "2025-06-01", {"ben", "dee"}),
                ("created_on", "!=", "2026-03-15", {"ava", "ben", "dee"}),
                ("created_on", "in", ["2026-03-15", "2025-06-01"], {"ben", "cy"}),
                ("days_since_created", "=", 0, {"cy"}),
                ("days_since_created", ">", 100, {"ben", "dee"}),
                ("days_since_created", ">=", 64, {"ava", "ben", "dee"}),
                ("days_since_created", "<", 64, {"cy"}),
                ("days_since_created", "<=", 64, {"ava", "cy"}),
                ("days_since_created", "in", [64, 438], {"ava", "dee"}),
                ("days_since_created", "!=", 0, {"ava", "ben", "dee"}),
            ],
        )

    def test_birthday_month_in_the_business_calendar(self, session: Session, shop: Any) -> None:
        # Ava: 25 March (Gregorian); Ben: 5 Farvardin (Jalali, 25 March); Dee: 29 February,
        # which falls on 28 February in 2026; Cy has no birthday.
        check(
            session,
            shop,
            [
                ("birthday_month", "=", 3, {"ava", "ben"}),
                ("birthday_month", "=", 2, {"dee"}),
                ("birthday_month", "!=", 3, {"cy", "dee"}),
                ("birthday_month", ">", 2, {"ava", "ben"}),
                ("birthday_month", "<=", 2, {"dee"}),
                ("birthday_month", "in", [1, 2], {"dee"}),
                ("birthday_month", "<", 2, set()),
                ("birthday_month", ">=", 1, {"ava", "ben", "dee"}),
            ],
        )

    def test_birthday_month_in_a_jalali_business(self, session: Session, shop: Any) -> None:
        biz, ids = shop
        persian = jalali(biz)
        assert who(session, persian, ids, cond("birthday_month", "=", 1)) == {"ava", "ben"}
        assert who(session, persian, ids, cond("birthday_month", "=", 12)) == {"dee"}
        assert who(session, persian, ids, cond("birthday_month", "=", 3)) == set()


class TestOrderFields:
    def test_counts_and_spend_read_zero_for_customers_without_orders(
        self, session: Session, shop: Any
    ) -> None:
        check(
            session,
            shop,
            [
                ("orders_count", "=", 3, {"ava"}),
                ("orders_count", "!=", 3, {"ben", "cy", "dee"}),
                ("orders_count", ">", 1, {"ava", "dee"}),
                ("orders_count", ">=", 1, {"ava", "ben", "dee"}),
                ("orders_count", "<", 2, {"ben", "cy"}),
                ("orders_count", "<=", 0, {"cy"}),
                ("orders_count", "=", 0, {"cy"}),
                ("orders_count", "in", [0, 2], {"cy", "dee"}),
                # Net of refunds, business currency only (Dee's euros are not counted).
                ("total_spent", ">", 1500, {"ava", "dee"}),
                ("total_spent", ">=", 1500, {"ava", "ben", "dee"}),
                ("total_spent", "=", 0, {"cy"}),
                ("total_spent", "<", 2000, {"ben", "cy"}),
                ("total_spent", "<=", 2000, {"ben", "cy", "dee"}),
                ("total_spent", "!=", 6000, {"ben", "cy", "dee"}),
                ("total_spent", "in", [1500, 2000], {"ben", "dee"}),
            ],
        )

    def test_days_since_last_order_count_local_days(self, session: Session, shop: Any) -> None:
        # Ava's last order, 21:00 UTC on the 14th, is today in Tehran (0 days, not 1).
        check(
            session,
            shop,
            [
                ("days_since_last_order", "=", 0, {"ava"}),
                ("days_since_last_order", "=", 1, set()),
                ("days_since_last_order", ">", 90, {"ben", "dee"}),
                ("days_since_last_order", ">", 91, {"ben"}),
                ("days_since_last_order", ">=", 91, {"ben", "dee"}),
                ("days_since_last_order", "<", 91, {"ava"}),
                ("days_since_last_order", "<=", 91, {"ava", "dee"}),
                ("days_since_last_order", "!=", 0, {"ben", "cy", "dee"}),
                ("days_since_last_order", "in", [0, 165], {"ava", "ben"}),
                ("first_order_on", "=", "2026-01-10", {"ava"}),
                ("first_order_on", "<", "2025-12-01", {"ben", "dee"}),
                ("last_order_on", "=", "2026-03-15", {"ava"}),
                ("last_order_on", ">=", "2025-12-14", {"ava", "dee"}),
                ("last_order_on", "!=", "2025-12-14", {"ava", "ben", "cy"}),
            ],
        )

    def test_what_where_and_how_they_bought(self, session: Session, shop: Any) -> None:
        check(
            session,
            shop,
            [
                ("bought_product", "=", "BEANS", {"ava"}),  # Ben's beans were cancelled
                ("bought_product", "=", "MUG", set()),  # Dee's mug was refunded
                ("bought_product", "=", "TEA", {"dee"}),
                ("bought_product", "in", ["CUP", "TEA"], {"ava", "ben", "dee"}),
                ("bought_product", "!=", "BEANS", {"ben", "cy", "dee"}),
                ("bought_product", "contains", "CUP", {"ava", "ben"}),
                ("bought_product", "=", "CAKE", set()),  # a refunded order
                ("bought_category", "=", "mugs", {"ava", "ben"}),
                ("bought_category", "in", ["tea"], {"dee"}),
                ("bought_category", "!=", "beans", {"ben", "cy", "dee"}),
                ("order_channel", "=", "in_store", {"ava"}),
                ("order_channel", "=", "phone", {"dee"}),
                ("order_channel", "in", ["online"], {"ava", "ben", "dee"}),
                ("order_channel", "!=", "online", {"cy"}),
                ("order_location", "=", "SHOP1", {"ava"}),
                ("order_location", "!=", "SHOP1", {"ben", "cy", "dee"}),
                ("order_location", "in", ["SHOP1"], {"ava"}),
            ],
        )


class TestLoyaltyFields:
    def test_tiers_compare_by_rank(self, session: Session, shop: Any) -> None:
        # Ava gold, Ben silver (overrides); Dee, a member with no tier, and Cy, who has no
        # account, hold the lowest tier because its threshold is zero.
        check(
            session,
            shop,
            [
                ("tier", "=", "gold", {"ava"}),
                ("tier", ">=", "silver", {"ava", "ben"}),
                ("tier", ">", "bronze", {"ava", "ben"}),
                ("tier", "<", "silver", {"cy", "dee"}),
                ("tier", "<=", "silver", {"ben", "cy", "dee"}),
                ("tier", "=", "bronze", {"cy", "dee"}),
                ("tier", "!=", "bronze", {"ava", "ben"}),
                ("tier", "in", ["silver", "gold"], {"ava", "ben"}),
            ],
        )

    def test_points_badges_and_membership(self, session: Session, shop: Any) -> None:
        check(
            session,
            shop,
            [
                ("points_available", ">", 100, {"ava"}),
                ("points_available", "=", 0, {"cy", "dee"}),
                ("points_available", ">=", 50, {"ava", "ben"}),
                ("points_available", "<", 50, {"cy", "dee"}),
                ("points_available", "<=", 50, {"ben", "cy", "dee"}),
                ("points_available", "!=", 0, {"ava", "ben"}),
                ("points_available", "in", [50, 500], {"ava", "ben"}),
                ("badges", "=", "first_order", {"ava"}),
                ("badges", "!=", "first_order", {"ben", "cy", "dee"}),
                ("badges", "in", ["streak", "first_order"], {"ava"}),
                ("badges", "contains", "first_order", {"ava"}),
                # Joined when the customer record was created (local dates).
                ("member_since", "=", "2026-01-10", {"ava"}),
                ("member_since", ">", "2025-06-01", {"ava"}),
                ("member_since", ">=", "2025-06-01", {"ava", "ben"}),
                ("member_since", "<", "2026-01-10", {"ben", "dee"}),
                ("member_since", "<=", "2025-06-01", {"ben", "dee"}),
                ("member_since", "!=", "2026-01-10", {"ben", "cy", "dee"}),
                ("member_since", "in", ["2025-01-01"], {"dee"}),
            ],
        )


class TestPredictionFields:
    def test_scores_of_the_last_refresh(self, session: Session, shop: Any) -> None:
        # Dee's P(alive) and CLV were withheld; Cy was never scored.
        check(
            session,
            shop,
            [
                ("p_alive", ">", 0.5, {"ava"}),
                ("p_alive", "<", 0.5, {"ben"}),
                ("p_alive", ">=", 0.2, {"ava", "ben"}),
                ("p_alive", "<=", 0.9, {"ava", "ben"}),
                ("p_alive", "=", 0.2, {"ben"}),
                ("p_alive", "!=", 0.2, {"ava", "cy", "dee"}),
                ("predicted_clv", ">=", 1000, {"ava", "ben"}),
                ("predicted_clv", "<", 5000, {"ben"}),
                ("predicted_clv", "!=", 1000, {"ava", "cy", "dee"}),
                ("predicted_clv", "in", [1000], {"ben"}),
                ("rfm_segment", "=", "champions", {"ava"}),
                ("rfm_segment", "in", ["at_risk", "lost"], {"ben", "dee"}),
                ("rfm_segment", "!=", "champions", {"ben", "cy", "dee"}),
                ("churn_risk", "=", "high", {"ben"}),
                ("churn_risk", "in", ["low", "unknown"], {"ava", "dee"}),
                ("churn_risk", "!=", "high", {"ava", "cy", "dee"}),
            ],
        )


class TestGroups:
    def test_empty_groups(self, session: Session, shop: Any) -> None:
        biz, ids = shop
        assert who(session, biz, ids, {"all": []}) == LIVE
        assert who(session, biz, ids, {"any": []}) == set()

    def test_nested_groups(self, session: Session, shop: Any) -> None:
        biz, ids = shop
        rules = {
            "any": [
                {
                    "all": [
                        {"field": "city", "op": "=", "value": "Tehran"},
                        {"field": "orders_count", "op": ">=", "value": 3},
                    ]
                },
                {
                    "all": [
                        {"field": "tier", "op": ">=", "value": "silver"},
                        {
                            "any": [
                                {"field": "p_alive", "op": "<", "value": 0.5},
                                {"field": "days_since_last_order", "op": ">", "value": 100},
                            ]
                        },
                    ]
                },
            ]
        }
        assert who(session, biz, ids, rules) == {"ava", "ben"}
        mixed = {
            "all": [
                {"field": "consent_email", "op": "=", "value": True},
                {
                    "any": [
                        {"field": "tags", "op": "=", "value": "tea"},
                        {"field": "total_spent", "op": ">", "value": 5000},
                    ]
                },
            ]
        }
        assert who(session, biz, ids, mixed) == {"ava", "dee"}

    def test_erased_and_merged_customers_are_never_members(
        self, session: Session, shop: Any
    ) -> None:
        biz, ids = shop
        everyone = who(session, biz, ids, {"all": []})
        assert "eve" not in everyone and "finn" not in everyone
        assert who(session, biz, ids, cond("tags", "=", "vip")) == {"ava"}


class TestDatabaseChecks:
    def test_unknown_tier_and_location_name_the_path(self, session: Session, shop: Any) -> None:
        biz, _ = shop
        rules = {
            "all": [
                {"field": "city", "op": "=", "value": "Tehran"},
                {
                    "any": [
                        {"field": "tier", "op": "=", "value": "platinum"},
                        {"field": "order_location", "op": "in", "value": ["SHOP1", "NOPE"]},
                    ]
                },
            ]
        }
        with pytest.raises(Invalid) as caught:
            compiler.compile_rules(parse_rules(rules), service.context_for(session, biz))
        locs = [loc for loc, _ in caught.value.errors]
        assert locs == [
            ("rules", "all", 1, "any", 0, "value"),
            ("rules", "all", 1, "any", 1, "value"),
        ]
        assert "platinum" in caught.value.errors[0][1]
        assert "NOPE" in caught.value.errors[1][1]


class TestCatalogue:
    def test_every_field_compiles_with_every_operator(self, session: Session, shop: Any) -> None:
        biz, ids = shop
        samples: dict[fields.Kind, Any] = {
            fields.Kind.integer: 1,
            fields.Kind.money: 100,
            fields.Kind.ratio: 0.5,
            fields.Kind.days: 3,
            fields.Kind.date: "2026-01-01",
            fields.Kind.month: 3,
            fields.Kind.text: "x",
            fields.Kind.boolean: True,
            fields.Kind.set: "x",
        }
        for spec in fields.CATALOGUE:
            value = (
                spec.choices[0]
                if spec.choices
                else {"tier": "silver", "location": "SHOP1"}.get(spec.choices_from or "")
                or samples[spec.kind]
            )
            for op in spec.ops:
                rule = cond(spec.name, op, [value] if op == "in" else value)
                found = who(session, biz, ids, rule)
                assert found <= LIVE, (spec.name, op)

    def test_contract_fields_exist(self) -> None:
        for name in (
            "orders_count",
            "total_spent",
            "days_since_last_order",
            "city",
            "language",
            "tags",
            "tier",
            "points_available",
            "p_alive",
            "rfm_segment",
            "consent_email",
            "birthday_month",
        ):
            assert name in fields.FIELDS


def test_the_live_filter_reads_only_live_customers(session: Session, shop: Any) -> None:
    _, ids = shop
    from wafa.customers.models import Customer

    live = set(session.scalars(select(Customer.id).where(compiler.live())))
    assert {ids[n] for n in LIVE} <= live
    assert ids["eve"] not in live and ids["finn"] not in live
