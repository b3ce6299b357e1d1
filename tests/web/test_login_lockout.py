from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response as PageResponse
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.errors import Unauthorized
from wafa.web import i18n

PASSWORD = "correct horse battery"


@pytest.fixture
def owner(session: Session) -> str:
    auth.create_user(session, email="lock@shop.example", password=PASSWORD, role=Role.owner)
    return "lock@shop.example"


class TestAuthenticateLockout:
    def test_five_wrong_passwords_lock_even_the_right_one(
        self, session: Session, owner: str, clock: FrozenClock
    ) -> None:
        for _ in range(auth.LOCK_AFTER):
            with pytest.raises(Unauthorized):
                auth.authenticate(session, email=owner, password="wrong password!")
        with pytest.raises(auth.LoginLocked, match="15 minutes"):
            auth.authenticate(session, email=owner, password=PASSWORD)
        clock.advance(minutes=16)
        assert auth.authenticate(session, email=owner, password=PASSWORD).email == owner

    def test_a_good_login_resets_the_count(self, session: Session, owner: str) -> None:
        for _ in range(auth.LOCK_AFTER - 1):
            with pytest.raises(Unauthorized):
                auth.authenticate(session, email=owner, password="wrong password!")
        user = auth.authenticate(session, email=owner, password=PASSWORD)
        assert user.failed_logins == 0
        for _ in range(auth.LOCK_AFTER - 1):
            with pytest.raises(Unauthorized):
                auth.authenticate(session, email=owner, password="wrong password!")
        assert auth.authenticate(session, email=owner, password=PASSWORD).locked_until is None


class TestLoginPageLockout:
    def _post(self, client: TestClient, password: str) -> PageResponse:
        page = client.get("/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        return client.post(
            "/login",
            data={"email": "lock@shop.example", "password": password, "csrf_token": token},
            follow_redirects=False,
        )

    def test_locked_login_answers_429_and_says_to_wait(
        self, client: TestClient, owner: str
    ) -> None:
        codes = [self._post(client, "wrong password!").status_code for _ in range(auth.LOCK_AFTER)]
        assert codes == [401] * auth.LOCK_AFTER
        locked = self._post(client, PASSWORD)
        assert locked.status_code == 429
        assert "try again in 15 minutes" in locked.text


class TestLockoutMessages:
    @pytest.mark.parametrize(
        ("language", "expected"),
        [("fa", "۱۵ دقیقهٔ دیگر"), ("ar", "بعد ١٥ دقيقة"), ("en", "in 15 minutes")],
    )
    def test_translated_with_local_digits(self, language: str, expected: str) -> None:
        text = i18n.ngettext(
            language,
            "Too many wrong passwords. For your safety, try again in %(num)s minute.",
            "Too many wrong passwords. For your safety, try again in %(num)s minutes.",
            15,
        )
        assert expected in text
