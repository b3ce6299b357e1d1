"""What a campaign did: deliveries, unsubscribes and bounces, and orders and revenue of its
recipients against the held-out customers, with the interval and how it was computed."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import AppSettings, ReadSession
from wafa.messaging.campaigns import report
from wafa.messaging.campaigns.web.words import WORDS
from wafa.web.auth import MayMessage
from wafa.web.routing import WebRoute
from wafa.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/campaigns/{campaign_id}/report", response_class=HTMLResponse)
def report_page(
    campaign_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    _: MayMessage,
    days: Annotated[int | None, Query(ge=1, le=365)] = None,
) -> HTMLResponse:
    found = report.campaign_report(session, settings=settings, campaign_id=campaign_id, days=days)
    return render(request, "messaging/campaigns/report.html", {"report": found, **WORDS})
