"""Stamp cards: "buy ten, the eleventh is free" — which products earn stamps, and the reward."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.core.settings import Settings
from wafa.loyalty import rewards, stamps, views
from wafa.loyalty.models import StampCard, StampPer
from wafa.loyalty.schemas.io import StampCardCreate, StampCardUpdate
from wafa.loyalty.web.common import context
from wafa.web import forms
from wafa.web.auth import MayEditRewards, see_other
from wafa.web.forms import FormData, FormReader
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def values_of(card: StampCard) -> dict[str, str]:
    """The stamp card form filled with ``card``."""
    return {
        "name": card.name,
        "stamps_required": str(card.stamps_required),
        "per": card.per,
        "skus": ", ".join(card.skus or []),
        "categories": ", ".join(card.categories or []),
        "reward_id": str(card.reward_id),
        "active": "yes" if card.active else "",
    }


def _fields(form: Mapping[str, Any]) -> dict[str, Any]:
    f = FormReader(form)
    values: dict[str, Any] = {
        "name": f.text("name", required=True),
        "stamps_required": f.integer("stamps_required", required=True, minimum=1, maximum=1000),
        "per": f.choice("per", [p.value for p in StampPer]) or StampPer.visit.value,
        "skus": f.words("skus", max_length=100),
        "categories": f.words("categories"),
        "reward_id": f.reference("reward_id"),
        "active": f.flag("active"),
    }
    if values["reward_id"] is None:
        f.error("reward_id", forms.REQUIRED)
    f.check()
    return values


def read_create(form: Mapping[str, Any]) -> StampCardCreate:
    """A new stamp card from the stamp card form."""
    return StampCardCreate.model_validate(_fields(form))


def read_update(form: Mapping[str, Any]) -> StampCardUpdate:
    """The changes the stamp card form makes."""
    return StampCardUpdate.model_validate(_fields(form))


@router.get("/loyalty/stamp-cards", response_class=HTMLResponse)
def stamp_cards_page(
    request: Request, session: ReadSession, settings: AppSettings, user: MayEditRewards
) -> HTMLResponse:
    return render(
        request,
        "loyalty/stamp_cards.html",
        context(
            request,
            settings,
            cards=stamps.list_cards(session),
            rewards_by_id=views.reward_index(session),
        ),
    )


def _card_form(
    request: Request,
    session: Session,
    settings: Settings,
    *,
    card: StampCard | None,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "loyalty/stamp_card_form.html",
        context(
            request,
            settings,
            card=card,
            values=values,
            errors=errors or {},
            rewards=rewards.list_rewards(session),
        ),
        status_code=status_code,
    )


@router.get("/loyalty/stamp-cards/new", response_class=HTMLResponse)
def new_stamp_card(
    request: Request, session: ReadSession, settings: AppSettings, user: MayEditRewards
) -> HTMLResponse:
    return _card_form(
        request,
        session,
        settings,
        card=None,
        values={"stamps_required": "10", "per": "visit", "active": "yes"},
    )


@router.post("/loyalty/stamp-cards/new", response_class=HTMLResponse)
def create_stamp_card(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayEditRewards,
    form: FormData,
) -> Response:
    def save() -> Response:
        card = stamps.create_card(session, data=read_create(form))
        flash(request, N_("Stamp card “%(name)s” added."), name=card.name)
        return see_other("/loyalty/stamp-cards")

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _card_form(
            request, session, settings, card=None, values=form, errors=errors, status_code=status
        ),
    )


@router.get("/loyalty/stamp-cards/{card_id}", response_class=HTMLResponse)
def edit_stamp_card(
    card_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayEditRewards,
) -> HTMLResponse:
    card = stamps.get_card(session, card_id)
    return _card_form(request, session, settings, card=card, values=values_of(card))


@router.post("/loyalty/stamp-cards/{card_id}", response_class=HTMLResponse)
def update_stamp_card(
    card_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayEditRewards,
    form: FormData,
) -> Response:
    def save() -> Response:
        card = stamps.get_card(session, card_id)
        stamps.update_card(session, card_id=card.id, data=read_update(form))
        flash(request, N_("Changes saved. Stamps already collected stay."))
        return see_other("/loyalty/stamp-cards")

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _card_form(
            request,
            session,
            settings,
            card=stamps.get_card(session, card_id),
            values=form,
            errors=errors,
            status_code=status,
        ),
    )
