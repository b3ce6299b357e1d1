"""/api/v1/partners: partner businesses, their codes, their page's link, their statements.

Every route needs the ``partners`` permission (the owner; an ``admin`` key). The partner's
own page is not here: it lives at ``/partner/`` behind the partner's signed link.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from wafa.api.deps import AppSettings, DbSession, Idempotent, Principal, ReadSession, permitted
from wafa.api.routing import AutoCommitRoute
from wafa.auth.permissions import Permission
from wafa.loyalty import codes
from wafa.partners import access, service
from wafa.partners.models import Partner
from wafa.partners.schemas import (
    CodeRead,
    CodesIssue,
    LinkRead,
    PartnerCreate,
    PartnerRead,
    PartnerUpdate,
    StatementRead,
)

router = APIRouter(tags=["partners"], route_class=AutoCommitRoute)
MayPartners = Annotated[Principal, permitted(Permission.partners)]


@router.get("/partners", response_model=list[PartnerRead], summary="Partner businesses")
def list_partners(session: ReadSession, who: MayPartners, archived: bool = False) -> list[Partner]:
    return service.list_partners(session, archived=archived)


@router.post(
    "/partners",
    status_code=201,
    response_model=PartnerRead,
    dependencies=[Idempotent],
    summary="Add a partner business",
)
def create_partner(
    body: PartnerCreate, session: DbSession, settings: AppSettings, who: MayPartners
) -> Partner:
    return service.create_partner(session, settings=settings, data=body)


@router.get("/partners/{partner_id}", response_model=PartnerRead, summary="One partner")
def get_partner(partner_id: uuid.UUID, session: ReadSession, who: MayPartners) -> Partner:
    return service.get_partner(session, partner_id)


@router.patch("/partners/{partner_id}", response_model=PartnerRead, summary="Change a partner")
def update_partner(
    partner_id: uuid.UUID, body: PartnerUpdate, session: DbSession, who: MayPartners
) -> Partner:
    return service.update_partner(session, partner_id=partner_id, data=body)


@router.post(
    "/partners/{partner_id}/archive",
    response_model=PartnerRead,
    summary="End a partnership (its links stop opening; history stays)",
)
def archive_partner(partner_id: uuid.UUID, session: DbSession, who: MayPartners) -> Partner:
    return service.archive_partner(session, partner_id=partner_id)


@router.post(
    "/partners/{partner_id}/codes",
    status_code=201,
    response_model=list[CodeRead],
    dependencies=[Idempotent],
    summary="Issue a batch of single-use codes (offer or reciprocal)",
)
def issue_codes(
    partner_id: uuid.UUID,
    body: CodesIssue,
    session: DbSession,
    settings: AppSettings,
    who: MayPartners,
) -> list[CodeRead]:
    issued = service.issue_codes(
        session, settings=settings, partner_id=partner_id, data=body, by=who.label
    )
    return [
        CodeRead(
            code=codes.display(c.code),
            direction=body.direction,
            name=c.name,
            expires_at=c.expires_at,
        )
        for c in issued
    ]


@router.get(
    "/partners/{partner_id}/codes", response_model=list[CodeRead], summary="A partner's codes"
)
def list_codes(
    partner_id: uuid.UUID,
    session: ReadSession,
    who: MayPartners,
    direction: Annotated[str | None, Query(pattern="^(offer|reciprocal)$")] = None,
) -> list[CodeRead]:
    service.get_partner(session, partner_id)
    return [
        CodeRead(code=codes.display(c.code), direction=d, name=c.name, expires_at=c.expires_at)
        for c, d in service.list_codes(session, partner_id=partner_id, direction=direction)
    ]


@router.post(
    "/partners/{partner_id}/link",
    status_code=201,
    response_model=LinkRead,
    summary="A new link to the partner's page",
)
def issue_link(
    partner_id: uuid.UUID, session: DbSession, settings: AppSettings, who: MayPartners
) -> LinkRead:
    link = access.issue_link(session, settings=settings, partner_id=partner_id)
    return LinkRead(url=link.url, expires_at=link.expires_at)


@router.post(
    "/partners/{partner_id}/link/revoke",
    status_code=204,
    summary="Revoke every link given so far and sign the partner's phones out",
)
def revoke_links(partner_id: uuid.UUID, session: DbSession, who: MayPartners) -> None:
    access.revoke_links(session, partner_id=partner_id)


@router.get(
    "/partners/{partner_id}/statement",
    response_model=StatementRead,
    summary="A month's statement, in the business calendar",
)
def get_statement(
    partner_id: uuid.UUID,
    session: ReadSession,
    settings: AppSettings,
    who: MayPartners,
    year: Annotated[int | None, Query(ge=1, le=9999)] = None,
    month: Annotated[int | None, Query(ge=1, le=12)] = None,
) -> StatementRead:
    if year is None or month is None:
        year, month = service.current_month(settings)
    return service.statement(
        session, settings=settings, partner_id=partner_id, year=year, month=month
    )
