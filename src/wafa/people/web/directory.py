"""The customer list: search, filters and sort kept in the URL, each customer's purchases and
points, and the same list as CSV (owners)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy.orm import Session

from wafa.analytics.rfm import SEGMENTS
from wafa.api.deps import AppSettings, ReadSession
from wafa.core.csvsafe import csv_chunks
from wafa.core.errors import Invalid
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty.program import rules_at
from wafa.people import queries
from wafa.web import forms, i18n
from wafa.web.auth import MayExport, Staff
from wafa.web.routing import WebRoute
from wafa.web.templating import render, request_language

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 25
#: The query parameters of the list's filters, in the order the URL carries them.
FILTER_PARAMS = (
    "tier",
    "tag",
    "city",
    "consent",
    "spend_min",
    "spend_max",
    "last_from",
    "last_to",
    "rfm",
)


@dataclass(frozen=True)
class Parsed:
    """The list's query as read from the URL, with the words typed and any field errors."""

    query: queries.ListQuery
    values: dict[str, str]
    errors: dict[str, str]
    page: int

    def params(self, **override: Any) -> dict[str, Any]:
        """The URL parameters of this list (for links to other pages and the export)."""
        out: dict[str, Any] = {"q": self.query.q or ""}
        out.update({name: self.values.get(name, "") for name in FILTER_PARAMS})
        if self.query.sort != "newest":
            out["sort"] = self.query.sort
        if not self.query.descending:
            out["dir"] = "asc"
        out.update(override)
        return out


def _tier_codes(session: Session, settings: Settings) -> list[tuple[str, str]]:
    tiers = rules_at(session, settings, utcnow()).rules.tiers
    return [(t.code, t.name) for t in tiers.levels] if tiers.enabled else []


def _parse(request: Request, settings: Settings, tiers: list[tuple[str, str]]) -> Parsed:
    params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    reader = forms.FormReader(
        params,
        currency=settings.currency,
        calendar=forms.form_calendar(request, settings),
        zone=settings.zone,
    )
    filters = queries.ListFilters(
        tier=reader.choice("tier", [code for code, _ in tiers]),
        tag=reader.text("tag"),
        city=reader.text("city"),
        consent=reader.choice("consent", queries.CONSENTS),
        spend_min=reader.money("spend_min"),
        spend_max=reader.money("spend_max"),
        last_from=reader.day("last_from"),
        last_to=reader.day("last_to"),
        rfm=reader.choice("rfm", [s.key for s in SEGMENTS]),
    )
    sort = reader.choice("sort", queries.SORTS) or "newest"
    direction = reader.choice("dir", ("asc", "desc"))
    page = reader.integer("page", minimum=1, maximum=10**7, default=1) or 1
    language = request_language(request)
    errors = {name: i18n.gettext(language, msg) for name, msg in reader.errors.items()}
    q = reader.text("q")
    return Parsed(
        queries.ListQuery(q=q, filters=filters, sort=sort, descending=direction != "asc"),
        {name: reader.raw(name) for name in FILTER_PARAMS if name not in reader.errors},
        errors,
        page if not reader.errors.get("page") else 1,
    )


@router.get("/customers", response_class=HTMLResponse)
def customer_list(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Staff,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    tiers = _tier_codes(session, settings)
    parsed = _parse(request, settings, tiers)
    language = request_language(request)
    page = queries.directory(
        session,
        q=parsed.query.q,
        limit=PAGE_SIZE,
        settings=settings,
        query=parsed.query,
        page=parsed.page,
    )
    return render(
        request,
        "people/list.html",
        {
            "page": page,
            "q": parsed.query.q or "",
            "list": parsed,
            "filters": parsed.values,
            "errors": parsed.errors,
            "filtered": parsed.query.filters.active,
            "tiers": tiers,
            "rfm_options": [(s.key, i18n.gettext(language, s.name)) for s in SEGMENTS],
            "consents": queries.CONSENTS,
            "sorts": queries.SORTS,
            "date_example": i18n.native_digits(
                forms.day_text(
                    utcnow(), calendar=forms.form_calendar(request, settings), zone=settings.zone
                ),
                language,
            ),
        },
        status_code=422 if parsed.errors else 200,
    )


@router.get("/customers/export.csv")
def export_list(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayExport,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> StreamingResponse:
    """The customer list (searched, filtered and sorted as on the page) as CSV; no cell
    runs as a formula in a spreadsheet. A filter that is not valid is refused (422)."""
    parsed = _parse(request, settings, _tier_codes(session, settings))
    if parsed.errors:
        name, message = next(iter(parsed.errors.items()))
        raise Invalid.field((name,), message)
    factory = request.app.state.read_sessions
    query = parsed.query

    def stream() -> Iterator[str]:
        # A session of the stream's own: the request's closes when the route returns.
        with factory() as own:
            yield "\ufeff"  # a byte-order mark, so spreadsheets read the file as UTF-8
            yield from csv_chunks(queries.directory_rows(own, settings=settings, query=query))

    return StreamingResponse(
        stream(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="customers.csv"',
            "X-Content-Type-Options": "nosniff",
        },
    )
