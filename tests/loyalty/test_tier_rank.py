"""``effective_tier_rank`` (SQL) agrees with ``effective_tier`` (Python) on every account."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import create_customer
from wafa.loyalty.models import LoyaltyAccount
from wafa.loyalty.schemas.program import ProgramRules
from wafa.loyalty.tiers import effective_tier, effective_tier_rank, rank

TODAY = date(2026, 3, 15)
CODES = [None, "bronze", "silver", "gold", "retired"]


def _rules(floor: int) -> ProgramRules:
    return ProgramRules.model_validate(
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
    )


accounts = st.tuples(
    st.sampled_from(CODES),
    st.sampled_from(CODES),
    st.one_of(st.none(), st.integers(-3, 3).map(lambda d: TODAY + timedelta(days=d))),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(accounts, min_size=1, max_size=6), floor=st.sampled_from([0, 10]))
def test_rank_in_sql_matches_the_rule(session: Session, rows: list, floor: int) -> None:  # type: ignore[type-arg]
    rules = _rules(floor)
    with session.begin_nested() as nested:
        made: dict[uuid.UUID, LoyaltyAccount] = {}
        for held, override, until in rows:
            c = create_customer(session)
            acct = LoyaltyAccount(
                customer_id=c.id,
                joined_on=TODAY,
                tier_code=held,
                tier_override=override,
                tier_override_until=until,
            )
            session.add(acct)
            made[c.id] = acct
        session.flush()
        got = dict(
            session.execute(
                select(LoyaltyAccount.customer_id, effective_tier_rank(rules, today=TODAY)).where(
                    LoyaltyAccount.customer_id.in_(list(made))
                )
            ).all()
        )
        for cid, acct in made.items():
            assert got[cid] == rank(rules.tiers, effective_tier(rules, acct, today=TODAY))
        nested.rollback()
