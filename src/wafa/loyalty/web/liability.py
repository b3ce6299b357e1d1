"""The points liability: outstanding points valued in money, for the accountant (page and CSV)."""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, ReadSession
from wafa.core.money import minor_digits
from wafa.loyalty import service
from wafa.loyalty.web.common import context, point_value_text
from wafa.web import i18n
from wafa.web.auth import MayViewReports
from wafa.web.forms import amount_text
from wafa.web.routing import WebRoute
from wafa.web.templating import render, request_language

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/loyalty/liability", response_class=HTMLResponse)
def liability_page(
    request: Request, session: ReadSession, settings: AppSettings, user: MayViewReports
) -> HTMLResponse:
    data = service.liability(session, settings=settings)
    language = request_language(request)
    if data.point_value_bp % 10_000 == 0:
        value = i18n.format_amount(data.point_value_bp // 10_000, data.currency, language)
    else:
        value = i18n.native_digits(
            f"{point_value_text(data.point_value_bp, data.currency)} {data.currency}", language
        )
    return render(
        request, "loyalty/liability.html", context(request, settings, data=data, point_value=value)
    )


@router.get("/loyalty/liability.csv")
def liability_csv(session: ReadSession, settings: AppSettings, user: MayViewReports) -> Response:
    data = service.liability(session, settings=settings)
    digits = minor_digits(data.currency)

    def money(value: int) -> str:
        return amount_text(value, data.currency) if digits else str(value)

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["as_of", data.as_of.isoformat()])
    writer.writerow(["currency", data.currency])
    writer.writerow(["point_value", point_value_text(data.point_value_bp, data.currency)])
    writer.writerow(["members_with_points", data.members])
    writer.writerow(["available_points", data.available_points])
    writer.writerow(["available_value", money(data.available_value)])
    writer.writerow(["pending_points", data.pending_points])
    writer.writerow(["pending_value", money(data.pending_value)])
    writer.writerow(["outstanding_points", data.outstanding_points])
    writer.writerow(["outstanding_value", money(data.outstanding_value)])
    writer.writerow(["expiring_within_30_days_points", data.expiring_30_days])
    writer.writerow(["unused_reward_coupons", data.unused_reward_coupons])
    day = data.as_of.astimezone(settings.zone).date().isoformat()
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="points-liability-{day}.csv"',
            "Cache-Control": "no-store",
        },
    )
