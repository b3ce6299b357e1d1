"""``wafa messaging``: check the channels, send a test, send and pause campaigns."""

from __future__ import annotations

import uuid

import typer

from wafa.cli.common import console, fail, handle_errors, load_settings

messaging_app = typer.Typer(help="Email, SMS and WhatsApp channels.", no_args_is_help=True)


@messaging_app.command("test")
@handle_errors
def send_test_message(
    to: str = typer.Option(..., "--to", help="An email address or an E.164 phone number."),
    channel: str | None = typer.Option(
        None, help="email, sms or whatsapp (default: email for an address with @, else sms)."
    ),
    locale: str | None = typer.Option(None, help="en, ar or fa (default: the business's)."),
) -> None:
    """Send a test message through the configured channel and say what the server answered."""
    from wafa.messaging import checks
    from wafa.messaging.channels import Outcome

    settings = load_settings()
    if channel not in (None, "email", "sms", "whatsapp"):
        raise fail("--channel must be email, sms or whatsapp")
    result = checks.send_test(settings, to=to, channel=channel, locale=locale)
    if result.outcome is Outcome.sent:
        console.print(f"sent to {to} ({result.provider_id or 'accepted'})")
        return
    raise fail(f"{result.outcome.value}: {result.detail}")


@messaging_app.command("health")
@handle_errors
def health() -> None:
    """Check every channel (connect to the SMTP server, reach the providers)."""
    from wafa.messaging import checks

    settings = load_settings()
    bad = False
    for status in checks.channel_health(settings):
        mark = "[green]ok[/]" if status.health.ok else "[red]not ready[/]"
        console.print(f"{status.name:9} {mark}  {status.health.detail}", highlight=False)
        bad |= not status.health.ok and status.kind != "disabled"
    if bad:
        raise typer.Exit(1)


campaign_app = typer.Typer(help="Campaigns: send, pause, resume.", no_args_is_help=True)
messaging_app.add_typer(campaign_app, name="campaign")


def _campaign_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise fail(f"{raw!r} is not a campaign id") from None


def _campaign_action(raw: str, action: str) -> None:
    from wafa.core.db import session_scope
    from wafa.messaging.campaigns import service

    settings = load_settings()
    campaign_id = _campaign_id(raw)
    with session_scope(settings) as session:
        if action == "send":
            service.start_sending(session, settings=settings, campaign_id=campaign_id)
        elif action == "pause":
            service.pause(session, campaign_id=campaign_id)
        else:
            service.resume(session, campaign_id=campaign_id)
        found = service.read_campaign(session, campaign_id=campaign_id)
    counts = found["counts"]
    recipients = found["recipients"]
    if recipients is None:  # scheduled: the segment is taken at the scheduled time
        recipients = "taken at the scheduled time"
    console.print(
        f"{found['name']}: {found['status']}; recipients {recipients}, "
        f"held out {found['holdout']}; queued {counts['queued']}, paused {counts['paused']}, "
        f"sent {counts['sent']}, skipped {counts['skipped']}, failed {counts['failed']}, "
        f"unknown {counts['unknown']}",
        highlight=False,
    )


@campaign_app.command("send")
@handle_errors
def send_campaign(campaign_id: str = typer.Argument(..., help="The campaign's id.")) -> None:
    """Send a draft campaign (the worker queues and sends it); again, nothing changes."""
    _campaign_action(campaign_id, "send")


@campaign_app.command("pause")
@handle_errors
def pause_campaign(campaign_id: str = typer.Argument(..., help="The campaign's id.")) -> None:
    """Hold what the campaign has not sent yet."""
    _campaign_action(campaign_id, "pause")


@campaign_app.command("resume")
@handle_errors
def resume_campaign(campaign_id: str = typer.Argument(..., help="The campaign's id.")) -> None:
    """Send on where a pause stopped (nobody twice, nobody skipped)."""
    _campaign_action(campaign_id, "resume")


def register(app: typer.Typer) -> None:
    app.add_typer(messaging_app, name="messaging")
