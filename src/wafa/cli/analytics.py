"""``wafa analyze FILE`` (no database needed) and ``wafa analytics refresh``.

``wafa analyze`` reads an order export, fits the retention models and writes a JSON
file with every figure (``--json``) and a self-contained HTML report (``--out``) that
opens without a network. Bad input is reported on standard error with its line and
column, and the command exits with status 1 (never a traceback); so does a model that
cannot be fitted, with what to try.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from wafa.analytics.choices import InputFormat, TimeUnit
from wafa.cli.common import (
    console,
    done_nothing_to_tear_down,
    err_console,
    fail,
    handle_errors,
    load_settings,
)
from wafa.core.choices import CalendarKind
from wafa.core.errors import WafaError

if TYPE_CHECKING:
    from wafa.analytics.analyze import Analysis
    from wafa.analytics.tables import AnalyticsRun

analytics_app = typer.Typer(
    help="Retention analytics stored on the database: scores, segments, predictions.",
    no_args_is_help=True,
)


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield lambda _message: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("Starting", total=None)

        def update(message: str) -> None:
            progress.update(task, description=message)

        yield update


def _clean(value: Any) -> Any:
    """Plain JSON types; a non-finite float becomes ``null`` (never ``NaN`` in the file)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if hasattr(value, "item"):  # NumPy scalar
        return _clean(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror or exc}") from None


def _write_csv(path: Path, header: Sequence[str], rows: list[list[object]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror or exc}") from None


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} {value!r}: expected a date as YYYY-MM-DD") from None


def _print_summary(analysis: Analysis) -> None:
    f = analysis.figures
    models = f["models"]
    chosen = models["chosen"]
    console.print(
        f"{f['customers']:,} customers, {f['input']['purchases']:,} purchases, "
        f"{f['first_order_date']} to {f['as_of']} (calibration to {f['calibration_end']})"
    )
    for name in ("bgnbd", "pareto_nbd"):
        block = models[name]
        if block.get("fitted"):
            params = ", ".join(f"{k} {v:.4g}" for k, v in block["params"].items())
            mark = " (chosen)" if name == chosen else ""
            console.print(
                f"{name}: {params}; log-likelihood {block['log_likelihood']:.1f}{mark}",
                highlight=False,
            )
    spend = models["gamma_gamma"]
    if spend.get("fitted"):
        params = ", ".join(f"{k} {v:.4g}" for k, v in spend["params"].items())
        console.print(f"gamma_gamma: {params}", highlight=False)
    holdout = f["holdout"]
    if holdout.get("days"):
        mae = holdout["models"]
        console.print(
            f"holdout {holdout['days']} days: MAE "
            + ", ".join(f"{k} {v['mae']:.3f}" for k, v in mae.items()),
            highlight=False,
        )
    for warning in f["warnings"]:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)


def _print_run(run: AnalyticsRun) -> None:
    details = run.details or {}
    headline = details.get("headline") or {}
    console.print(
        f"refreshed {run.customers:,} customers as of {run.as_of.isoformat()}"
        + (f"; model {run.model}" if run.model else "; no predictions"),
        highlight=False,
    )
    if headline.get("customers"):
        console.print(
            f"repeat-purchase rate {headline['repeat_rate']:.1%}, "
            f"revenue from returning customers {headline['returning_revenue_share']:.1%}",
            highlight=False,
        )
    timings = details.get("timings")
    if timings:
        console.print(
            "timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()), highlight=False
        )
    for warning in details.get("warnings", []):
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)


@analytics_app.command("refresh")
@handle_errors
def refresh(
    as_of: str | None = typer.Option(
        None, "--as-of", help="Analyse as of this day (YYYY-MM-DD); default: today."
    ),
    time_unit: TimeUnit = typer.Option(TimeUnit.week, "--time-unit", help="day or week."),
    holdout_days: int | None = typer.Option(
        None,
        "--holdout-days",
        min=0,
        help="Days held out to choose the model (default: a quarter of the history; 0: none).",
    ),
    clv_months: int = typer.Option(12, "--clv-months", min=1, max=120),
    discount_rate: float = typer.Option(0.10, "--discount-rate", min=0.0, max=1.0),
    no_recommendations: bool = typer.Option(
        False, "--no-recommendations", help="Skip learning which products go together."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Recompute every customer's scores, segments and predictions and store them."""
    from wafa.analytics import refresh as refreshing
    from wafa.core.db import session_scope

    settings = load_settings()
    options = refreshing.RefreshOptions(
        as_of=_date(as_of, "--as-of"),
        time_unit=time_unit,
        clv_months=clv_months,
        annual_discount_rate=discount_rate,
        holdout_days=holdout_days,
        recommendations=not no_recommendations,
    )
    try:
        with _progress(not quiet) as progress, session_scope(settings) as session:
            run = refreshing.refresh(session, settings=settings, options=options, progress=progress)
    except WafaError as exc:
        with session_scope(settings) as session:
            refreshing.record_failed_run(session, settings=settings, error=exc.detail)
        raise
    if not quiet:
        _print_run(run)


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    @handle_errors
    def analyze(
        file: Path = typer.Argument(..., help="Order export (CSV).", dir_okay=False),
        fmt: InputFormat = typer.Option(
            InputFormat.generic, "--format", "-f", help="generic, shopify or woocommerce."
        ),
        calibration_end: str | None = typer.Option(
            None,
            "--calibration-end",
            help="Fit on orders up to and including this date (YYYY-MM-DD); "
            "default: the last order date.",
        ),
        time_unit: TimeUnit = typer.Option(
            TimeUnit.week, "--time-unit", help="Unit of time for the models: day or week."
        ),
        json_out: Path | None = typer.Option(None, "--json", help="Write every figure as JSON."),
        out: Path | None = typer.Option(None, "--out", help="Write the HTML report."),
        customers_out: Path | None = typer.Option(
            None,
            "--customers-out",
            help="Write one CSV row per customer: forecast with its 90% range, p_alive, value.",
        ),
        holdout_days: int | None = typer.Option(
            None,
            "--holdout-days",
            min=1,
            help="Check predictions on the last N days (or the N days after --calibration-end).",
        ),
        currency: str | None = typer.Option(
            None, "--currency", help="Currency to analyse (default: the file's most common)."
        ),
        timezone: str | None = typer.Option(
            None, "--timezone", help="IANA timezone of the shop (default: WAFA_TIMEZONE)."
        ),
        calendar: CalendarKind | None = typer.Option(
            None, "--calendar", help="gregorian or jalali months (default: WAFA_CALENDAR)."
        ),
        language: str | None = typer.Option(
            None, "--language", help="Report language: en, ar or fa (default: WAFA_LOCALE)."
        ),
        clv_months: int = typer.Option(12, "--clv-months", min=1, max=120),
        discount_rate: float = typer.Option(
            0.10, "--discount-rate", min=0.0, max=1.0, help="Yearly discount rate (0.10 = 10%)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
    ) -> None:
        """Analyse an order export: who comes back, predictions, segments (no database)."""
        from wafa.analytics.analyze import (
            CUSTOMER_COLUMNS,
            AnalyzeOptions,
            analyze_file,
            customer_rows,
        )

        settings = load_settings()
        zone = timezone or settings.timezone
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(zone)
        except Exception:
            raise fail(f"--timezone {zone!r} is not an IANA timezone") from None
        lang = language or settings.locale.value
        if lang not in ("en", "ar", "fa"):
            raise fail(f"--language {lang!r}: use en, ar or fa")
        options = AnalyzeOptions(
            path=file,
            fmt=fmt,
            calibration_end=_date(calibration_end, "--calibration-end"),
            holdout_days=holdout_days,
            time_unit=time_unit,
            timezone=zone,
            calendar=calendar or settings.calendar,
            currency=currency,
            default_currency=settings.currency,
            clv_months=clv_months,
            annual_discount_rate=discount_rate,
        )
        with _progress(not quiet) as progress:
            analysis = analyze_file(options, progress)
            figures = _clean(analysis.figures)
            if json_out is not None:
                progress("Writing the JSON")
                _write(json_out, json.dumps(figures, ensure_ascii=False, indent=2, allow_nan=False))
            if out is not None:
                progress("Writing the report")
                from wafa.analytics.report import render_report

                _write(out, render_report(figures, language=lang))
            if customers_out is not None:
                progress("Writing the customers")
                _write_csv(customers_out, CUSTOMER_COLUMNS, customer_rows(analysis))
        if not quiet:
            _print_summary(analysis)
        for path in (json_out, out, customers_out):
            if path is not None and not quiet:
                console.print(f"wrote {path}")
        # Every file is written and closed and the DuckDB connection is closed
        # (analyze_file): the entry point may end the process without freeing the
        # analysis object by object.
        done_nothing_to_tear_down()

    app.add_typer(analytics_app, name="analytics")
