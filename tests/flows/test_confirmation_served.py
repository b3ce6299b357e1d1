"""The issue's contract, as it runs in production: a new store, ``WAFA_SMTP_URL`` set,
twenty identical ``POST /api/v1/orders`` at once against the served app, one worker
pass: exactly one email to the customer, with the order's ``external_id``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from tests.conftest import make_settings
from tests.factories import order_payload
from tests.messaging.conftest import Sink, body_of
from tests.serving import running_app
from wafa.app.worker import build_worker
from wafa.auth import service as auth
from wafa.core.db import session_scope
from wafa.core.settings import Settings

pytestmark = pytest.mark.slow


def test_twenty_posts_at_once_one_email(committed_db: Settings, smtp_sink: Sink) -> None:
    import httpx2 as httpx

    settings = make_settings(
        committed_db.database_url,
        smtp_url=smtp_sink.url,
        mail_from="Test Café <shop@example.com>",
        public_url="https://shop.example",
        email_rate=0,
    )
    with session_scope(settings) as s:
        _, token = auth.create_api_key(s, name="t", scopes=["read", "write", "admin"])
    payload = order_payload(
        placed_at=datetime.now(UTC).isoformat(),
        customer={"email": "twenty@example.com", "name": "Twenty"},
    )
    with running_app(settings) as base:

        def post(_: int) -> int:
            answer = httpx.post(
                base + "/api/v1/orders",
                json=payload,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            return int(answer.status_code)

        with ThreadPoolExecutor(max_workers=20) as pool:
            codes = list(pool.map(post, range(20)))
    assert all(code in (200, 201) for code in codes), codes
    build_worker(settings).run_once()
    build_worker(settings).run_once()
    mails = smtp_sink.to("twenty@example.com")
    assert len(mails) == 1
    assert payload["external_id"] in body_of(mails[0], "plain")
