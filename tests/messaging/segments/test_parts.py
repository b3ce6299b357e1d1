"""A rule selected part by part has exactly the members of the rule selected at once.

An ``any`` whose items read different tables is counted as a ``UNION ALL`` of disjoint
selections, one per part (:meth:`~wafa.messaging.segments.compiler.Compiled.part_ids`),
each joining only the tables it needs; everywhere else the rule is one selection over
``customers`` outer-joined to every table it reads
(:meth:`~wafa.messaging.segments.compiler.Compiled.from_clause`: the members, the
customer list, the export). Generated nested rules over every
source of fields, on a varied shop where many customers lack order figures, a loyalty
account or scores, must give the same members both ways, and the count must agree.
Runs on SQLite and PostgreSQL (``--db``).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select, text, union_all, update
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.messaging.segments.population import NOW, _score, business
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.loyalty import program
from wafa.loyalty.models import Badge, LoyaltyAccount
from wafa.loyalty.schemas.program import ProgramRules
from wafa.messaging.segments import compiler, service
from wafa.messaging.segments.models import CustomerOrderStats
from wafa.messaging.segments.rules import parse_rules

TODAY = date(2026, 3, 15)
CITIES = [None, "Tehran", "Shiraz", "isfahan"]
TAGS = ["vip", "coffee", "tea"]
TIERS = [None, "bronze", "silver", "gold"]
CATEGORIES = ["beans", "tea", "mugs"]
CHANNELS = ["online", "in_store", "phone"]
SEGMENTS = ["champions", "at_risk", "lost"]

# Values each field is compared with: near the population's own values, so that
# conditions split it (and, for the fields a customer may lack, so that a missing row
# matches some of them: orders_count < 2, tier = bronze, points_available <= 100, ...).
VALUES: dict[str, list[Any]] = {
    "city": ["Tehran", "shiraz", "Isfahan", "ra"],
    "language": ["en", "fa", "ar"],
    "tags": TAGS,
    "consent_email": [True, False],
    "days_since_created": [0, 30, 200, 400],
    "birthday_month": [1, 3, 6, 12],
    "orders_count": [0, 1, 2, 5],
    "total_spent": [0, 1000, 5000],
    "days_since_last_order": [0, 10, 90, 300],
    "bought_category": CATEGORIES,
    "order_channel": CHANNELS,
    "tier": ["bronze", "silver", "gold"],
    "points_available": [0, 100, 500],
    "badges": ["first_order", "big_spender"],
    "p_alive": [0.2, 0.5, 0.8],
    "predicted_clv": [0, 3000, 10000],
    "rfm_segment": SEGMENTS,
    "churn_risk": ["low", "medium", "high"],
}
OPS: dict[str, list[str]] = {
    "city": ["=", "!=", "in", "contains"],
    "tags": ["=", "!=", "in", "contains"],
    "bought_category": ["=", "!=", "in"],
    "order_channel": ["=", "!=", "in"],
    "badges": ["=", "!=", "in"],
    "language": ["=", "!=", "in"],
    "rfm_segment": ["=", "!=", "in"],
    "churn_risk": ["=", "!=", "in"],
    "consent_email": ["=", "!="],
    "p_alive": ["=", "!=", ">", ">=", "<", "<="],
}
ORDERED = ["=", "!=", ">", ">=", "<", "<=", "in"]


def _build(session: Session, clock: FrozenClock, *, floor: int) -> None:
    """A shop of 40 customers with every kind of fact and every kind of gap."""
    rng = random.Random(14)
    clock.set(NOW - timedelta(days=800))
    program.save_rules(
        session,
        rules=ProgramRules.model_validate(
            {
                "tiers": {
                    "enabled": True,
                    "levels": [
                        {"code": "bronze", "name": "Bronze", "threshold": floor},
                        {"code": "silver", "name": "Silver", "threshold": 1000},
                        {"code": "gold", "name": "Gold", "threshold": 5000},
                    ],
                }
            }
        ),
        by="test",
    )
    made: list[uuid.UUID] = []
    for n in range(40):
        clock.set(NOW - timedelta(days=rng.choice([0, 20, 45, 150, 380, 700]), hours=n))
        birthday = (
            {"day": rng.randint(1, 28), "month": rng.randint(1, 12), "calendar": "gregorian"}
            if rng.random() < 0.6
            else None
        )
        c = create_customer(
            session,
            name=f"Parts {n}",
            email=f"parts{n}@example.com",
            city=rng.choice(CITIES),
            language=rng.choice([None, "en", "fa", "ar"]),
            tags=rng.sample(TAGS, rng.randint(0, 2)),
            birthday=birthday,
        )
        made.append(c.id)
        if rng.random() < 0.5:
            session.execute(update(Customer).where(Customer.id == c.id).values(email_consent=True))
        if rng.random() < 0.7:
            last = NOW - timedelta(days=rng.choice([0, 5, 60, 120, 400]), hours=rng.randint(0, 23))
            session.add(
                CustomerOrderStats(
                    customer_id=c.id,
                    orders_count=rng.randint(1, 7),
                    spent_amount=rng.choice([0, 800, 1000, 4000, 9000]),
                    currency="USD",
                    first_order_at=last - timedelta(days=rng.randint(0, 300)),
                    last_order_at=last,
                    channels=rng.sample(CHANNELS, rng.randint(1, 2)),
                    locations=[],
                    products=[],
                    categories=rng.sample(CATEGORIES, rng.randint(0, 2)),
                )
            )
        if rng.random() < 0.6:
            session.add(
                LoyaltyAccount(
                    customer_id=c.id,
                    joined_on=TODAY - timedelta(days=rng.randint(0, 500)),
                    available=rng.choice([0, 50, 100, 700]),
                    tier_code=rng.choice(TIERS),
                    tier_override=rng.choice([None, None, "silver", "gold"]),
                    tier_override_until=rng.choice([None, TODAY - timedelta(days=1), TODAY]),
                )
            )
            if rng.random() < 0.5:
                code = rng.choice(["first_order", "big_spender"])
                session.add(Badge(customer_id=c.id, code=code, name=code, earned_at=NOW))
        if rng.random() < 0.7:
            _score(
                session,
                c.id,
                p_alive=rng.choice([None, 0.1, 0.5, 0.8, 0.95]),
                clv_amount=rng.choice([None, 0, 3000, 12000]),
                segment=rng.choice(SEGMENTS),
                churn_risk=rng.choice(["low", "medium", "high"]),
            )
    # Two who are not live, and would match: merged into another, erased.
    session.execute(update(Customer).where(Customer.id == made[0]).values(merged_into_id=made[1]))
    session.execute(update(Customer).where(Customer.id == made[2]).values(erased_at=NOW))
    session.flush()
    clock.set(NOW)


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(VALUES)))
    op = draw(st.sampled_from(OPS.get(name, ORDERED)))
    choices = VALUES[name]
    value: Any
    if op == "in":
        value = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=2, unique=True))
    else:
        value = draw(st.sampled_from(choices))
    return {"field": name, "op": op, "value": value}


def groups(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda key, items: {key: items},
        st.sampled_from(["all", "any"]),
        st.lists(children, min_size=1, max_size=3),
    )


items = st.recursive(conditions(), groups, max_leaves=8)
# Mostly an ``any`` at the top (what is split), sometimes an ``all`` around one.
rules = st.one_of(
    st.builds(lambda xs: {"any": xs}, st.lists(items, min_size=2, max_size=4)),
    st.builds(lambda xs: {"all": [{"any": xs}]}, st.lists(items, min_size=2, max_size=3)),
    groups(items),
)


@pytest.fixture(params=[0, 10], ids=["bronze-for-all", "bronze-earned"])
def shop(
    request: pytest.FixtureRequest, session: Session, clock: FrozenClock, settings: Settings
) -> Settings:
    biz = business(settings.database_url)
    _build(session, clock, floor=request.param)
    return biz


def _joined_members(compiled: compiler.Compiled) -> Any:
    """The rule selected at once: every table outer-joined, the whole condition."""
    return (
        select(Customer.id)
        .select_from(compiled.from_clause())
        .where(compiler.live(), compiled.where)
    )


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=rules)
def test_parts_select_the_same_members(session: Session, shop: Settings, data: Any) -> None:
    rule = parse_rules(data)
    ctx = service.context_for(session, shop)
    compiled = compiler.compile_rules(rule, ctx)
    note(f"parts: {[sorted(s) for _, s in compiled.parts]}")
    # The form before parts: one joined selection, tiers compared by the rank alone
    # (without the guards: an account exists, one of its codes is among the tiers).
    before = compiler.compile_rules(rule, replace(ctx, tier_rank_absent=None))
    expected = set(session.scalars(_joined_members(before)))
    assert set(session.scalars(_joined_members(compiled))) == expected
    # The parts are disjoint: no one twice, and together exactly the members.
    by_parts = list(session.scalars(union_all(*compiled.part_ids())))
    assert len(by_parts) == len(set(by_parts))
    assert set(by_parts) == expected
    assert set(session.scalars(compiler.members_query(rule, ctx))) == expected
    assert session.scalar(compiler.count_query(rule, ctx)) == len(expected)
    # Each form a count may run (parts, joined), and the one the service chooses.
    for form in compiler.count_forms(rule, ctx):
        assert session.scalar(form) == len(expected)
    assert service.count_rules(session, settings=shop, rules=rule) == len(expected)


NESTED = {
    "any": [
        {
            "all": [
                {"field": "orders_count", "op": ">=", "value": 2},
                {"field": "tier", "op": "=", "value": "gold"},
            ]
        },
        {
            "all": [
                {"field": "p_alive", "op": ">", "value": 0.4},
                {"field": "city", "op": "in", "value": ["Shiraz", "Isfahan"]},
                {
                    "any": [
                        {"field": "tags", "op": "=", "value": "coffee"},
                        {"field": "days_since_created", "op": "<", "value": 60},
                    ]
                },
            ]
        },
        {"field": "tags", "op": "=", "value": "vip"},
        {"field": "badges", "op": "=", "value": "big_spender"},
    ]
}


class TestSplitting:
    def test_an_any_over_different_tables_is_one_selection_per_table_set(
        self, session: Session, shop: Settings
    ) -> None:
        ctx = service.context_for(session, shop)
        compiled = compiler.compile_rules(parse_rules(NESTED), ctx)
        # The two profile-only items (a badge is an EXISTS) share one selection.
        assert [sorted(s) for _, s in compiled.parts] == [[], ["scores"], ["loyalty", "stats"]]
        sql = str(compiler.count_query(parse_rules(NESTED), ctx))
        assert sql.count("UNION ALL") == 2
        expected = set(session.scalars(_joined_members(compiled)))
        assert expected  # the shop has members of this rule
        assert session.scalar(compiler.count_query(parse_rules(NESTED), ctx)) == len(expected)

    def test_an_all_or_profile_only_rule_stays_one_query(
        self, session: Session, shop: Settings
    ) -> None:
        ctx = service.context_for(session, shop)
        for data in (
            {
                "all": [
                    {"field": "orders_count", "op": ">=", "value": 2},
                    {"any": [{"field": "tier", "op": "=", "value": "gold"}]},
                    {"field": "p_alive", "op": ">", "value": 0.4},
                ]
            },
            {
                "any": [
                    {"field": "tags", "op": "=", "value": "vip"},
                    {"field": "city", "op": "=", "value": "Tehran"},
                ]
            },
            {
                "any": [
                    {"field": "orders_count", "op": ">=", "value": 2},
                    {"field": "total_spent", "op": ">", "value": 100},
                ]
            },
        ):
            compiled = compiler.compile_rules(parse_rules(data), ctx)
            assert not compiled.split, data
            assert "UNION" not in str(compiler.count_query(parse_rules(data), ctx))


class TestTierWithoutAccount:
    def test_a_missing_account_reads_as_a_blank_one(self, session: Session, shop: Settings) -> None:
        """Whether a customer without an account is bronze follows the program's floor;
        the strict form added for the other tiers must not drop anyone."""
        ctx = service.context_for(session, shop)
        floor = program.rules_at(session, shop, NOW).rules.tiers.levels[0].threshold
        assert ctx.tier_rank_absent == (1 if floor == 0 else 0)
        no_account = set(
            session.scalars(
                select(Customer.id)
                .outerjoin(LoyaltyAccount, LoyaltyAccount.customer_id == Customer.id)
                .where(compiler.live(), LoyaltyAccount.customer_id.is_(None))
            )
        )
        assert no_account
        # (op, value, whether a customer without an account matches: floor 0, floor 10)
        cases: list[tuple[str, Any, bool, bool]] = [
            ("=", "bronze", True, False),
            ("in", ["bronze", "gold"], True, False),
            (">=", "bronze", True, False),
            ("<", "silver", True, True),
            ("<", "bronze", False, True),
            ("!=", "gold", True, True),
            ("!=", "bronze", False, True),
            ("=", "gold", False, False),
            (">", "bronze", False, False),
        ]
        for op, value, at_zero, at_ten in cases:
            rule = parse_rules({"all": [{"field": "tier", "op": op, "value": value}]})
            members = set(session.scalars(compiler.members_query(rule, ctx)))
            if at_zero if floor == 0 else at_ten:
                assert no_account <= members, (op, value)
            else:
                assert not no_account & members, (op, value)


class TestBadges:
    """Holding a badge is ``id IN (holders)`` (hashed once inside an ``OR``); lacking one
    ``NOT EXISTS``. Both checked against the badge rows read in Python, alone, inside
    an ``any`` with a profile condition, and inside a split ``any``."""

    def test_badges_against_the_rows(self, session: Session, shop: Settings) -> None:
        ctx = service.context_for(session, shop)
        live = set(session.scalars(select(Customer.id).where(compiler.live())))
        held: dict[str, set[uuid.UUID]] = {}
        for customer_id, code in session.execute(select(Badge.customer_id, Badge.code)):
            held.setdefault(code, set()).add(customer_id)
        vip = set(
            session.scalars(
                select(Customer.id).where(
                    compiler.live(),
                    compiler._json_list_has_any(ctx, Customer.tags, ["vip"]),
                )
            )
        )
        likely_alive = set(
            session.scalars(compiler.members_query(parse_rules(cond("p_alive", ">", 0.5)), ctx))
        )
        assert held["first_order"] & live and held["big_spender"] & live
        for op, value, has in (
            ("=", "big_spender", held["big_spender"]),
            ("in", ["first_order", "big_spender"], held["first_order"] | held["big_spender"]),
            ("!=", "first_order", live - held["first_order"]),
        ):
            badge = {"field": "badges", "op": op, "value": value}
            for data, expected in (
                ({"all": [badge]}, has & live),
                (
                    {"any": [badge, {"field": "tags", "op": "=", "value": "vip"}]},
                    (has & live) | vip,
                ),
                (
                    {"any": [badge, {"field": "p_alive", "op": ">", "value": 0.5}]},
                    (has & live) | likely_alive,
                ),
            ):
                rule = parse_rules(data)
                assert set(session.scalars(compiler.members_query(rule, ctx))) == expected, data
                assert session.scalar(compiler.count_query(rule, ctx)) == len(expected), data


def cond(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"all": [{"field": field, "op": op, "value": value}]}


class TestChoosingTheForm:
    @pytest.mark.parametrize("cheaper", [0, 1], ids=["parts", "joined"])
    def test_postgresql_runs_the_cheaper_form_without_jit(
        self,
        session: Session,
        shop: Settings,
        monkeypatch: pytest.MonkeyPatch,
        cheaper: int,
    ) -> None:
        """The planner's estimate picks the form; the count runs with ``jit`` off, and
        the setting is as it was afterwards (the count may sit in a saving transaction)."""
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("the choice is PostgreSQL's (SQLite counts by parts)")
        rule = parse_rules(NESTED)
        ctx = service.context_for(session, shop)
        forms = [str(f) for f in compiler.count_forms(rule, ctx)]
        assert len(forms) == 2
        expected = session.scalar(compiler.count_query(rule, ctx))
        monkeypatch.setattr(
            service,
            "_estimated_cost",
            lambda _s, query: 1.0 if str(query) == forms[cheaper] else 2.0,
        )
        session.execute(text("SET LOCAL jit = on"))
        ran: list[tuple[str, str]] = []
        scalar = session.scalar

        def spy(statement: Any, *args: Any, **kwargs: Any) -> Any:
            jit = scalar(text("SELECT current_setting('jit')"))
            ran.append((str(statement), jit))
            return scalar(statement, *args, **kwargs)

        monkeypatch.setattr(session, "scalar", spy)
        assert service.count_rules(session, settings=shop, rules=rule) == expected
        monkeypatch.undo()
        assert ran == [(forms[cheaper], "off")]
        assert session.scalar(text("SELECT current_setting('jit')")) == "on"
