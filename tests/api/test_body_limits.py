"""Bodies are capped per route (413) and callers authenticated before a body is read."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient

from wafa.api.routing import JSON_LIMIT, MESSAGE_LIMIT


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        chunk = min(size, total - sent)
        sent += chunk
        yield b"x" * chunk


class TestBodyLimits:
    def test_an_announced_oversized_json_body_is_413_before_it_is_read(
        self, api: TestClient
    ) -> None:
        read = 0

        def body() -> Iterator[bytes]:
            nonlocal read
            for chunk in _chunks(JSON_LIMIT + 1):
                read += len(chunk)
                yield chunk

        r = api.post(
            "/api/v1/customers",
            content=body(),
            headers={"Content-Type": "application/json", "Content-Length": str(JSON_LIMIT + 1)},
        )
        assert r.status_code == 413, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["limit"] == JSON_LIMIT

    def test_a_body_without_a_length_is_cut_off_at_the_limit(self, api: TestClient) -> None:
        r = api.post(
            "/api/v1/customers",
            content=_chunks(JSON_LIMIT + 10),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 413, r.text

    def test_a_body_under_the_limit_is_served(self, api: TestClient) -> None:
        r = api.post("/api/v1/customers", json={"name": "Small Body", "notes": "x" * 1000})
        assert r.status_code == 201, r.text

    def test_a_webhook_may_be_larger_than_json_but_not_without_bound(
        self, client: TestClient
    ) -> None:
        r = client.post(
            "/api/v1/hooks/shopify/nope",
            content=b"{}",
            headers={"Content-Length": str(MESSAGE_LIMIT + 1)},
        )
        assert r.status_code == 413

    def test_an_oversized_dashboard_form_is_413(self, client: TestClient) -> None:
        r = client.post(
            "/login",
            content=_chunks(JSON_LIMIT + 1),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Content-Length": str(JSON_LIMIT + 1),
            },
        )
        assert r.status_code == 413


class TestAuthenticatedBeforeTheBody:
    def test_an_anonymous_post_is_401_without_reading_its_body(self, client: TestClient) -> None:
        read = 0

        def body() -> Iterator[bytes]:
            nonlocal read
            for chunk in _chunks(512 * 1024):
                read += len(chunk)
                yield chunk

        r = client.post(
            "/api/v1/customers",
            content=body(),
            headers={"Content-Type": "application/json", "Content-Length": str(512 * 1024)},
        )
        assert r.status_code == 401
        assert read <= 64 * 1024  # the client's first chunk at most; the app read none

    def test_a_bad_key_is_401_before_the_body(self, client: TestClient) -> None:
        r = client.post(
            "/api/v1/customers",
            content=b"not even json",
            headers={"Authorization": "Bearer nope", "Content-Type": "application/json"},
        )
        assert r.status_code == 401
