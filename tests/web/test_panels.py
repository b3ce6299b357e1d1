from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.factories import create_customer
from tests.web.helpers import logged_in, post_form
from wafa.auth.models import Role
from wafa.core.events import Event, emit
from wafa.customers.models import Customer
from wafa.people.service import Hooks
from wafa.web.pages import CustomerPanel


@pytest.fixture
def panel_templates(app: FastAPI, tmp_path: Path) -> Path:
    """A folder the app's templates are also read from (a domain's templates/<domain>/)."""
    (tmp_path / "test").mkdir()
    app.state.templates.loader.searchpath.append(str(tmp_path))
    return tmp_path / "test"


class Registered:
    """The profile's panels for one test: only the ones the test adds (the app is per test)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        app.state.profile_panels = ()

    def add(self, key: str, **kwargs: Any) -> None:
        self.app.state.profile_panels = (
            *self.app.state.profile_panels,
            CustomerPanel(key, **kwargs),
        )


@pytest.fixture
def registered(app: FastAPI) -> Registered:
    return Registered(app)


def _points(session: Session, customer: Customer) -> dict[str, Any]:
    return {"points": 120, "name": customer.name}


class TestCustomerPanels:
    def test_panel_shows_on_the_profile(
        self,
        client: TestClient,
        session: Session,
        panel_templates: Path,
        registered: Registered,
    ) -> None:
        (panel_templates / "points.html").write_text(
            '<section class="card" id="points">{{ panel.name }} has {{ panel.points|number }} points'
            " ({{ customer.email }})</section>",
            "utf-8",
        )
        registered.add("points", template="test/points.html", load=_points)
        logged_in(client, session, locale="fa")
        customer = create_customer(session, name="Panel Person", email="panel@example.com")
        page = client.get(f"/customers/{customer.id}").text
        assert "Panel Person has ۱۲۰ points (panel@example.com)" in page

    def test_failing_loader_does_not_break_the_page(
        self, client: TestClient, session: Session, registered: Registered
    ) -> None:
        def broken(session: Session, customer: Customer) -> dict[str, Any]:
            session.execute(text("SELECT * FROM no_such_table"))
            return {}

        registered.add("broken", template="test/none.html", load=broken)
        logged_in(client, session)
        customer = create_customer(session, name="Still Shown")
        response = client.get(f"/customers/{customer.id}")
        assert response.status_code == 200
        assert "Still Shown" in response.text
        assert "This section could not be loaded." in response.text

    def test_missing_template_does_not_break_the_page(
        self, client: TestClient, session: Session, registered: Registered
    ) -> None:
        registered.add("lost", template="test/missing.html", load=_points)
        logged_in(client, session)
        customer = create_customer(session, name="Template Lost")
        response = client.get(f"/customers/{customer.id}")
        assert response.status_code == 200
        assert "This section could not be loaded." in response.text

    def test_role_and_none_hide_panels(
        self, client: TestClient, session: Session, registered: Registered
    ) -> None:
        registered.add("owners", template="test/missing.html", load=_points, min_role=Role.owner)
        registered.add("nothing", template="test/missing.html", load=lambda s, c: None)
        logged_in(client, session, role=Role.cashier)
        customer = create_customer(session, name="Plain Person")
        response = client.get(f"/customers/{customer.id}")
        assert response.status_code == 200
        page = response.text
        assert "<h1" in page and "Plain Person" in page  # the profile itself is there
        assert "This section could not be loaded." not in page

    def test_erased_customers_have_no_panels(
        self, client: TestClient, session: Session, registered: Registered
    ) -> None:
        registered.add("lost", template="test/missing.html", load=_points)
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
            CustomerPanel("x", template="x.html", load=_points, column="top")


class Stamped(Event):
    """A test event shown on the timeline."""

    topic: ClassVar[str] = "test.stamped"
    label: ClassVar[str | None] = "Got a stamp"
    icon: ClassVar[str] = "star"

    customer_id: uuid.UUID


class Unlabelled(Event):
    """A test event that does not say how to show itself."""

    topic: ClassVar[str] = "test.unlabelled"

    customer_id: uuid.UUID


class TestTimelineEvents:
    def test_declared_labels_show_and_unlabelled_events_do_not(
        self, app: FastAPI, client: TestClient, session: Session
    ) -> None:
        app.state.people_hooks = Hooks({}, timeline_events=(Stamped, Unlabelled))
        logged_in(client, session)
        customer = create_customer(session, name="Stamped")
        emit(session, Stamped(customer_id=customer.id))
        emit(session, Unlabelled(customer_id=customer.id))
        session.flush()
        response = client.get(f"/customers/{customer.id}")
        assert response.status_code == 200
        assert "Stamped" in response.text
        assert "Got a stamp" in response.text
        assert "test.unlabelled" not in response.text
