from __future__ import annotations

import re

from fastapi.testclient import TestClient


class TestDocs:
    def test_openapi_is_served(self, client: TestClient) -> None:
        spec = client.get("/api/v1/openapi.json").json()
        assert "/api/v1/orders" in spec["paths"] and "/api/v1/customers" in spec["paths"]

    def test_swagger_and_redoc_load_only_local_assets(self, client: TestClient) -> None:
        for path in ("/api/docs", "/api/redoc"):
            page = client.get(path)
            assert page.status_code == 200
            urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
            assert urls, path
            assert all(u.startswith("/") for u in urls), urls
            for url in urls:
                assert client.get(url).status_code == 200, url

    def test_unknown_api_path_is_a_problem(self, client: TestClient) -> None:
        r = client.get("/api/v1/nothing-here")
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
