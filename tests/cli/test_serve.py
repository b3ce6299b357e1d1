from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx2 as httpx
from sqlalchemy import select

from tests.factories import order_payload
from tests.serving import free_port
from wafa.auth import service as auth
from wafa.core.db import session_scope
from wafa.core.outbox import OutboxReceipt
from wafa.core.settings import Settings


class TestServe:
    def test_serves_api_and_runs_the_background_worker(self, committed_db: Settings) -> None:
        with session_scope(committed_db) as s:
            _, token = auth.create_api_key(s, name="t", scopes=["read", "write"])
        port = free_port()
        env = {
            **os.environ,
            "WAFA_DATABASE_URL": committed_db.database_url,
            "WAFA_ENVIRONMENT": "test",
            "WAFA_SECRET_KEY": committed_db.secret_key or "",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "wafa.cli", "serve", "--port", str(port), "--no-access-log"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            # Starting imports every domain: on a busy two-core machine that can take long.
            deadline = time.monotonic() + 90
            while True:
                try:
                    httpx.get(base + "/api/v1/openapi.json", timeout=1)
                    break
                except httpx.HTTPError:
                    assert server.poll() is None, "wafa serve stopped"
                    assert time.monotonic() < deadline, "wafa serve did not answer in 90 s"
                    time.sleep(0.2)
            r = httpx.post(
                base + "/api/v1/orders",
                json=order_payload(),
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 201
            # The worker thread handles the order.placed event without a separate process.
            deadline = time.monotonic() + 30
            handled = 0
            while time.monotonic() < deadline and not handled:
                with session_scope(committed_db) as s:
                    handled = len(s.scalars(select(OutboxReceipt)).all())
                time.sleep(0.3)
            assert handled > 0
        finally:
            server.send_signal(signal.SIGINT)
            out, _ = server.communicate(timeout=60)
        assert "worker" in out
