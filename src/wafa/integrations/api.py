"""/api/v1/hooks: the shops' webhooks in; /api/v1/integrations: connections and their logs.

The intake routes take no API key: the shop signs each body with the connection's
secret, and the signature is checked before the body is read. A bad or missing
signature answers 401 and stores nothing (a log line says so).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from wafa.api.deps import AppSettings, DbSession, MayIntegrations, ReadSession, public
from wafa.api.routing import MESSAGE_LIMIT, AutoCommitRoute
from wafa.core.errors import Invalid, NotFound, Unauthorized, WafaError
from wafa.core.settings import Settings
from wafa.integrations import connections, intake, outbound
from wafa.integrations.models import Connection
from wafa.integrations.schemas import (
    AttemptRead,
    ConnectionCreate,
    ConnectionCreated,
    ConnectionRead,
    ConnectionRotate,
    DeliveryRead,
    EndpointCreate,
    EndpointCreated,
    EndpointRead,
    MessageRead,
    SecretRotated,
)

log = logging.getLogger("wafa.integrations")

router = APIRouter(tags=["integrations"], route_class=AutoCommitRoute)

#: Each shop's headers: signature, topic, delivery id.
HEADERS = {
    "shopify": ("x-shopify-hmac-sha256", "x-shopify-topic", "x-shopify-webhook-id"),
    "woocommerce": ("x-wc-webhook-signature", "x-wc-webhook-topic", "x-wc-webhook-delivery-id"),
}


class Paused(WafaError):
    code = "paused"
    status = 503
    title = "Connection paused"


async def _raw_body(request: Request) -> bytes:
    try:
        return await request.body()
    except RuntimeError:
        # A form was parsed already (the route's NUL check reads forms, consuming the
        # stream). No shop signs a form: only WooCommerce's unsigned ping is one.
        form = await request.form()
        return urlencode([(k, v) for k, v in form.multi_items() if isinstance(v, str)]).encode()


RawBody = Annotated[bytes, Depends(_raw_body)]


@router.post(
    "/hooks/{shop}/{token}",
    max_body_size=MESSAGE_LIMIT,  # a large order's JSON
    dependencies=[public("a shop's webhook, signed with the connection's secret")],
    summary="A shop's webhook (signed with the connection's secret)",
    responses={401: {"description": "Bad or missing signature: nothing stored."}},
)
def receive_webhook(
    shop: str,
    token: str,
    request: Request,
    body: RawBody,
    session: DbSession,
) -> JSONResponse:
    if shop not in HEADERS:
        raise NotFound("no such intake")
    target = intake.intake_target(session, shop, token)
    if target is None:
        raise NotFound("no such intake")
    connection, waiting, version = target
    # The settings' version came with the connection (app.live_settings skips this path).
    settings: Settings = request.app.state.settings_for(version)
    signature_header, topic_header, id_header = HEADERS[shop]
    given = request.headers.get(signature_header)
    if shop == "woocommerce" and given is None and body.startswith(b"webhook_id="):
        # WooCommerce pings the URL, unsigned, when the webhook is saved.
        log.info("woocommerce ping for connection %s", connection.name)
        return JSONResponse({"status": "pong"})
    if not connections.verify(connection, body, given, settings=settings):
        log.warning(
            "rejected a %s delivery for connection %s: %s signature",
            shop,
            connection.name,
            "bad" if given else "no",
        )
        raise Unauthorized(f"{signature_header} is missing or does not sign the body")
    if connection.paused_at is not None:
        raise Paused(f"connection {connection.name} is paused; send it again later")
    topic = (request.headers.get(topic_header) or "").strip()
    if not topic:
        raise Invalid.field(("header", topic_header), "is required")
    delivery_id = (request.headers.get(id_header) or "").strip()
    if not delivery_id:
        delivery_id = "sha256:" + hashlib.sha256(topic.encode() + b"\n" + body).hexdigest()
    context = intake.Context(settings, request.app.state.people_hooks, waiting=waiting)
    delivery = intake.receive(
        session, connection, topic=topic, delivery_id=delivery_id, body=body, context=context
    )
    if delivery is None:
        return JSONResponse({"status": "duplicate"})
    return JSONResponse({"status": delivery.status, "id": str(delivery.id)})


def _read(connection: Connection, health: dict[uuid.UUID, tuple[Any, int]]) -> dict[str, Any]:
    last, failed = health.get(connection.id, (None, 0))
    data = ConnectionRead.model_validate(connection).model_dump()
    data.update(last_delivery_at=last, failures_last_day=failed)
    return data


@router.get("/integrations", response_model=list[ConnectionRead], summary="Connected shops")
def list_connections(session: ReadSession, _: MayIntegrations) -> list[dict[str, Any]]:
    health = intake.health(session)
    return [_read(c, health) for c in connections.list_connections(session)]


@router.post(
    "/integrations",
    response_model=ConnectionCreated,
    status_code=201,
    summary="Connect a shop (the intake path and secret are shown once)",
)
def add_connection(
    body: ConnectionCreate, session: DbSession, settings: AppSettings, _: MayIntegrations
) -> dict[str, Any]:
    created = connections.add_connection(
        session, settings=settings, shop=body.shop, name=body.name, secret=body.secret
    )
    data = _read(created.connection, {})
    data.update(intake_path=created.path, secret=created.secret)
    return data


@router.post("/integrations/{name}/pause", response_model=ConnectionRead)
def pause(name: str, session: DbSession, _: MayIntegrations) -> dict[str, Any]:
    return _read(connections.pause_connection(session, name), intake.health(session))


@router.post("/integrations/{name}/resume", response_model=ConnectionRead)
def resume(name: str, session: DbSession, _: MayIntegrations) -> dict[str, Any]:
    return _read(connections.resume_connection(session, name), intake.health(session))


@router.post(
    "/integrations/{name}/rotate",
    response_model=SecretRotated,
    summary="A new signing secret; the old one works for the grace period",
)
def rotate(
    name: str,
    body: ConnectionRotate,
    session: DbSession,
    settings: AppSettings,
    _: MayIntegrations,
) -> dict[str, Any]:
    connection, secret = connections.rotate_secret(
        session,
        name,
        settings=settings,
        secret=body.secret,
        grace=timedelta(hours=body.grace_hours),
    )
    data = _read(connection, intake.health(session))
    data["secret"] = secret
    return data


@router.delete("/integrations/{name}", status_code=204, summary="Remove a connection and its log")
def remove(name: str, session: DbSession, _: MayIntegrations) -> None:
    connections.remove_connection(session, name)


@router.get("/integrations/deliveries", response_model=list[DeliveryRead])
def deliveries(
    session: ReadSession,
    _: MayIntegrations,
    connection: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[Any]:
    connection_id = connections.get_connection(session, connection).id if connection else None
    return list(
        intake.list_deliveries(session, connection_id=connection_id, status=status, limit=limit)
    )


@router.post("/integrations/deliveries/{delivery_id}/replay", response_model=DeliveryRead)
def replay(
    delivery_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: MayIntegrations,
) -> Any:
    context = intake.Context(settings, request.app.state.people_hooks)
    return intake.replay(session, delivery_id, context)


# --------------------------------------------------------------------------- out


@router.get("/webhooks", response_model=list[EndpointRead], summary="Outbound webhook endpoints")
def list_endpoints(session: ReadSession, _: MayIntegrations) -> list[Any]:
    return list(outbound.list_endpoints(session))


@router.post(
    "/webhooks",
    response_model=EndpointCreated,
    status_code=201,
    summary="Subscribe an endpoint to event types (its signing secret is shown once)",
)
def add_endpoint(
    body: EndpointCreate, session: DbSession, settings: AppSettings, _: MayIntegrations
) -> dict[str, Any]:
    created = outbound.add_endpoint(
        session,
        settings=settings,
        url=body.url,
        topics=body.events,
        description=body.description,
    )
    data = EndpointRead.model_validate(created.endpoint).model_dump()
    data["secret"] = created.secret
    return data


@router.post("/webhooks/{endpoint_id}/enable", response_model=EndpointRead)
def enable_endpoint(endpoint_id: uuid.UUID, session: DbSession, _: MayIntegrations) -> Any:
    return outbound.enable_endpoint(session, endpoint_id)


@router.delete("/webhooks/{endpoint_id}", status_code=204)
def remove_endpoint(endpoint_id: uuid.UUID, session: DbSession, _: MayIntegrations) -> None:
    outbound.remove_endpoint(session, endpoint_id)


@router.get("/webhooks/{endpoint_id}/messages", response_model=list[MessageRead])
def endpoint_messages(
    endpoint_id: uuid.UUID,
    session: ReadSession,
    _: MayIntegrations,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[Any]:
    outbound.get_endpoint(session, endpoint_id)
    return outbound.list_messages(session, endpoint_id=endpoint_id, status=status, limit=limit)


@router.get("/webhooks/messages/{message_id}/attempts", response_model=list[AttemptRead])
def message_attempts(message_id: uuid.UUID, session: ReadSession, _: MayIntegrations) -> list[Any]:
    return list(outbound.attempts_of(session, message_id))


@router.post("/webhooks/messages/{message_id}/replay", response_model=MessageRead)
def replay_message(message_id: uuid.UUID, session: DbSession, _: MayIntegrations) -> Any:
    return outbound.replay_message(session, message_id)
