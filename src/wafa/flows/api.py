"""/api/v1/flows: list the flows, switch or change one, read its report."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from wafa.api.deps import AppSettings, DbSession, MayMessage, MayViewReports, ReadSession
from wafa.api.routing import AutoCommitRoute
from wafa.flows import presets, service
from wafa.flows.lift import flow_lift
from wafa.flows.models import Flow
from wafa.flows.schemas import FlowRead, FlowReport, FlowUpdate

router = APIRouter(tags=["flows"], route_class=AutoCommitRoute)


@router.get("/flows", response_model=list[FlowRead])
def list_flows(session: DbSession, _: MayViewReports) -> list[Flow]:
    presets.ensure_presets(session)
    return service.list_flows(session)


@router.put("/flows/{key}", response_model=FlowRead)
def update_flow(key: str, body: FlowUpdate, session: DbSession, principal: MayMessage) -> Flow:
    presets.ensure_presets(session)
    if body.model_dump(exclude={"enabled"}, exclude_none=True):
        service.update_flow(
            session,
            key=key,
            by=principal.label,
            definition=body.definition,
            name=body.name,
            holdout_percent=body.holdout_percent,
            conversion_days=body.conversion_days,
        )
    if body.enabled is not None:
        service.set_enabled(session, key=key, enabled=body.enabled, by=principal.label)
    return service.get_flow(session, key)


@router.get("/flows/{key}/report", response_model=FlowReport)
def flow_report(
    key: str, session: ReadSession, settings: AppSettings, _: MayViewReports
) -> dict[str, Any]:
    flow = service.get_flow(session, key)
    return report_of(session, settings, flow)


def report_of(session: Any, settings: Any, flow: Flow) -> dict[str, Any]:
    counts = service.flow_counts(session, flow.id)
    lift = flow_lift(session, settings=settings, flow=flow)
    return {
        "flow": flow,
        "entered": counts.entered,
        "active": counts.active,
        "done": counts.done,
        "exited": counts.exited,
        "held_out": counts.holdout,
        "steps": service.step_counts(session, flow.id),
        "waiting": service.waiting_at(session, flow.id),
        "lift": {
            "days": lift.days,
            "currency": lift.currency,
            "pending": lift.pending,
            "recipients": lift.recipients.customers,
            "holdout": lift.holdout.customers,
            "conversion": asdict(lift.conversion),
            "orders": asdict(lift.orders),
            "revenue": asdict(lift.revenue),
            "method": lift.method,
        },
    }
