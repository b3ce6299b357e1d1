"""/api/v1 bounce-back offers: the rules (``edit_rewards``), a purchase's next-visit coupon
(``view``) and the report against the holdout (``view_reports``). POSTs honour
``Idempotency-Key``."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date

from fastapi import APIRouter

from wafa.api.deps import (
    AppSettings,
    DbSession,
    Idempotent,
    MayEditRewards,
    MayViewReports,
    Reader,
    ReadSession,
)
from wafa.api.routing import AutoCommitRoute
from wafa.core.errors import Invalid, NotFound
from wafa.loyalty.bounceback import report as reporting
from wafa.loyalty.bounceback import service
from wafa.loyalty.bounceback.schemas import Offer, ReportRead, RuleCreate, RuleRead
from wafa.loyalty.models import BounceBackRule

router = APIRouter(tags=["loyalty"], route_class=AutoCommitRoute)


@router.get("/loyalty/bounce-back/rules", response_model=list[RuleRead])
def list_rules(session: ReadSession, _: Reader) -> list[BounceBackRule]:
    return service.list_rules(session)


@router.post(
    "/loyalty/bounce-back/rules",
    status_code=201,
    response_model=RuleRead,
    dependencies=[Idempotent],
)
def create_rule(body: RuleCreate, session: DbSession, who: MayEditRewards) -> BounceBackRule:
    return service.create_rule(session, data=body, by=who.label)


@router.get("/loyalty/bounce-back/rules/{rule_id}", response_model=RuleRead)
def get_rule(rule_id: uuid.UUID, session: ReadSession, _: Reader) -> BounceBackRule:
    return service.get_rule(session, rule_id)


@router.put("/loyalty/bounce-back/rules/{rule_id}", response_model=RuleRead)
def update_rule(
    rule_id: uuid.UUID, body: RuleCreate, session: DbSession, _: MayEditRewards
) -> BounceBackRule:
    return service.update_rule(session, rule_id=rule_id, data=body)


@router.get("/orders/{order_id}/bounce-back", response_model=Offer)
def order_offer(
    order_id: uuid.UUID, session: ReadSession, settings: AppSettings, _: Reader
) -> Offer:
    offer = service.coupon_for_order(session, settings=settings, order_id=order_id)
    if offer is None:
        raise NotFound(f"order {order_id} earned no next-visit coupon", order_id=order_id)
    return offer


@router.get("/loyalty/bounce-back/report", response_model=ReportRead)
def bounce_back_report(
    session: ReadSession,
    settings: AppSettings,
    _: MayViewReports,
    rule_id: uuid.UUID | None = None,
    since: date | None = None,
    until: date | None = None,
) -> ReportRead:
    if since is not None and until is not None and until < since:
        raise Invalid.field(("query", "until"), "must not be before since")
    found = reporting.report(session, settings=settings, rule_id=rule_id, since=since, until=until)
    values = asdict(found)
    for key in ("coupon_group", "holdout_group"):
        values.pop(key)
    return ReportRead.model_validate(values)
