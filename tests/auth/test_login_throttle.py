"""Login throttling (issue 9 item 6): an atomic count per account and per address, a delay
rather than a shut door, the same answer for unknown emails, and 40 parallel guesses
through a served process of which only the free tries are checked."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth import throttle
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings

PASSWORD = "correct horse battery"
GUESSERS = 40
_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def _post(client: TestClient | httpx.Client, email: str, password: str) -> httpx.Response:
    page = client.get("/login")
    found = _TOKEN.search(page.text)
    assert found
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": found.group(1)},
        follow_redirects=False,
    )


@pytest.fixture
def owner(session: Session) -> str:
    auth.create_user(session, email="owner@shop.example", password=PASSWORD, role=Role.owner)
    session.flush()
    return "owner@shop.example"


def test_unknown_and_known_emails_get_the_same_answers(
    app: object, session: Session, owner: str
) -> None:
    answers = {}
    for email in (owner, "nobody@shop.example"):
        with TestClient(app) as client:  # type: ignore[arg-type]
            codes = [_post(client, email, "wrong password!").status_code for _ in range(7)]
            last = _post(client, email, "wrong password!")
        answers[email] = (codes, last.status_code, "Retry-After" in last.headers)
    assert answers[owner] == answers["nobody@shop.example"]
    codes, status, retry = answers[owner]
    assert codes[: throttle.FREE_PER_ACCOUNT] == [401] * throttle.FREE_PER_ACCOUNT
    assert 429 in codes and status == 429 and retry


def test_strangers_slow_an_account_down_but_never_shut_it(
    session: Session, clock: FrozenClock
) -> None:
    key = [(throttle.account_key("owner@shop.example"), throttle.FREE_PER_ACCOUNT)]
    for _ in range(throttle.FREE_PER_ACCOUNT):
        assert throttle.claim(session, key).allowed
    for _ in range(30):  # a stranger keeps guessing, as fast as they can
        throttle.claim(session, key)
    refused = throttle.claim(session, key)
    assert not refused.allowed and refused.retry_after <= throttle.MAX_DELAY.total_seconds() + 1
    clock.advance(seconds=throttle.MAX_DELAY.total_seconds())
    assert throttle.claim(session, key).allowed  # one try per delay, however long it lasts
    assert not throttle.claim(session, key).allowed
    clock.advance(minutes=16)  # a new window: the free tries again
    assert throttle.claim(session, key).allowed


def test_a_browser_that_logged_in_before_is_not_slowed_by_strangers(
    app: object, session: Session, owner: str
) -> None:
    with TestClient(app) as mine:  # type: ignore[arg-type]
        assert _post(mine, owner, PASSWORD).status_code == 303
        mine.cookies.delete("wafa_session")
        # Strangers elsewhere use up the account's tries.
        stranger = [(throttle.account_key(owner), throttle.FREE_PER_ACCOUNT)]
        for _ in range(20):
            throttle.claim(session, stranger)
        session.flush()
        with TestClient(app) as fresh:  # type: ignore[arg-type]
            assert _post(fresh, owner, PASSWORD).status_code == 429
        assert _post(mine, owner, PASSWORD).status_code == 303


@pytest.fixture
def served_owner(committed_db: Settings) -> Settings:
    with session_scope(committed_db) as s:
        auth.create_user(s, email="owner@shop.example", password=PASSWORD, role=Role.owner)
    return committed_db


def test_forty_parallel_guesses_check_only_the_free_tries(served_owner: Settings) -> None:
    """Through a served process: the count is atomic, so 40 guesses at once cannot slip past
    it, and the refused ones answer at once (no argon2, no lock held)."""
    barrier = threading.Barrier(GUESSERS)
    with running_app(served_owner) as base:

        def guess(i: int) -> tuple[int, float]:
            with httpx.Client(base_url=base, timeout=60) as client:
                page = client.get("/login")
                found = _TOKEN.search(page.text)
                assert found
                barrier.wait()
                started = time.monotonic()
                answer = client.post(
                    "/login",
                    data={
                        "email": "owner@shop.example",
                        "password": f"guess {i}",
                        "csrf_token": found.group(1),
                    },
                    follow_redirects=False,
                )
                return answer.status_code, time.monotonic() - started

        with ThreadPoolExecutor(GUESSERS) as pool:
            results = list(pool.map(guess, range(GUESSERS)))
    codes = [code for code, _ in results]
    checked = codes.count(401)
    assert set(codes) <= {401, 429}, codes
    # The free tries, plus at most the one delayed slot a parallel burst can win.
    assert checked <= throttle.FREE_PER_ACCOUNT + 1, codes
    assert codes.count(429) >= GUESSERS - throttle.FREE_PER_ACCOUNT - 1
    slowest = max(took for _, took in results)
    assert slowest < 20, f"slowest answer {slowest:.1f} s"


def test_the_worker_forgets_counts_that_no_longer_count(
    session: Session, clock: FrozenClock
) -> None:
    from wafa.app import domains

    assert "auth.login-throttle-cleanup" in {t.name for t in domains.tasks()}
    key = [(throttle.account_key("a@shop.example"), throttle.FREE_PER_ACCOUNT)]
    for _ in range(10):
        throttle.claim(session, key)
    assert throttle.prune(session) == 0  # still counting
    clock.advance(minutes=16)
    assert throttle.prune(session) == 1
    assert throttle.claim(session, key).allowed
