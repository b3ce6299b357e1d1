"""/api/v1/api-keys: list, create and revoke keys (admin scope)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from wafa.api.deps import DbSession, MayManageKeys, ReadSession
from wafa.api.routing import AutoCommitRoute
from wafa.auth import service as auth
from wafa.auth.models import ApiKey

router = APIRouter(tags=["api keys"], route_class=AutoCommitRoute)


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1)


class ApiKeyCreated(ApiKeyRead):
    token: str = Field(description="Shown once; only its hash is stored.")


@router.get("/api-keys", response_model=list[ApiKeyRead])
def list_keys(session: ReadSession, _: MayManageKeys) -> list[ApiKey]:
    return auth.list_api_keys(session)


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
def create_key(body: ApiKeyCreate, session: DbSession, who: MayManageKeys) -> ApiKeyCreated:
    key, token = auth.create_api_key(
        session,
        name=body.name,
        scopes=body.scopes,
        created_by=auth.creator_of(session, kind=who.kind, principal_id=who.id),
    )
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), token=token)


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyRead)
def revoke_key(key_id: uuid.UUID, session: DbSession, _: MayManageKeys) -> ApiKey:
    return auth.revoke_api_key(session, key_id=key_id)
