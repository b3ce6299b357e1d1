"""The dashboard's one form helper: reading typed text, refusals by field, redraw after rollback."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import create_customer
from tests.web.helpers import logged_in, post_form
from wafa.api.deps import DbSession
from wafa.core.errors import Conflict, Invalid
from wafa.core.settings import CalendarKind
from wafa.core.validation import refuse
from wafa.customers.models import Customer
from wafa.web import forms, i18n
from wafa.web.auth import Staff, see_other
from wafa.web.forms import FormData, FormReader, Refusal
from wafa.web.routing import WebRoute
from wafa.web.templating import flash

TAKEN = "This code is taken. Choose another."


@pytest.fixture
def form_app(app: FastAPI) -> FastAPI:
    """The app with a form that writes a customer, then is refused as the form asks."""
    router = APIRouter(route_class=WebRoute)

    @router.post("/test-forms/customer")
    def make(request: Request, session: DbSession, user: Staff, form: FormData) -> Response:
        def work() -> Response:
            create_customer(session, name=form["name"], email=None)
            session.flush()  # written: a refusal must take it back
            if form.get("refuse") == "invalid":
                raise Invalid.field(("name",), forms.TOO_LONG)
            if form.get("refuse") == "conflict":
                raise Conflict("taken")
            if form.get("refuse") == "other":
                raise Invalid.field(("name",), "an English sentence nobody translated")
            if form.get("refuse") == "flash":
                flash(request, "%(points)s points added.", points=1250)
                return see_other("/customers")
            return Response("saved", status_code=201)

        return forms.submit(
            request,
            session,
            work,
            redraw=lambda errors, status: HTMLResponse(json.dumps(errors), status_code=status),
            refusals=[Refusal(Conflict, TAKEN, field="code")],
        )

    app.include_router(router)
    return app


def _names(session: Session) -> list[str | None]:
    return list(session.scalars(select(Customer.name)))


class TestSubmit:
    def test_the_work_is_kept_when_nothing_refuses_it(
        self, form_app: FastAPI, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session)
        r = post_form(client, "/test-forms/customer", {"name": "Kept"})
        assert (r.status_code, r.text) == (201, "saved")
        assert _names(session) == ["Kept"]

    def test_a_refused_form_is_redrawn_with_its_errors_and_nothing_is_kept(
        self, form_app: FastAPI, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, locale="fa")
        r = post_form(client, "/test-forms/customer", {"name": "Gone", "refuse": "invalid"})
        assert r.status_code == 422
        assert r.json() == {"name": i18n.gettext("fa", forms.TOO_LONG)}
        assert r.json()["name"] != forms.TOO_LONG  # the sentence, in Persian
        assert _names(session) == []

    def test_a_refusal_of_another_kind_says_its_own_words_with_its_status(
        self, form_app: FastAPI, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session)
        r = post_form(client, "/test-forms/customer", {"name": "Taken", "refuse": "conflict"})
        assert (r.status_code, r.json()) == (409, {"code": TAKEN})
        assert _names(session) == []

    def test_a_message_that_is_not_a_sentence_of_ours_is_not_shown(
        self, form_app: FastAPI, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session)
        r = post_form(client, "/test-forms/customer", {"name": "X", "refuse": "other"})
        assert r.json() == {"name": forms.GENERIC}


class TestFlash:
    def test_a_number_in_a_flash_is_written_in_the_readers_digits(
        self, form_app: FastAPI, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, locale="fa")
        done = post_form(client, "/test-forms/customer", {"name": "F", "refuse": "flash"})
        page = client.get(done.headers["location"]).text
        assert i18n.gettext("fa", "%(points)s points added.", points="۱٬۲۵۰") in page


class _Stay(BaseModel):
    first: int
    last: int

    @model_validator(mode="after")
    def _order(self) -> _Stay:
        if self.last <= self.first:
            raise refuse("_Stay", [(("last",), "date_order", forms.DATE)])
        return self


class TestFieldErrors:
    def test_a_rule_over_several_fields_names_its_field(self) -> None:
        with pytest.raises(ValidationError) as caught:
            _Stay(first=3, last=1)
        errors = forms.field_errors(caught.value, "fa")
        assert errors == {"last": i18n.gettext("fa", forms.DATE)}

    def test_schema_errors_are_said_by_their_kind(self) -> None:
        with pytest.raises(ValidationError) as caught:
            _Stay.model_validate({"first": "x"})
        errors = forms.field_errors(caught.value, "en")
        assert errors == {"first": forms.WHOLE, "last": forms.REQUIRED}

    def test_a_location_is_mapped_to_the_forms_field(self) -> None:
        exc = Invalid("bad", [(("levels", 2, "threshold"), forms.TOO_SMALL)])
        errors = forms.field_errors(exc, "en", field_for=lambda loc: f"{loc[2]}_{loc[1]}")
        assert errors == {"threshold_2": forms.TOO_SMALL}


class TestFormReader:
    def test_numbers_and_amounts_in_persian_digits(self) -> None:
        f = FormReader({"n": "۱۲۳", "a": "۱۲٫۵۰", "bad": "12.345"}, currency="USD")
        assert (f.integer("n"), f.money("a"), f.money("bad")) == (123, 1250, None)
        assert f.errors == {"bad": forms.AMOUNT_PLACES}
        with pytest.raises(Invalid):
            f.check()

    def test_a_jalali_last_day_ends_at_the_end_of_that_day_in_the_shops_zone(self) -> None:
        from zoneinfo import ZoneInfo

        tehran = ZoneInfo("Asia/Tehran")
        f = FormReader({"until": "۱۴۰۵/۰۱/۱۳"}, calendar=CalendarKind.jalali, zone=tehran)
        until = f.until("until")
        # 13 Farvardin 1405 is 2 April 2026; it ends at midnight in Tehran (20:30 UTC).
        assert until == datetime(2026, 4, 2, 20, 30, tzinfo=UTC)
        assert forms.until_text(until, calendar=CalendarKind.jalali, zone=tehran) == "1405/01/13"
