"""``wafa loyalty …``: daily jobs by hand, the points liability, tier recalculation, checks."""

from __future__ import annotations

import uuid
from datetime import date

import typer

from wafa.cli.common import console, echo_json, fail, handle_errors, load_settings

loyalty_app = typer.Typer(help="The loyalty program.", no_args_is_help=True)


def _day(raw: str | None) -> date:
    from wafa.core.calendars import local_date
    from wafa.core.time import utcnow

    settings = load_settings()
    today = local_date(utcnow(), settings.zone)
    if raw is None:
        return today
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise fail(f"--date {raw!r} is not a date (YYYY-MM-DD)") from None
    if day > today:
        raise fail(f"--date {raw} is in the future (today is {today} in {settings.timezone})")
    return day


@loyalty_app.command("run-daily")
@handle_errors
def run_daily(
    day: str = typer.Option(None, "--date", help="Local date YYYY-MM-DD (today by default)."),
    job: list[str] = typer.Option(
        None, "--job", help="Only this job (repeatable); `wafa loyalty jobs` shows the names."
    ),
    force: bool = typer.Option(False, "--force", help="Run again even if the day is done."),
) -> None:
    """Run the daily jobs for a date (resumes a run that stopped halfway)."""

    from wafa.core.db import session_factory
    from wafa.loyalty import jobs

    settings = load_settings()
    when = _day(day)
    unknown = sorted(set(job or []) - set(jobs.JOB_NAMES))
    if unknown:
        raise fail(f"unknown job {', '.join(unknown)}; jobs are {', '.join(jobs.JOB_NAMES)}")
    report = jobs.run_daily(
        session_factory(settings), settings, when, only=tuple(job) if job else None, force=force
    )
    for name, n in report.items():
        console.print(f"{when} {name:10} {n}")


@loyalty_app.command("liability")
@handle_errors
def liability(as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
    """Outstanding points valued in money (for the accountant)."""

    from wafa.core.db import session_scope
    from wafa.core.money import format_money
    from wafa.loyalty import service

    settings = load_settings()
    with session_scope(settings, write=False) as session:
        report = service.liability(session, settings=settings)
    if as_json:
        echo_json(report.model_dump(mode="json"))
        return

    def money(value: int) -> str:
        return format_money(value, report.currency, settings.locale.value)

    console.print(f"Points liability as of {report.as_of:%Y-%m-%d %H:%M} UTC")
    console.print(f"  members with points   {report.members}")
    console.print(
        f"  available             {report.available_points:>12}  {money(report.available_value)}"
    )
    console.print(
        f"  pending               {report.pending_points:>12}  {money(report.pending_value)}"
    )
    console.print(
        f"  outstanding           {report.outstanding_points:>12}  {money(report.outstanding_value)}"
    )
    console.print(f"  expiring in 30 days   {report.expiring_30_days:>12}")
    console.print(f"  unused reward coupons {report.unused_reward_coupons:>12}")


@loyalty_app.command("recalc-tiers")
@handle_errors
def recalc_tiers() -> None:
    """Upgrade everyone who qualifies and review everyone due (safe to repeat)."""

    from wafa.core.db import session_factory
    from wafa.loyalty import tiers

    settings = load_settings()
    changed = tiers.recalculate_in_batches(session_factory(settings), settings=settings, by="cli")
    console.print(f"{changed} tier changes")


@loyalty_app.command("status")
@handle_errors
def status(customer_id: str = typer.Argument(..., help="Customer id.")) -> None:
    """A member's balance, tier and what expires when, as JSON."""

    from wafa.core.db import session_scope
    from wafa.loyalty import service

    settings = load_settings()
    try:
        cid = uuid.UUID(customer_id)
    except ValueError:
        raise fail(f"{customer_id!r} is not a customer id") from None
    with session_scope(settings, write=False) as session:
        echo_json(
            service.status(session, settings=settings, customer_id=cid).model_dump(mode="json")
        )


@loyalty_app.command("verify")
@handle_errors
def verify(customer_id: str = typer.Argument(None, help="One customer (all by default).")) -> None:
    """Check that every cached balance equals its ledger; exit 1 on any difference."""
    from sqlalchemy import select

    from wafa.core.db import session_scope
    from wafa.loyalty import ledger
    from wafa.loyalty.models import LoyaltyAccount

    settings = load_settings()
    bad = 0
    with session_scope(settings, write=False) as session:
        if customer_id:
            ids = [uuid.UUID(customer_id)]
        else:
            ids = list(session.scalars(select(LoyaltyAccount.customer_id)))
        for cid in ids:
            for problem in ledger.check(session, cid):
                bad += 1
                console.print(f"{cid}: {problem}", highlight=False, soft_wrap=True)
    if bad:
        raise fail(f"{bad} problems in {len(ids)} accounts")
    console.print(f"{len(ids)} accounts checked: every balance equals its ledger")


@loyalty_app.command("jobs")
@handle_errors
def job_runs() -> None:
    """The latest daily job runs."""

    from wafa.core.db import session_scope
    from wafa.loyalty import jobs

    settings = load_settings()
    with session_scope(settings, write=False) as session:
        for run in jobs.job_runs(session):
            console.print(f"{run.run_on} {run.job:10} {run.status:8} {run.processed}")


def register(app: typer.Typer) -> None:
    app.add_typer(loyalty_app, name="loyalty")
