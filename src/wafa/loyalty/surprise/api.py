"""/api/v1 surprise rewards: the rules (``edit_program`` to change, ``view`` to read), the
grants and the monthly cost (``view_reports``), and the counter's "given" mark (``serve``).
POSTs honour ``Idempotency-Key``. Granting a rule to a messaging segment is messaging's
route (``/api/v1/segments/{id}/surprise``): loyalty does not read segments."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from wafa.api.deps import (
    AppSettings,
    DbSession,
    Idempotent,
    MayEditProgram,
    MayViewReports,
    Reader,
    ReadSession,
    Writer,
)
from wafa.api.routing import AutoCommitRoute
from wafa.loyalty.models import SurpriseGrant, SurpriseRule
from wafa.loyalty.surprise import service
from wafa.loyalty.surprise.schemas import (
    MonthCostRead,
    SurpriseGrantRead,
    SurpriseRuleCreate,
    SurpriseRuleRead,
    SurpriseRuleUpdate,
)

router = APIRouter(tags=["loyalty"], route_class=AutoCommitRoute)


@router.get("/loyalty/surprises/rules", response_model=list[SurpriseRuleRead])
def list_rules(session: ReadSession, _: Reader) -> list[SurpriseRule]:
    return service.list_rules(session)


@router.post(
    "/loyalty/surprises/rules",
    status_code=201,
    response_model=SurpriseRuleRead,
    dependencies=[Idempotent],
)
def create_rule(
    body: SurpriseRuleCreate, session: DbSession, settings: AppSettings, who: MayEditProgram
) -> SurpriseRule:
    return service.create_rule(session, settings=settings, data=body, by=who.label)


@router.get("/loyalty/surprises/rules/{rule_id}", response_model=SurpriseRuleRead)
def get_rule(rule_id: uuid.UUID, session: ReadSession, _: Reader) -> SurpriseRule:
    return service.get_rule(session, rule_id)


@router.patch("/loyalty/surprises/rules/{rule_id}", response_model=SurpriseRuleRead)
def update_rule(
    rule_id: uuid.UUID,
    body: SurpriseRuleUpdate,
    session: DbSession,
    settings: AppSettings,
    _: MayEditProgram,
) -> SurpriseRule:
    return service.update_rule(session, settings=settings, rule_id=rule_id, data=body)


@router.get("/loyalty/surprises/grants", response_model=list[SurpriseGrantRead])
def list_grants(
    session: ReadSession,
    _: MayViewReports,
    rule_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[SurpriseGrant]:
    return service.list_grants(session, rule_id=rule_id, limit=limit)


@router.get("/loyalty/surprises/costs", response_model=list[MonthCostRead])
def monthly_costs(
    session: ReadSession,
    settings: AppSettings,
    _: MayViewReports,
    months: Annotated[int, Query(ge=1, le=36)] = 12,
) -> list[Any]:
    return [vars(m) for m in service.monthly_costs(session, settings=settings, months=months)]


@router.post(
    "/customers/{customer_id}/surprises/{grant_id}/handed",
    dependencies=[Idempotent],
)
def mark_handed(
    customer_id: uuid.UUID, grant_id: uuid.UUID, session: DbSession, who: Writer
) -> dict[str, bool]:
    marked = service.mark_handed(session, customer_id=customer_id, grant_id=grant_id, by=who.label)
    return {"marked": marked}
