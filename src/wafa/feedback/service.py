"""Surveys: ask (a signed, expiring link, with the fatigue rules), answer (once per
occasion), score.

The hook for other domains is ``survey_link``: the post-purchase flow, the portal and the
point of sale call it with a customer and an occasion (an order id, a visit, a complaint)
and get a link to put in a message, on a page or in a QR code — or ``None`` when the
customer was asked too recently. Rules, each in one place:

* One answer per ``(survey, customer, occasion)``: a unique key. A second submission for
  the same occasion updates the first within the survey's ``edit_hours`` and never counts
  twice; after that the first answer stands.
* Fatigue: a customer is asked one survey at most once per ``ask_every_days`` (90 by
  default, 30–365) and never two surveys within ``GAP_DAYS`` (7) of each other. The check
  and the invitation it allows are one step per customer: on PostgreSQL the customer's row
  is locked (``FOR NO KEY UPDATE``) first, on SQLite writers queue (``BEGIN IMMEDIATE``),
  so two concurrent requests for different surveys make at most one invitation.
* An invitation and its answer carry the order they are about and the staff member who
  served, when known; ``breakdown`` scores the answers per location, channel, product and
  staff member.
* Scoring is in ``wafa.feedback.scoring``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import segno
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from wafa.core.calendars import local_date, month_start
from wafa.core.db import insert_new
from wafa.core.errors import Invalid, NotFound
from wafa.core.events import emit
from wafa.core.ids import new_id
from wafa.core.links import LinkSigner, public_link
from wafa.core.settings import Settings
from wafa.core.text import search_key
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.feedback import scoring, texts
from wafa.feedback.events import SurveyAnswered
from wafa.feedback.models import AnswerChannel, Survey, SurveyAsk, SurveyResponse
from wafa.feedback.schemas import LOCALES, SurveyCreate
from wafa.loyalty import members as loyalty_members
from wafa.messaging import consent
from wafa.messaging.queue import Content, queue_message

PURPOSE = "survey"
GAP_DAYS = 7  # never two surveys to one customer within this many days (Formbricks' default)


class SurveyNotFound(NotFound):
    code = "survey-not-found"


# --------------------------------------------------------------------------- surveys


def create_survey(session: Session, *, data: SurveyCreate) -> Survey:
    """A new, active survey."""
    survey = Survey(
        id=new_id(),
        kind=data.kind.value,
        name=data.name.strip(),
        touchpoint=data.touchpoint.value,
        question=data.question,
        why=data.why,
        ask_every_days=data.ask_every_days,
        edit_hours=data.edit_hours,
        link_days=data.link_days,
        active=True,
        created_at=utcnow(),
    )
    session.add(survey)
    session.flush()
    return survey


def get_survey(session: Session, survey_id: uuid.UUID) -> Survey:
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise SurveyNotFound("no such survey", survey_id=str(survey_id))
    return survey


def list_surveys(session: Session) -> list[Survey]:
    """Every survey, newest first."""
    return list(session.scalars(select(Survey).order_by(Survey.created_at.desc())))


def set_active(session: Session, *, survey_id: uuid.UUID, active: bool) -> Survey:
    """Pause or resume a survey (a paused survey makes no new links; answers still count)."""
    survey = get_survey(session, survey_id)
    survey.active = active
    session.flush()
    return survey


def question_in(survey: Survey, language: str | None) -> tuple[str, str]:
    """The question and its "why?" in ``language``, else English, else any written one."""
    order = [language or "en", "en", *LOCALES]
    question = next((survey.question[x] for x in order if survey.question.get(x)), survey.name)
    why = next((survey.why[x] for x in order if survey.why.get(x)), "")
    return question, why


# --------------------------------------------------------------------------- asking


@dataclass(frozen=True)
class SurveyLink:
    """A signed link to a survey's answer page for one customer and occasion."""

    url: str
    token: str
    survey_id: uuid.UUID
    ask_id: uuid.UUID
    expires_at: datetime

    def qr_svg(self) -> str:
        """The link as a QR code (SVG), for the point-of-sale screen or a receipt."""
        return qr_svg(self.url)


def qr_svg(url: str, *, scale: int = 4) -> str:
    """A QR code of ``url`` as an SVG document (error correction M, dark on light)."""
    code = segno.make_qr(url, error="m")
    svg: str = code.svg_inline(scale=scale, dark="#111", light="#fff", omitsize=True)
    return svg


def _signer(session: Session, settings: Settings) -> LinkSigner:
    return LinkSigner(consent.secret_key(session, settings))


def _link(session: Session, settings: Settings, ask: SurveyAsk) -> SurveyLink:
    token = _signer(session, settings).sign(
        PURPOSE, ask.customer_id, expires_at=ask.expires_at, extra=ask.id.bytes
    )
    return SurveyLink(
        url=public_link(settings.public_url, f"s/{token}"),
        token=token,
        survey_id=ask.survey_id,
        ask_id=ask.id,
        expires_at=ask.expires_at,
    )


def _pick_survey(
    session: Session, survey_id: uuid.UUID | None, touchpoint: str | None
) -> Survey | None:
    if survey_id is not None:
        survey = get_survey(session, survey_id)
        return survey if survey.active else None
    if touchpoint is None:
        raise ValueError("give a survey_id or a touchpoint")
    return session.scalars(
        select(Survey)
        .where(Survey.touchpoint == touchpoint, Survey.active.is_(True))
        .order_by(Survey.created_at)
        .limit(1)
    ).first()


def fatigue(
    session: Session, *, survey: Survey, customer_id: uuid.UUID, now: datetime
) -> str | None:
    """Why this customer may not be asked ``survey`` now (``None``: they may)."""
    same = session.scalar(
        select(func.count())
        .select_from(SurveyAsk)
        .where(
            SurveyAsk.customer_id == customer_id,
            SurveyAsk.survey_id == survey.id,
            SurveyAsk.asked_at > now - timedelta(days=survey.ask_every_days),
        )
    )
    if same:
        return "asked_this_survey_recently"
    recent = session.scalar(
        select(func.count())
        .select_from(SurveyAsk)
        .where(
            SurveyAsk.customer_id == customer_id,
            SurveyAsk.asked_at > now - timedelta(days=GAP_DAYS),
        )
    )
    if recent:
        return "asked_another_survey_recently"
    return None


@dataclass(frozen=True)
class Skipped:
    """No link: the reason (``asked_this_survey_recently``, ``asked_another_survey_recently``,
    ``no_active_survey``, ``customer_gone``)."""

    reason: str


def order_of(occasion: str) -> uuid.UUID | None:
    """The order an occasion names (``order:<id>``), if it names one."""
    kind, _, rest = occasion.partition(":")
    if kind != "order":
        return None
    try:
        return uuid.UUID(rest)
    except ValueError:
        return None


def _lock_customer(session: Session, customer_id: uuid.UUID) -> None:
    """Serialise the fatigue check and the invitation per customer (PostgreSQL row lock,
    ``FOR NO KEY UPDATE`` so orders and answers referencing the customer are not blocked;
    SQLite's write transactions are serial already)."""
    session.execute(
        select(Customer.id).where(Customer.id == customer_id).with_for_update(key_share=True)
    )


def survey_link_or_reason(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    occasion: str,
    survey_id: uuid.UUID | None = None,
    touchpoint: str | None = None,
    order_id: uuid.UUID | None = None,
    staff_id: uuid.UUID | None = None,
) -> SurveyLink | Skipped:
    """``survey_link`` that says why when it makes no link."""
    now = utcnow()
    survey = _pick_survey(session, survey_id, touchpoint)
    if survey is None:
        return Skipped("no_active_survey")
    try:
        customer = customers.get_live_customer(session, customer_id)
    except NotFound:
        return Skipped("customer_gone")
    key = (SurveyAsk.survey_id == survey.id, SurveyAsk.customer_id == customer.id)
    existing = session.scalars(
        select(SurveyAsk).where(*key, SurveyAsk.occasion == occasion)
    ).first()
    if existing is None:
        _lock_customer(session, customer.id)
        existing = session.scalars(
            select(SurveyAsk).where(*key, SurveyAsk.occasion == occasion)
        ).first()
    if existing is None:
        reason = fatigue(session, survey=survey, customer_id=customer.id, now=now)
        if reason is not None:
            return Skipped(reason)
        insert_new(
            session,
            SurveyAsk,
            index_elements=["survey_id", "customer_id", "occasion"],
            values={
                "id": new_id(),
                "survey_id": survey.id,
                "customer_id": customer.id,
                "occasion": occasion,
                "asked_at": now,
                "expires_at": now + timedelta(days=survey.link_days),
                "order_id": order_id or order_of(occasion),
                "staff_id": staff_id,
            },
        )
        existing = session.scalars(
            select(SurveyAsk).where(*key, SurveyAsk.occasion == occasion)
        ).one()
    return _link(session, settings, existing)


def survey_link(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    occasion: str,
    survey_id: uuid.UUID | None = None,
    touchpoint: str | None = None,
    order_id: uuid.UUID | None = None,
    staff_id: uuid.UUID | None = None,
) -> SurveyLink | None:
    """A signed, expiring link to a survey for ``customer_id`` and ``occasion``, or ``None``.

    The survey is ``survey_id``, or the oldest active survey of ``touchpoint``
    (``delivery``, ``visit``, ``complaint``, ``relationship``). The same
    ``(survey, customer, occasion)`` always gets a link to the same invitation (calling
    twice asks once). A new invitation is refused (``None``) when the customer was asked
    this survey within its ``ask_every_days`` or any survey within 7 days, when the
    survey is paused, or when the customer is erased or merged. Runs in the caller's
    transaction: the invitation is recorded with the caller's work. ``order_id`` (or an
    ``order:<id>`` occasion) and ``staff_id`` say what the answer will be about.
    """
    made = survey_link_or_reason(
        session,
        settings=settings,
        customer_id=customer_id,
        occasion=occasion,
        survey_id=survey_id,
        touchpoint=touchpoint,
        order_id=order_id,
        staff_id=staff_id,
    )
    return made if isinstance(made, SurveyLink) else None


@dataclass(frozen=True)
class Invitation:
    """What a valid link opens."""

    ask: SurveyAsk
    survey: Survey
    language: str
    response: SurveyResponse | None
    editable: bool


def read_link(session: Session, *, settings: Settings, token: str) -> Invitation | None:
    """The invitation behind ``token``, or ``None`` when it is forged, expired or unknown."""
    found = _signer(session, settings).verify(PURPOSE, token)
    if found is None or len(found.extra) != 16:
        return None
    ask = session.get(SurveyAsk, uuid.UUID(bytes=found.extra))
    if ask is None or ask.customer_id != found.customer_id:
        return None
    survey = get_survey(session, ask.survey_id)
    customer = customers.get_customer(session, ask.customer_id)
    language = customer.language if customer.language in LOCALES else str(settings.locale)
    response = _response(session, survey.id, ask.customer_id, ask.occasion)
    return Invitation(
        ask=ask,
        survey=survey,
        language=language or "en",
        response=response,
        editable=response is None or _editable(survey, response, utcnow()),
    )


def link_expired(session: Session, *, settings: Settings, token: str) -> bool:
    """Whether ``token`` is genuine but past its expiry (the page says so: 410)."""
    return _signer(session, settings).is_expired(PURPOSE, token)


# --------------------------------------------------------------------------- answering


@dataclass(frozen=True)
class Answer:
    """The stored answer; ``created`` for a first answer, ``changed`` when an edit took."""

    response: SurveyResponse
    created: bool
    changed: bool


def _response(
    session: Session, survey_id: uuid.UUID, customer_id: uuid.UUID, occasion: str
) -> SurveyResponse | None:
    return session.scalars(
        select(SurveyResponse).where(
            SurveyResponse.survey_id == survey_id,
            SurveyResponse.customer_id == customer_id,
            SurveyResponse.occasion == occasion,
        )
    ).first()


def _editable(survey: Survey, response: SurveyResponse, now: datetime) -> bool:
    return now <= response.created_at + timedelta(hours=survey.edit_hours)


def check_score(kind: str, score: int) -> None:
    """Refuse a score outside the survey's scale (NPS 0–10, CSAT 1–5, CES 1–7)."""
    low, high = scoring.SCALES[kind]
    if not low <= score <= high:
        raise Invalid.field(("score",), f"must be from {low} to {high}")


def answer(
    session: Session,
    *,
    settings: Settings,
    survey_id: uuid.UUID,
    customer_id: uuid.UUID,
    occasion: str,
    score: int,
    comment: str | None = None,
    language: str | None = None,
    channel: AnswerChannel = AnswerChannel.link,
    order_id: uuid.UUID | None = None,
    staff_id: uuid.UUID | None = None,
) -> Answer:
    """Record ``customer_id``'s answer for ``occasion``, once.

    The first answer is inserted under the unique ``(survey, customer, occasion)`` key
    (``INSERT … ON CONFLICT DO NOTHING``: concurrent submissions make one row). A later one
    updates it while the survey's edit window is open and is otherwise ignored. The first
    answer earns the loyalty program's ``survey_answered`` bonus, once per answer, and
    emits ``SurveyAnswered``; an edit that takes emits it again with ``first=False``.
    """
    survey = get_survey(session, survey_id)
    check_score(survey.kind, score)
    text = (comment or "").strip() or None
    if text is not None and len(text) > 2000:
        raise Invalid.field(("comment",), "at most 2000 characters")
    customer = customers.get_live_customer(session, customer_id)
    now = utcnow()
    ask = session.execute(
        select(SurveyAsk.order_id, SurveyAsk.staff_id).where(
            SurveyAsk.survey_id == survey.id,
            SurveyAsk.customer_id == customer.id,
            SurveyAsk.occasion == occasion,
        )
    ).first()
    if order_id is None:
        order_id = (ask.order_id if ask is not None else None) or order_of(occasion)
    if staff_id is None and ask is not None:
        staff_id = ask.staff_id
    created = insert_new(
        session,
        SurveyResponse,
        index_elements=["survey_id", "customer_id", "occasion"],
        values={
            "id": new_id(),
            "survey_id": survey.id,
            "customer_id": customer.id,
            "occasion": occasion,
            "score": score,
            "comment": text,
            "language": language,
            "channel": channel.value,
            "order_id": order_id,
            "staff_id": staff_id,
            "created_at": now,
            "updated_at": now,
        },
    )
    response = _response(session, survey.id, customer.id, occasion)
    assert response is not None
    changed = created
    if not created and _editable(survey, response, now):
        session.execute(
            update(SurveyResponse)
            .where(SurveyResponse.id == response.id)
            .values(
                score=score, comment=text, updated_at=now, language=language or response.language
            )
            .execution_options(synchronize_session=False)
        )
        session.refresh(response)
        changed = True
    if changed:
        emit(
            session,
            SurveyAnswered(
                customer_id=customer.id,
                survey_id=survey.id,
                response_id=response.id,
                kind=survey.kind,
                occasion=occasion,
                score=response.score,
                group=scoring.nps_group(response.score) if survey.kind == "nps" else None,
                unhappy=scoring.is_unhappy(survey.kind, response.score),
                first=created,
            ),
        )
    if changed and scoring.is_unhappy(survey.kind, response.score):
        from wafa.feedback import complaints  # complaints asks surveys after a resolution

        complaints.open_from_answer(session, settings=settings, survey=survey, response=response)
    if created and survey.kind == "nps" and scoring.nps_group(response.score) == "promoter":
        invite_to_refer(
            session, settings=settings, customer_id=customer.id, occasion=str(response.id)
        )
    if created:
        loyalty_members.award_bonus(
            session,
            settings=settings,
            customer_id=customer.id,
            bonus="survey_answered",
            occasion=str(response.id),
        )
    return Answer(response=response, created=created, changed=changed)


def invite_to_refer(
    session: Session, *, settings: Settings, customer_id: uuid.UUID, occasion: str
) -> None:
    """A promoter is thanked and given their referral link (a marketing message on the
    ``loyalty`` topic: consent, caps and quiet hours apply), once per answer; the policy's
    ``promoter_invitation`` turns it off."""
    from wafa.feedback.policy import load_policy

    if not load_policy(session).promoter_invitation:
        return
    customer = customers.get_customer(session, customer_id)
    channel = "email" if customer.email else "sms" if customer.phone else None
    if channel is None:
        return
    queue_message(
        session,
        customer_id=customer_id,
        channel=channel,
        kind="marketing",
        topic="loyalty",
        reason="feedback.promoter",
        occasion=occasion,
        content=Content(
            subject=texts.in_every_language(texts.PROMOTER_SUBJECT),
            text=texts.in_every_language(texts.PROMOTER_TEXT),
        ),
    )


# --------------------------------------------------------------------------- results


def results(
    session: Session,
    *,
    survey_id: uuid.UUID,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """A survey's figures over ``[since, until)``: counts, NPS or CSAT/CES %, response rate
    (answers to invitations over invitations made in the period)."""
    survey = get_survey(session, survey_id)
    where = [SurveyResponse.survey_id == survey.id]
    asks = [SurveyAsk.survey_id == survey.id]
    if since is not None:
        where.append(SurveyResponse.created_at >= since)
        asks.append(SurveyAsk.asked_at >= since)
    if until is not None:
        where.append(SurveyResponse.created_at < until)
        asks.append(SurveyAsk.asked_at < until)
    rows = session.execute(
        select(SurveyResponse.score, func.count()).where(*where).group_by(SurveyResponse.score)
    ).all()
    values = [int(s) for s, n in rows for _ in range(int(n))]
    figures = scoring.score(survey.kind, values)
    asked = int(session.scalar(select(func.count()).select_from(SurveyAsk).where(*asks)) or 0)
    answered = int(
        session.scalar(
            select(func.count())
            .select_from(SurveyAsk)
            .join(
                SurveyResponse,
                (SurveyResponse.survey_id == SurveyAsk.survey_id)
                & (SurveyResponse.customer_id == SurveyAsk.customer_id)
                & (SurveyResponse.occasion == SurveyAsk.occasion),
            )
            .where(*asks)
        )
        or 0
    )
    return {
        "survey_id": survey.id,
        "kind": survey.kind,
        "responses": figures.responses,
        "asked": asked,
        "response_rate": scoring.percent(answered, asked) if asked else None,
        "promoters": figures.promoters,
        "passives": figures.passives,
        "detractors": figures.detractors,
        "satisfied": figures.satisfied,
        "nps": figures.nps,
        "score": figures.score,
        "mean": figures.mean,
    }


def customer_responses(session: Session, customer_id: uuid.UUID) -> list[SurveyResponse]:
    """A customer's answers, newest first."""
    return list(
        session.scalars(
            select(SurveyResponse)
            .where(SurveyResponse.customer_id == customer_id)
            .order_by(SurveyResponse.created_at.desc())
        )
    )


# --------------------------------------------------------------------------- personal data


def personal_data(session: Session, customer_id: uuid.UUID) -> dict[str, Any]:
    """The person's survey answers, invitations and complaints (export)."""
    from wafa.feedback import complaints

    asks = session.scalars(select(SurveyAsk).where(SurveyAsk.customer_id == customer_id))
    return {
        "complaints": complaints.personal_data(session, customer_id),
        "survey_responses": [
            {
                "survey_id": str(r.survey_id),
                "occasion": r.occasion,
                "score": r.score,
                "comment": r.comment,
                "language": r.language,
                "channel": r.channel,
                "created_at": r.created_at.isoformat(),
                "updated_at": r.updated_at.isoformat(),
            }
            for r in customer_responses(session, customer_id)
        ],
        "survey_invitations": [
            {
                "survey_id": str(a.survey_id),
                "occasion": a.occasion,
                "asked_at": a.asked_at.isoformat(),
            }
            for a in asks
        ],
    }


def erase(session: Session, customer_id: uuid.UUID) -> None:
    """Forget what the person wrote and when they were asked; the bare scores stay in the
    survey's figures, tied to a record that no longer names anyone; complaints likewise."""
    from wafa.feedback import complaints

    complaints.erase(session, customer_id)
    session.execute(
        update(SurveyResponse)
        .where(SurveyResponse.customer_id == customer_id)
        .values(comment=None, language=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(SurveyAsk)
        .where(SurveyAsk.customer_id == customer_id)
        .execution_options(synchronize_session=False)
    )


# --------------------------------------------------------------------------- reports


def monthly(
    session: Session, *, settings: Settings, survey_id: uuid.UUID, months: int = 12
) -> list[dict[str, Any]]:
    """The survey's score per month of the business calendar (Gregorian or Jalali, in the
    business's zone), oldest first, for the last ``months`` months with answers."""
    survey = get_survey(session, survey_id)
    rows = session.execute(
        select(SurveyResponse.created_at, SurveyResponse.score).where(
            SurveyResponse.survey_id == survey.id
        )
    ).all()
    by_month: dict[date, list[int]] = {}
    for at, value in rows:
        start = month_start(local_date(at, settings.zone), settings.calendar)
        by_month.setdefault(start, []).append(int(value))
    return [
        {"month": start, **_figures(scoring.score(survey.kind, values))}
        for start, values in sorted(by_month.items())[-months:]
    ]


def _figures(figures: scoring.Score) -> dict[str, Any]:
    return {
        "responses": figures.responses,
        "promoters": figures.promoters,
        "detractors": figures.detractors,
        "score": figures.score,
    }


def verbatims(
    session: Session, *, survey_id: uuid.UUID, q: str | None = None, limit: int = 50
) -> list[SurveyResponse]:
    """Answers with a comment, newest first; ``q`` searches them (letters folded, so Arabic
    and Persian forms of one word match)."""
    query = (
        select(SurveyResponse)
        .where(SurveyResponse.survey_id == survey_id, SurveyResponse.comment.is_not(None))
        .order_by(SurveyResponse.created_at.desc())
    )
    if not q or not q.strip():
        return list(session.scalars(query.limit(limit)))
    needle = search_key(q) or ""
    found = [
        r for r in session.scalars(query.limit(2000)) if needle in (search_key(r.comment) or "")
    ]
    return found[:limit]
