"""``wafa messaging``: check the channels and send a test."""

from __future__ import annotations

import typer

from wafa.cli.common import console, fail, handle_errors, load_settings
from wafa.messaging import checks
from wafa.messaging.channels import Outcome

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
    settings = load_settings()
    bad = False
    for status in checks.channel_health(settings):
        mark = "[green]ok[/]" if status.health.ok else "[red]not ready[/]"
        console.print(f"{status.name:9} {mark}  {status.health.detail}", highlight=False)
        bad |= not status.health.ok and status.kind != "disabled"
    if bad:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(messaging_app, name="messaging")
