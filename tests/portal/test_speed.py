"""The portal's home page stays cheap: a bounded number of SQL statements, none sent twice;
the loyalty reads it relies on answer as the slower ones they replace."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.routing import Mount, compile_path

from tests.auth.test_role_matrix import iter_routes
from tests.conftest import FrozenClock
from tests.portal.helpers import member, sign_in
from tests.sqlcount import counting
from wafa.core.settings import Settings
from wafa.loyalty import ledger, program, rewards
from wafa.loyalty import service as loyalty
from wafa.loyalty.models import EntryKind
from wafa.loyalty.schemas.io import RewardCreate
from wafa.loyalty.schemas.program import ProgramRules

#: Building the home page: the session with its customer, the settings' version and the
#: loyalty versions 1 (the settings' version no longer read apart: wafa.app.live_settings
#: leaves /portal/ to the route), program versions 1, account 1, lots 1, stamp progress and
#: cards 2, badges 1, rewards 1, coupons 1, the instant the page stops being valid 1 (16
#: once: the customer read three times, the program's versions three times, the balance in
#: five statements). Shown again from the kept page: the first statement alone.
HOME_STATEMENTS = 10


def test_the_home_and_rewards_pages_send_at_most_ten_statements_none_twice(
    client: TestClient, session: Session, settings: Settings
) -> None:
    customer = member(session, settings, points=1250, email="speed@example.com")
    rewards.create_reward(
        session,
        settings=settings,
        data=RewardCreate(name="Free cake", kind="discount_fixed", cost_points=500, amount=900),
    )
    sign_in(client, session, settings, customer)
    with counting() as seen:
        page = client.get("/portal/")
    assert page.status_code == 200 and "1,250" in page.text
    assert len(seen.queries) <= HOME_STATEMENTS, "\n".join(seen.queries)
    assert len(set(seen.queries)) == len(seen.queries), "a statement was sent twice"
    with counting() as seen:
        again = client.get("/portal/")
    assert again.text == page.text
    assert len(seen.queries) == 1, "\n".join(seen.queries)
    with counting() as seen:
        assert client.get("/portal/rewards").status_code == 200
    assert len(seen.queries) <= HOME_STATEMENTS, "\n".join(seen.queries)
    assert len(set(seen.queries)) == len(seen.queries), "a statement was sent twice"


def test_one_read_of_the_lots_answers_as_the_three_it_replaces(
    session: Session, settings: Settings, clock: FrozenClock
) -> None:
    clock.set(datetime(2026, 3, 1, 12, tzinfo=UTC))
    cid = member(session, settings, email="lots@example.com").id
    start = clock.now
    day = timedelta(days=1)
    # Spendable now with no expiry; due three days ago but not released by the job yet;
    # pending for ten more days (lapsing in 40); spendable, lapsing in 20; lapsing in a year.
    lots = [
        ledger.LotSpec(30, start - day, None),
        ledger.LotSpec(50, start + 3 * day, start + 90 * day),
        ledger.LotSpec(70, start + 16 * day, start + 46 * day),
        ledger.LotSpec(11, start - day, start + 26 * day),
        ledger.LotSpec(13, start - day, start + 400 * day),
    ]
    ledger.lock_account(session, cid, zone=settings.zone, now=start)
    ledger.credit(
        session,
        customer_id=cid,
        kind=EntryKind.earn,
        reason="test",
        occasion="speed:lots",
        lots=lots,
        now=start,
    )
    clock.set(start + 6 * day)
    now, zone = clock.now, settings.zone
    until = now + timedelta(days=60)
    seen = ledger.outlook(session, cid, zone=zone, now=now, until=until)
    available, pending = ledger.balance_of(session, cid, now=now)
    acct = ledger.account(session, cid)
    assert acct is not None
    assert (acct.available + seen.due, acct.pending - seen.due) == (available, pending)
    assert seen.due == 50 and seen.releasing and len(seen.expiring) == 2
    assert seen.releasing == ledger.releasing(session, cid, zone=zone, now=now)
    assert seen.expiring == ledger.expiring(session, cid, zone=zone, until=until)
    status = loyalty.status(session, settings=settings, customer_id=cid)
    assert (status.available, status.pending) == (available, pending)


def test_the_program_read_once_sees_a_version_saved_inside(
    session: Session, settings: Settings
) -> None:
    with program.versions_read_once(session), counting() as seen:
        first = program.rules_at(session, settings)
        program.rules_at(session, settings)
        assert len(seen.queries) == 1
        program.save_rules(
            session, rules=ProgramRules.model_validate({"pending_days": 3}), by="test"
        )
        after = program.rules_at(session, settings)
    assert after.version == first.version + 1 and after.rules.pending_days == 3
    assert "loyalty_program_versions" not in session.info


def test_the_portal_is_matched_first_and_no_other_route_matches_its_paths(app: FastAPI) -> None:
    """FastAPI tries routes in order: the portal's come before the API's 170 and every other
    page's, which is only right while no other route could answer a portal path."""
    routes = list(iter_routes(app))
    paths = [str(getattr(r, "path", "")) for r in routes]
    portal = [i for i, p in enumerate(paths) if p.startswith(("/portal/", "/r/"))]
    # (the schema's route is FastAPI's own, added with the application)
    api = [i for i, p in enumerate(paths) if p.startswith("/api/v1/") and "openapi" not in p]
    assert len(portal) > 20 and max(portal) < min(api)
    others = [
        # a mounted app answers every path under its own
        compile_path(p + "/{path:path}" if isinstance(r, Mount) else p)[0]
        for i, (r, p) in enumerate(zip(routes, paths, strict=True))
        if i not in portal and p
    ]
    assert len(others) > 300
    for i in portal:
        sample = re.sub(r"\{[^}]+\}", "x1", paths[i])
        assert not [o.pattern for o in others if o.match(sample)], paths[i]
