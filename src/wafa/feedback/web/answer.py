"""The public answer page behind a survey link (``/s/<token>``): no login, phone-first.

The signed token is the customer's authority (see ``wafa.messaging.web.unsubscribe``
for why such pages skip the session CSRF check). A GET shows the question in the
customer's language (``?lang=`` switches) and never records anything; the POST records
the answer once per occasion, or updates it while the survey's edit window is open.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import AppSettings, DbSession
from wafa.core.text import ascii_number
from wafa.feedback import scoring, service
from wafa.feedback.models import AnswerChannel
from wafa.feedback.schemas import LOCALES
from wafa.messaging.web.unsubscribe import TokenRoute
from wafa.web.auth import public
from wafa.web.i18n import N_
from wafa.web.templating import SECURITY_HEADERS, templates_of

router = APIRouter(route_class=TokenRoute, include_in_schema=False)
ANSWER = public("a customer's signed survey link")

# The ends of each scale, as the customer reads them.
ENDS = {
    "nps": (N_("Not at all likely"), N_("Extremely likely")),
    "csat": (N_("Very unsatisfied"), N_("Very satisfied")),
    "ces": (N_("Very difficult"), N_("Very easy")),
}


def _page(request: Request, language: str, status: int = 200, **context: Any) -> HTMLResponse:
    env = templates_of(request).env(language)
    values = {
        "request": request,
        "user": None,
        "nav": [],
        "csrf_token": "",
        "flashes": [],
        "current_path": request.url.path,
        "current_url": request.url.path,
        "invalid": False,
        "expired": False,
        "done": False,
        "error": None,
        "locales": LOCALES,
        **context,
    }
    html = env.get_template("feedback/answer.html").render(values)
    headers = {
        **SECURITY_HEADERS,
        "Content-Language": language,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",  # the token stays out of other sites' logs
    }
    return HTMLResponse(html, status_code=status, headers=headers)


def _context(invitation: service.Invitation, language: str) -> dict[str, Any]:
    survey = invitation.survey
    question, why = service.question_in(survey, language)
    low, high = scoring.SCALES[survey.kind]
    return {
        "survey": survey,
        "question": question,
        "why": why,
        "scale": list(range(low, high + 1)),
        "ends": ENDS[survey.kind],
        "response": invitation.response,
        "editable": invitation.editable,
        "edit_until": (
            invitation.response.created_at + timedelta(hours=survey.edit_hours)
            if invitation.response is not None
            else None
        ),
    }


def _refused(
    request: Request, session: DbSession, settings: AppSettings, token: str
) -> HTMLResponse:
    if service.link_expired(session, settings=settings, token=token):
        return _page(request, str(settings.locale), 410, expired=True)
    return _page(request, str(settings.locale), 404, invalid=True)


def _language(lang: str | None, invitation: service.Invitation) -> str:
    return lang if lang in LOCALES else invitation.language


@router.get("/s/{token}", dependencies=[ANSWER])
def answer_page(
    token: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    lang: Annotated[str | None, Query(max_length=2)] = None,
) -> HTMLResponse:
    """The question, the scale and the "why?"; records nothing."""
    invitation = service.read_link(session, settings=settings, token=token)
    if invitation is None:
        return _refused(request, session, settings, token)
    language = _language(lang, invitation)
    return _page(request, language, **_context(invitation, language))


@router.post("/s/{token}", dependencies=[ANSWER])
def answer_post(
    token: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    score: Annotated[str | None, Form(max_length=4)] = None,
    comment: Annotated[str | None, Form(max_length=2000)] = None,
    lang: Annotated[str | None, Form(max_length=2)] = None,
) -> HTMLResponse:
    """Record the answer (once per occasion; an edit within the window updates it)."""
    invitation = service.read_link(session, settings=settings, token=token)
    if invitation is None:
        return _refused(request, session, settings, token)
    language = _language(lang, invitation)
    context = _context(invitation, language)
    value = ascii_number(score or "").strip()
    low, high = scoring.SCALES[invitation.survey.kind]
    if not value.isdigit() or not low <= int(value) <= high:
        return _page(request, language, 422, error=N_("Choose a score."), **context)
    if not invitation.editable:
        return _page(request, language, done=True, **context)
    service.answer(
        session,
        settings=settings,
        survey_id=invitation.survey.id,
        customer_id=invitation.ask.customer_id,
        occasion=invitation.ask.occasion,
        score=int(value),
        comment=comment,
        language=language,
        channel=AnswerChannel.link,
    )
    refreshed = service.read_link(session, settings=settings, token=token)
    assert refreshed is not None
    return _page(request, language, done=True, **_context(refreshed, language))
