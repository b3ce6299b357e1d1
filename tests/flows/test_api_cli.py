"""The flows API (the issue's contract) and ``wafa flows list|enable|disable``."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.cli.conftest import Invoke, wafa  # noqa: F401 - the fixture


class TestApi:
    def test_list_switch_and_report(self, api: TestClient) -> None:
        listed = api.get("/api/v1/flows")
        assert listed.status_code == 200
        flows = {f["key"]: f for f in listed.json()}
        for key in ("order_confirmation", "delay_notice", "thank_you", "post_purchase"):
            assert key in flows
        for key in ("welcome", "win_back", "birthday", "points_expiring", "tier_changed"):
            assert key in flows
        assert flows["order_confirmation"]["enabled"] is True
        assert flows["win_back"]["enabled"] is False
        switched = api.put("/api/v1/flows/win_back", json={"enabled": True})
        assert switched.status_code == 200 and switched.json()["enabled"] is True
        assert {f["key"]: f["enabled"] for f in api.get("/api/v1/flows").json()}["win_back"]
        report = api.get("/api/v1/flows/win_back/report").json()
        assert report["entered"] == 0 and report["lift"]["method"]

    def test_bad_input_names_the_field(self, api: TestClient) -> None:
        api.get("/api/v1/flows")
        missing = api.put("/api/v1/flows/nope", json={"enabled": True})
        assert missing.status_code == 404
        wrong = api.put("/api/v1/flows/win_back", json={"enabled": "maybe"})
        assert wrong.status_code == 422
        bad = api.put(
            "/api/v1/flows/win_back",
            json={"definition": {"trigger": {"type": "event", "topic": "x"}, "steps": []}},
        )
        assert bad.status_code == 422
        assert "definition" in json.dumps(bad.json())
        assert api.get("/api/v1/flows/win_back/report").json()["flow"]["version"] == 1


def test_cli_list_enable_disable(wafa: Invoke) -> None:  # noqa: F811
    listed = wafa("flows", "list", "--json")
    assert listed.exit_code == 0, listed.output
    state = {f["key"]: f["enabled"] for f in json.loads(listed.stdout)}
    assert state["order_confirmation"] is True and state["birthday"] is False
    assert wafa("flows", "enable", "birthday").exit_code == 0
    assert "on " in wafa("flows", "list").stdout.split("birthday")[0].splitlines()[-1]
    assert wafa("flows", "disable", "birthday").exit_code == 0
    state = {f["key"]: f["enabled"] for f in json.loads(wafa("flows", "list", "--json").stdout)}
    assert state["birthday"] is False
    unknown = wafa("flows", "enable", "nope")
    assert unknown.exit_code != 0 and "nope" in unknown.stderr
