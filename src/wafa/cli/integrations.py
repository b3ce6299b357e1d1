"""``wafa integration add|list|pause|resume|rotate|remove|deliveries|replay|keys``, ``wafa webhook``."""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from wafa.cli.common import console, handle_errors, load_settings, session_scope

if TYPE_CHECKING:
    from wafa.core.settings import Settings

integration_app = typer.Typer(
    help="Live shops: Shopify and WooCommerce webhooks.", no_args_is_help=True
)


class ShopName(StrEnum):
    shopify = "shopify"
    woocommerce = "woocommerce"


@integration_app.command("add")
@handle_errors
def add(
    shop: ShopName = typer.Argument(..., help="shopify or woocommerce."),
    name: str = typer.Option(..., "--name", help="The connection's name (its orders' source)."),
    secret: str = typer.Option(
        None, "--secret", help="The shop's webhook signing secret (generated when omitted)."
    ),
) -> None:
    """Connect a shop. The intake path is printed alone on the last line, shown once."""
    from wafa.integrations import connections

    settings = load_settings()
    with session_scope(settings) as session:
        created = connections.add_connection(
            session, settings=settings, shop=shop.value, name=name, secret=secret
        )
    console.print(f"connected {shop.value} as {created.connection.name}")
    if not secret:
        console.print("signing secret (shown once; enter it in the shop):")
        print(created.secret)
    base = settings.public_url.rstrip("/")
    console.print(
        f"webhook URL (shown once; enter it in the shop): {base}{created.path}", highlight=False
    )
    print(created.path)


@integration_app.command("list")
@handle_errors
def list_all() -> None:
    """Connections with their health: last delivery and failures of the last day."""
    from wafa.integrations import connections, intake

    with session_scope(load_settings(), write=False) as session:
        health = intake.health(session)
        found = connections.list_connections(session)
        if not found:
            console.print("no connections")
        for c in found:
            last, failed = health.get(c.id, (None, 0))
            state = "paused" if c.paused_at else "active"
            when = last.isoformat(timespec="seconds") if last else "never"
            console.print(
                f"{c.name:24} {c.shop:12} {state:7} last delivery {when}  failures(24h) {failed}",
                highlight=False,
            )


@integration_app.command("pause")
@handle_errors
def pause(name: str = typer.Argument(...)) -> None:
    """Stop taking deliveries (the shop gets 503 and retries later)."""
    from wafa.integrations import connections

    with session_scope(load_settings()) as session:
        connections.pause_connection(session, name)
    console.print(f"paused {name}")


@integration_app.command("resume")
@handle_errors
def resume(name: str = typer.Argument(...)) -> None:
    """Take deliveries again."""
    from wafa.integrations import connections

    with session_scope(load_settings()) as session:
        connections.resume_connection(session, name)
    console.print(f"resumed {name}")


@integration_app.command("rotate")
@handle_errors
def rotate(
    name: str = typer.Argument(...),
    secret: str = typer.Option(None, "--secret", help="The new secret (generated when omitted)."),
    grace_hours: int = typer.Option(24, help="Hours the old secret is still accepted."),
) -> None:
    """A new signing secret; the old one works for the grace period."""
    from wafa.integrations import connections

    settings = load_settings()
    with session_scope(settings) as session:
        connection, new = connections.rotate_secret(
            session, name, settings=settings, secret=secret, grace=timedelta(hours=grace_hours)
        )
    until = (
        connection.previous_until.isoformat(timespec="minutes") if connection.previous_until else ""
    )
    console.print(f"rotated {name}; the old secret is accepted until {until}", highlight=False)
    if not secret:
        console.print("new signing secret (shown once):")
        print(new)


@integration_app.command("remove")
@handle_errors
def remove(name: str = typer.Argument(...)) -> None:
    """Remove a connection and its delivery log (its orders stay)."""
    from wafa.integrations import connections

    with session_scope(load_settings()) as session:
        connections.remove_connection(session, name)
    console.print(f"removed {name}")


@integration_app.command("deliveries")
@handle_errors
def deliveries(
    name: str = typer.Option(None, "--name", help="One connection only."),
    status: str = typer.Option(None, help="processed, ignored, waiting or failed."),
    limit: int = typer.Option(20),
) -> None:
    """The newest deliveries with their result."""
    from wafa.integrations import connections, intake

    with session_scope(load_settings(), write=False) as session:
        cid = connections.get_connection(session, name).id if name else None
        for d in intake.list_deliveries(session, connection_id=cid, status=status, limit=limit):
            console.print(
                f"{d.id} {d.received_at.isoformat(timespec='seconds')} {d.topic:24} "
                f"{d.status:9} {d.error or ''}",
                highlight=False,
            )


@integration_app.command("replay")
@handle_errors
def replay(delivery_id: uuid.UUID = typer.Argument(...)) -> None:
    """Apply a failed delivery again from its kept body."""
    from wafa.app.domains import people_hooks
    from wafa.integrations import intake

    settings = load_settings()
    with session_scope(settings) as session:
        delivery = intake.replay(session, delivery_id, intake.Context(settings, people_hooks()))
        status, error = delivery.status, delivery.error
    console.print(f"{delivery_id}: {status} {error or ''}", highlight=False)


keys_app = typer.Typer(
    help="The keys that seal stored signing secrets (WAFA_DATA_KEYS or the key file).",
    no_args_is_help=True,
)


def _usage_lines(settings: Settings) -> None:
    from wafa.core.sealing import key_ring
    from wafa.integrations.sealed import key_usage

    ring = key_ring(settings)
    with session_scope(settings) as session:
        usage = key_usage(session)
    console.print(f"keys from {ring.source}, newest first:", highlight=False)
    for kid in ring.ids:
        console.print(f"  {kid}  {usage.get(kid, 0)} secret(s)", highlight=False)
    unknown = {k: n for k, n in usage.items() if k not in ring.ids}
    for kid, count in sorted(unknown.items()):
        label = "in plain text" if kid == "plain" else f"sealed with {kid}, NOT in the ring"
        console.print(f"  {count} secret(s) {label}", highlight=False)


@keys_app.command("status")
@handle_errors
def keys_status() -> None:
    """The keys in the ring and how many stored secrets each seals."""
    _usage_lines(load_settings())


def _reseal_and_prune(settings: Settings, prune: bool) -> None:
    from wafa.core.sealing import prune_keys
    from wafa.integrations.sealed import key_usage, reseal

    with session_scope(settings) as session:
        done = reseal(session, settings)
    console.print(
        f"{done.resealed} secret(s) sealed with the newest key"
        + (f" ({done.were_plain} were in plain text)" if done.were_plain else ""),
        highlight=False,
    )
    if prune:
        with session_scope(settings) as session:
            used = set(key_usage(session))
        dropped = prune_keys(settings, used)
        console.print(f"dropped {len(dropped)} key(s) no secret uses: {' '.join(dropped)}")


@keys_app.command("rotate")
@handle_errors
def keys_rotate(
    prune: bool = typer.Option(
        False, "--prune", help="Then drop the old keys from the file (no secret uses them)."
    ),
) -> None:
    """A new key first in the key file, and every stored secret sealed again with it."""
    from wafa.core.sealing import rotate_key

    settings = load_settings()
    ring = rotate_key(settings)
    console.print(f"new key {ring.ids[0]} in {ring.source}", highlight=False)
    _reseal_and_prune(settings, prune)


@keys_app.command("reseal")
@handle_errors
def keys_reseal(
    prune: bool = typer.Option(
        False, "--prune", help="Then drop the old keys from the file (no secret uses them)."
    ),
) -> None:
    """Seal every stored secret with the newest key (after a new first key in WAFA_DATA_KEYS)."""
    _reseal_and_prune(load_settings(), prune)


integration_app.add_typer(keys_app, name="keys")


webhook_app = typer.Typer(help="Signed webhooks out: Wafa's events.", no_args_is_help=True)


@webhook_app.command("add")
@handle_errors
def webhook_add(
    url: str = typer.Argument(..., help="The receiver's http(s) address."),
    events: str = typer.Option(
        "*", help="Comma-separated event types (docs/events.md), * for all."
    ),
    description: str = typer.Option(None, help="What the receiver is."),
) -> None:
    """Subscribe an endpoint. Its signing secret is printed alone on the last line, once."""
    from wafa.integrations import outbound

    settings = load_settings()
    with session_scope(settings) as session:
        created = outbound.add_endpoint(
            session, settings=settings, url=url, topics=events.split(","), description=description
        )
        endpoint_id, topics = created.endpoint.id, created.endpoint.topics
    console.print(f"endpoint {endpoint_id} for {', '.join(topics)}", highlight=False)
    console.print("signing secret (Standard Webhooks; shown once):")
    print(created.secret)


@webhook_app.command("list")
@handle_errors
def webhook_list() -> None:
    """Endpoints with their state."""
    from wafa.integrations import outbound

    with session_scope(load_settings(), write=False) as session:
        for e in outbound.list_endpoints(session):
            state = f"disabled: {e.disabled_reason}" if e.disabled_at else "active"
            console.print(f"{e.id} {e.url} [{', '.join(e.topics)}] {state}", highlight=False)


@webhook_app.command("messages")
@handle_errors
def webhook_messages(
    endpoint: uuid.UUID = typer.Argument(...),
    status: str = typer.Option(None, help="pending, delivered or failed."),
    limit: int = typer.Option(20),
) -> None:
    """An endpoint's newest messages with their last answer."""
    from wafa.integrations import outbound

    with session_scope(load_settings(), write=False) as session:
        for m in outbound.list_messages(session, endpoint_id=endpoint, status=status, limit=limit):
            console.print(
                f"{m.id} {m.topic:24} {m.status:9} tries {m.attempts} "
                f"last {m.last_status_code or m.last_error or '-'}",
                highlight=False,
            )


@webhook_app.command("replay")
@handle_errors
def webhook_replay(message: uuid.UUID = typer.Argument(...)) -> None:
    """Send a message again now."""
    from wafa.integrations import outbound

    with session_scope(load_settings()) as session:
        outbound.replay_message(session, message)
    console.print(f"{message}: queued again")


@webhook_app.command("enable")
@handle_errors
def webhook_enable(endpoint: uuid.UUID = typer.Argument(...)) -> None:
    """Take a disabled endpoint back into service."""
    from wafa.integrations import outbound

    with session_scope(load_settings()) as session:
        outbound.enable_endpoint(session, endpoint)
    console.print(f"{endpoint}: enabled")


@webhook_app.command("remove")
@handle_errors
def webhook_remove(endpoint: uuid.UUID = typer.Argument(...)) -> None:
    """Delete an endpoint and its messages."""
    from wafa.integrations import outbound

    with session_scope(load_settings()) as session:
        outbound.remove_endpoint(session, endpoint)
    console.print(f"{endpoint}: removed")


def register(app: typer.Typer) -> None:
    app.add_typer(integration_app, name="integration")
    app.add_typer(webhook_app, name="webhook")
