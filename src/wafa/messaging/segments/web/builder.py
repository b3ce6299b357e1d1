"""The segment builder: conditions chosen from menus, counted live, saved with a name.

The page's script (``static/segment-builder.js``) draws the conditions from the
catalogue, keeps the rule's JSON in the form's ``rules`` field and counts it as it
changes through ``POST /api/v1/segments/count``. Without the script the same form shows
the JSON in a text box and a "Count" button: the page works either way.
"""

from __future__ import annotations

import json
import uuid
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.auth.models import StaffUser
from wafa.core.errors import Invalid
from wafa.core.settings import Settings
from wafa.messaging.segments import service
from wafa.messaging.segments.models import Segment
from wafa.messaging.segments.rules import EVERYONE, Rules
from wafa.messaging.segments.schemas import SegmentCreate, SegmentUpdate
from wafa.messaging.segments.web.catalogue import catalogue_for
from wafa.web import forms
from wafa.web.auth import MayMessage, see_other, staff_label
from wafa.web.i18n import N_, gettext
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render, request_language

router = APIRouter(route_class=WebRoute, include_in_schema=False)

RULE_PROBLEM = N_("This condition is incomplete or its value is not valid.")
RULES_NOT_JSON = N_("The rule could not be read. Start again from the builder.")
NAME_TAKEN = N_("Another segment already has this name.")


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    *,
    segment: Segment | None,
    name: str,
    description: str,
    rules: Any,
    errors: dict[str, str] | None = None,
    rule_errors: list[dict[str, Any]] | None = None,
    count: int | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    language = request_language(request)
    catalogue = catalogue_for(session, settings, language)
    return render(
        request,
        "messaging/segments/builder.html",
        {
            "segment": segment,
            "name": name,
            "description": description,
            "rules_json": json.dumps(rules, ensure_ascii=False, indent=1),
            "catalogue_json": json.dumps(catalogue.as_json(), ensure_ascii=False),
            "errors": errors or {},
            "rule_errors_json": json.dumps(rule_errors or [], ensure_ascii=False),
            "rule_errors": rule_errors or [],
            "count": count,
        },
        status_code=status_code,
    )


@router.get("/segments/new", response_class=HTMLResponse)
def new_segment(
    request: Request, session: ReadSession, settings: AppSettings, _: MayMessage
) -> HTMLResponse:
    return _page(request, session, settings, segment=None, name="", description="", rules=EVERYONE)


@router.get("/segments/{segment_id}/edit", response_class=HTMLResponse)
def edit_segment(
    segment_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    _: MayMessage,
) -> HTMLResponse:
    segment = service.get_live_segment(session, segment_id)
    return _page(
        request,
        session,
        settings,
        segment=segment,
        name=segment.name,
        description=segment.description or "",
        rules=segment.rules,
    )


class BuilderForm(BaseModel):
    """The builder form as posted: the rule travels as JSON text."""

    model_config = ConfigDict(extra="ignore")

    name: Annotated[str, Field(max_length=5000)] = ""
    description: Annotated[str, Field(max_length=20000)] = ""
    rules: Annotated[str, Field(max_length=200_000)] = ""
    action: str = "save"

    def parsed(self) -> tuple[str, str, Any]:
        """Name, description and the rule as JSON (text that is not JSON stays text)."""
        raw = self.rules.strip() or json.dumps(EVERYONE)
        try:
            rules: Any = json.loads(raw)
        except ValueError:
            rules = raw
        return self.name.strip(), self.description.strip(), rules


def _problems(
    exc: ValidationError | Invalid, language: str
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Messages for the form's fields and, for the builder, the paths of bad conditions."""
    errors: dict[str, str] = {}
    rule_errors: list[dict[str, Any]] = []
    if isinstance(exc, ValidationError):
        items = [(tuple(e["loc"]), str(e["msg"])) for e in exc.errors()]
        errors.update(
            {k: v for k, v in forms.validation_errors(exc, language).items() if k != "rules"}
        )
    else:
        items = [(tuple(loc), msg) for loc, msg in exc.errors]
    problem = gettext(language, RULE_PROBLEM)
    for loc, msg in items:
        if loc and loc[0] == "rules":
            rule_errors.append({"loc": list(loc[1:]), "msg": problem})
            if len(loc) > 1:
                errors.setdefault("rules", f"{problem} ({msg})")
            else:
                errors.setdefault("rules", gettext(language, RULES_NOT_JSON))
    return errors, rule_errors


def _save(
    request: Request,
    session: Session,
    settings: Settings,
    user: StaffUser,
    segment: Segment | None,
    form: BuilderForm,
) -> Response:
    name, description, rules = form.parsed()
    language = request_language(request)
    page = partial(
        _page, request, session, settings, segment=segment, name=name, description=description
    )
    try:
        if form.action == "count":
            parsed = Rules.model_validate(rules)
            count = service.count_rules(session, settings=settings, rules=parsed)
            return page(rules=parsed.as_json(), count=count)
        values = {"name": name, "description": description or None, "rules": rules}
        if segment is None:
            saved = service.create_segment(
                session,
                settings=settings,
                data=SegmentCreate.model_validate(values),
                by=staff_label(user),
            )
        else:
            saved = service.update_segment(
                session,
                settings=settings,
                segment_id=segment.id,
                data=SegmentUpdate.model_validate(values),
            )
    except service.SegmentNameTaken:
        return page(rules=rules, errors={"name": gettext(language, NAME_TAKEN)}, status_code=409)
    except (ValidationError, Invalid) as exc:
        errors, rule_errors = _problems(exc, language)
        return page(rules=rules, errors=errors, rule_errors=rule_errors, status_code=422)
    flash(request, N_("Segment “%(name)s” saved."), name=saved.name)
    return see_other(f"/segments/{saved.id}")


@router.post("/segments/new", response_class=HTMLResponse)
def create_segment(
    request: Request,
    form: Annotated[BuilderForm, Form()],
    session: DbSession,
    settings: AppSettings,
    user: MayMessage,
) -> Response:
    return _save(request, session, settings, user, None, form)


@router.post("/segments/{segment_id}/edit", response_class=HTMLResponse)
def update_segment(
    segment_id: uuid.UUID,
    request: Request,
    form: Annotated[BuilderForm, Form()],
    session: DbSession,
    settings: AppSettings,
    user: MayMessage,
) -> Response:
    segment = service.get_live_segment(session, segment_id)
    return _save(request, session, settings, user, segment, form)


@router.post("/segments/{segment_id}/archive")
def archive_segment(
    segment_id: uuid.UUID, request: Request, session: DbSession, _: MayMessage
) -> Response:
    segment = service.archive_segment(session, segment_id=segment_id)
    flash(request, N_("Segment “%(name)s” archived."), name=segment.name)
    return see_other("/segments")
