from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.factories import create_customer
from tests.web.helpers import logged_in, post_form
from wafa.auth.models import Role
from wafa.customers.models import Customer
from wafa.web import panels


@pytest.fixture
def panel_templates(app: FastAPI, tmp_path: Path) -> Path:
    """A folder the app's templates are also read from (a domain's templates/<domain>/)."""
    (tmp_path / "test").mkdir()
    app.state.templates.loader.searchpath.append(str(tmp_path))
    return tmp_path / "test"


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Only this test's panels are registered while it runs (other domains' are set aside)."""
    saved = dict(panels._panels)
    panels._panels.clear()
    keys: list[str] = []
    try:
        yield keys
    finally:
        panels._panels.clear()
        panels._panels.update(saved)


def _points(session: Session, customer: Customer) -> dict[str, Any]:
    return {"points": 120, "name": customer.name}


class TestCustomerPanels:
    def test_panel_shows_on_the_profile(
        self,
        client: TestClient,
        session: Session,
        panel_templates: Path,
        registered: list[str],
    ) -> None:
        (panel_templates / "points.html").write_text(
            '<section class="card" id="points">{{ panel.name }} has {{ panel.points|number }} points'
            " ({{ customer.email }})</section>",
            "utf-8",
        )
        panels.register_customer_panel("points", template="test/points.html", load=_points)
        registered.append("points")
        logged_in(client, session, locale="fa")
        customer = create_customer(session, name="Panel Person", email="panel@example.com")
        page = client.get(f"/customers/{customer.id}").text
        assert "Panel Person has ۱۲۰ points (panel@example.com)" in page

    def test_failing_loader_does_not_break_the_page(
        self, client: TestClient, session: Session, registered: list[str]
    ) -> None:
        def broken(session: Session, customer: Customer) -> dict[str, Any]:
            session.execute(text("SELECT * FROM no_such_table"))
            return {}

        panels.register_customer_panel("broken", template="test/none.html", load=broken)
        registered.append("broken")
        logged_in(client, session)
        customer = create_customer(session, name="Still Shown")
        response = client.get(f"/customers/{customer.id}")
        assert response.status_code == 200
        assert "Still Shown" in response.text
        assert "This section could not be loaded." in response.text

    def test_missing_template_does_not_break_the_page(
        self, client: TestClient, session: Session, registered: list[str]
    ) -> None:
        panels.register_customer_panel("lost", template="test/missing.html", load=_points)
        registered.append("lost")
        logged_in(client, session)
        customer = create_customer(session, name="Template Lost")
        response = client.get(f"/customers/{customer.id}")
        assert response.status_code == 200
        assert "This section could not be loaded." in response.text

    def test_role_and_none_hide_panels(
        self, client: TestClient, session: Session, registered: list[str]
    ) -> None:
        panels.register_customer_panel(
            "owners", template="test/missing.html", load=_points, min_role=Role.owner
        )
        panels.register_customer_panel(
            "nothing", template="test/missing.html", load=lambda s, c: None
        )
        registered.extend(["owners", "nothing"])
        logged_in(client, session, role=Role.cashier)
        customer = create_customer(session, name="Plain Person")
        response = client.get(f"/customers/{customer.id}")
        assert response.status_code == 200
        page = response.text
        assert "<h1" in page and "Plain Person" in page  # the profile itself is there
        assert "This section could not be loaded." not in page

    def test_erased_customers_have_no_panels(
        self, client: TestClient, session: Session, registered: list[str]
    ) -> None:
        panels.register_customer_panel("lost", template="test/missing.html", load=_points)
        registered.append("lost")
        logged_in(client, session)
        customer = create_customer(session, name="Gone")
        post_form(client, f"/customers/{customer.id}/erase", {"confirm": "yes"})
        response = client.get(f"/customers/{customer.id}")
        assert response.status_code == 200
        page = response.text
        assert "personal data was erased" in page and "Gone" not in page  # the profile, erased
        assert "This section could not be loaded." not in page

    def test_column_must_be_known(self) -> None:
        with pytest.raises(ValueError, match="column"):
            panels.register_customer_panel("x", template="x.html", load=_points, column="top")


class TestTimelineEvents:
    def test_registered_topic_has_a_label(self, client: TestClient, session: Session) -> None:
        from wafa.core import outbox

        panels.register_timeline_event("test.stamped", "Got a stamp", icon="star")
        try:
            logged_in(client, session)
            customer = create_customer(session, name="Stamped")
            outbox.emit(session, "test.stamped", {"n": 1}, subject_id=customer.id)
            outbox.emit(session, "test.unlabelled", {"n": 1}, subject_id=customer.id)
            session.flush()
            page = client.get(f"/customers/{customer.id}").text
            assert "Got a stamp" in page
            assert "test.unlabelled" in page
        finally:
            panels._events.pop("test.stamped", None)
