"""/api/v1/campaigns: compose, send, pause, resume, cancel, read.

``POST /campaigns`` answers ``201 {"id"}``; ``PUT /campaigns/{id}`` replaces a draft
(``409`` once sent); ``POST /campaigns/{id}/send`` answers ``202``
(recipients are queued by the worker); sending again changes nothing. ``read`` for GETs,
``write`` for the rest. ``POST /campaigns/{id}/test`` emails a test copy (counted nowhere).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from wafa.api.deps import (
    AppSettings,
    DbSession,
    Idempotent,
    MayMessage,
    MayViewReports,
    ReadSession,
)
from wafa.api.routing import AutoCommitRoute
from wafa.messaging.campaigns import preview, report, service
from wafa.messaging.campaigns.models import Campaign
from wafa.messaging.campaigns.schemas import (
    CampaignCreate,
    CampaignCreated,
    CampaignPage,
    CampaignRead,
    CampaignTestRead,
    CampaignTestSend,
    ReportRead,
)

router = APIRouter(tags=["campaigns"], route_class=AutoCommitRoute)

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]


@router.post(
    "/campaigns", status_code=201, response_model=CampaignCreated, dependencies=[Idempotent]
)
def create_campaign(
    body: CampaignCreate, session: DbSession, settings: AppSettings, principal: MayMessage
) -> Campaign:
    """A draft campaign to a saved segment."""
    return service.create_campaign(session, settings=settings, data=body, by=principal.label)


@router.put("/campaigns/{campaign_id}", response_model=CampaignRead)
def update_campaign(
    campaign_id: uuid.UUID,
    body: CampaignCreate,
    session: DbSession,
    settings: AppSettings,
    _: MayMessage,
) -> dict[str, Any]:
    """Replace a draft's composition (the same body as ``POST /campaigns``); ``409``
    (``campaign-state``) once sending has started."""
    service.update_campaign(session, settings=settings, campaign_id=campaign_id, data=body)
    return service.read_campaign(session, campaign_id=campaign_id)


@router.get("/campaigns", response_model=CampaignPage)
def list_campaigns(
    session: ReadSession, _: MayViewReports, limit: Limit = 50, cursor: str | None = None
) -> dict[str, Any]:
    items, next_cursor = service.list_campaigns(session, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/campaigns/{campaign_id}", response_model=CampaignRead)
def get_campaign(campaign_id: uuid.UUID, session: ReadSession, _: MayViewReports) -> dict[str, Any]:
    """Status, message counts per status, the holdout's size."""
    return service.read_campaign(session, campaign_id=campaign_id)


@router.get("/campaigns/{campaign_id}/report", response_model=ReportRead)
def campaign_report(
    campaign_id: uuid.UUID,
    session: ReadSession,
    settings: AppSettings,
    _: MayViewReports,
    days: Annotated[int | None, Query(ge=1, le=365)] = None,
) -> report.Report:
    """Deliveries, unsubscribes, bounces, and orders and revenue within ``days`` per
    recipient against per held-out customer, with 95 % intervals (see ``method``)."""
    return report.campaign_report(session, settings=settings, campaign_id=campaign_id, days=days)


@router.post("/campaigns/{campaign_id}/send", status_code=202, response_model=CampaignRead)
def send_campaign(
    campaign_id: uuid.UUID, session: DbSession, settings: AppSettings, _: MayMessage
) -> dict[str, Any]:
    """Start sending: the segment's members are taken now, queued by the worker."""
    service.start_sending(session, settings=settings, campaign_id=campaign_id)
    return service.read_campaign(session, campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/test", response_model=CampaignTestRead)
def send_test_copy(
    campaign_id: uuid.UUID,
    body: CampaignTestSend,
    session: ReadSession,
    settings: AppSettings,
    _: MayMessage,
) -> preview.TestCopy:
    """Email a test copy to ``to``: the campaign as ``customer_id`` (else its first sample
    customer) would get it, ``[TEST]`` before the subject and an ``X-Wafa-Test`` header.
    Counted nowhere (no message row, no coupon, links that act for nobody); any status.
    ``200`` with the mail server's answer in ``outcome``; ``409`` when the segment has
    no one to fill the message with and no ``customer_id`` is given."""
    return preview.send_test_copy(
        session,
        settings=settings,
        campaign_id=campaign_id,
        to=body.to,
        customer_id=body.customer_id,
        locale=body.locale,
    )


@router.post("/campaigns/{campaign_id}/pause", response_model=CampaignRead)
def pause_campaign(campaign_id: uuid.UUID, session: DbSession, _: MayMessage) -> dict[str, Any]:
    service.pause(session, campaign_id=campaign_id)
    return service.read_campaign(session, campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/resume", response_model=CampaignRead)
def resume_campaign(campaign_id: uuid.UUID, session: DbSession, _: MayMessage) -> dict[str, Any]:
    service.resume(session, campaign_id=campaign_id)
    return service.read_campaign(session, campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignRead)
def cancel_campaign(campaign_id: uuid.UUID, session: DbSession, _: MayMessage) -> dict[str, Any]:
    service.cancel(session, campaign_id=campaign_id)
    return service.read_campaign(session, campaign_id=campaign_id)
