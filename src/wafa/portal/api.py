"""The portal's API: a sign-in link for a customer (the till, a shop's own app), revocation."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from wafa.api.deps import AppSettings, DbSession, Writer
from wafa.api.routing import AutoCommitRoute
from wafa.portal import access

router = APIRouter(route_class=AutoCommitRoute, tags=["portal"])


class PortalLinkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    url: str
    expires_at: datetime


@router.post(
    "/customers/{customer_id}/portal-link",
    status_code=201,
    response_model=PortalLinkRead,
    summary="A signed sign-in link to the customer's portal (opens once, expires in 7 days)",
)
def create_portal_link(
    customer_id: uuid.UUID, session: DbSession, settings: AppSettings, _: Writer
) -> access.IssuedLink:
    return access.issue_link(session, settings=settings, customer_id=customer_id)


@router.delete(
    "/customers/{customer_id}/portal-access",
    status_code=204,
    summary="Revoke every portal link issued so far and end the customer's portal sessions",
)
def revoke_portal_access(customer_id: uuid.UUID, session: DbSession, _: Writer) -> Response:
    access.revoke_access(session, customer_id=customer_id)
    return Response(status_code=204)
