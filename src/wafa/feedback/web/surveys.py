"""Surveys: the list with their scores, a new survey, and a survey's results (score per
month of the business calendar, response rate, the verbatims, searchable), plus a QR code
of a customer's link for the point-of-sale screen or a receipt."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.auth.models import Role
from wafa.feedback import service
from wafa.feedback.schemas import SurveyCreate
from wafa.web.auth import Counter, MayMessage, MayViewReports, see_other
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

NAV = NavItem(
    N_("Surveys"),
    "/feedback/surveys",
    min_role=Role.manager,
    icon="message",
    order=71,
    section=N_("Feedback"),
)
KINDS = {"nps": N_("NPS (0–10)"), "csat": N_("CSAT (1–5)"), "ces": N_("CES (1–7)")}
TOUCHPOINTS = {
    "delivery": N_("After delivery"),
    "visit": N_("After a visit"),
    "complaint": N_("After a complaint is resolved"),
    "relationship": N_("Relationship (periodic)"),
    "other": N_("Other"),
}


@router.get("/feedback/surveys", response_class=HTMLResponse)
def surveys_page(request: Request, session: ReadSession, user: MayViewReports) -> HTMLResponse:
    rows = [(s, service.results(session, survey_id=s.id)) for s in service.list_surveys(session)]
    return render(
        request, "feedback/surveys.html", {"rows": rows, "kinds": KINDS, "touchpoints": TOUCHPOINTS}
    )


@router.post("/feedback/surveys")
def create_survey(
    request: Request,
    session: DbSession,
    user: MayMessage,
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=8)] = "nps",
    touchpoint: Annotated[str, Form(max_length=16)] = "other",
    question_en: Annotated[str, Form(max_length=500)] = "",
    question_ar: Annotated[str, Form(max_length=500)] = "",
    question_fa: Annotated[str, Form(max_length=500)] = "",
    ask_every_days: Annotated[int, Form(ge=30, le=365)] = 90,
) -> Response:
    try:
        data = SurveyCreate.model_validate(
            {
                "name": name,
                "kind": kind,
                "touchpoint": touchpoint,
                "question": {"en": question_en, "ar": question_ar, "fa": question_fa},
                "ask_every_days": ask_every_days,
            }
        )
    except ValueError:
        flash(request, N_("Give the survey a name and write its question."), kind="error")
        return see_other("/feedback/surveys")
    survey = service.create_survey(session, data=data)
    flash(request, N_("Survey created."))
    return see_other(f"/feedback/surveys/{survey.id}")


@router.get("/feedback/surveys/{survey_id}", response_class=HTMLResponse)
def survey_page(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayViewReports,
    survey_id: uuid.UUID,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    survey = service.get_survey(session, survey_id)
    return render(
        request,
        "feedback/survey.html",
        {
            "survey": survey,
            "results": service.results(session, survey_id=survey.id),
            "months": service.monthly(session, settings=settings, survey_id=survey.id),
            "verbatims": service.verbatims(session, survey_id=survey.id, q=q),
            "q": q or "",
            "kinds": KINDS,
            "touchpoints": TOUCHPOINTS,
        },
    )


@router.post("/feedback/surveys/{survey_id}/active")
def set_active(
    request: Request,
    session: DbSession,
    user: MayMessage,
    survey_id: uuid.UUID,
    active: Annotated[bool, Form()] = False,
) -> Response:
    service.set_active(session, survey_id=survey_id, active=active)
    flash(request, N_("Survey resumed.") if active else N_("Survey paused."))
    return see_other(f"/feedback/surveys/{survey_id}")


@router.get("/feedback/qr", response_class=HTMLResponse)
def qr_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Counter,
    customer: uuid.UUID,
    touchpoint: Annotated[str, Query(max_length=16)] = "visit",
    occasion: Annotated[str | None, Query(max_length=200)] = None,
    order: uuid.UUID | None = None,
) -> HTMLResponse:
    """A QR code of the customer's survey link, to show on the point-of-sale screen or print;
    the answer is credited to the staff member showing it (and to ``order`` when given)."""
    made = service.survey_link_or_reason(
        session,
        settings=settings,
        customer_id=customer,
        occasion=occasion or (f"order:{order}" if order else f"visit:{customer}"),
        touchpoint=touchpoint,
        order_id=order,
        staff_id=user.id,
    )
    link = made if isinstance(made, service.SurveyLink) else None
    return render(
        request,
        "feedback/qr.html",
        {"link": link, "svg": link.qr_svg() if link else None, "skipped": None if link else made},
    )
