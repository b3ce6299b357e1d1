"""``wafa import customers|products|orders FILE``: bring a shop's history into Wafa.

Exit status: 0 when the import ran (with ``--skip-invalid``, also when rows were
rejected: they are in the ``--errors`` file); 1 when the file was refused or rows were
bad, in which case nothing was written and each problem is printed on standard error
as ``line N, column C: reason``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from wafa.cli.common import (
    console,
    err_console,
    fail,
    handle_errors,
    load_settings,
    load_shop_settings,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from wafa.orders.importing.errors import RowError
    from wafa.orders.importing.pipeline import Progress as ProgressFn

import_app = typer.Typer(
    help="Import customers, products or orders from CSV exports (Shopify, WooCommerce, generic).",
    no_args_is_help=True,
)
SHOWN_ERRORS = 50


class Format(StrEnum):
    generic = "generic"
    shopify = "shopify"
    woocommerce = "woocommerce"


FileArg = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The CSV file.")
FormatOpt = typer.Option(Format.generic, "--format", "-f", help="generic, shopify or woocommerce.")
DryRunOpt = typer.Option(False, "--dry-run", help="Check and count everything, write nothing.")
SkipOpt = typer.Option(
    False, "--skip-invalid", help="Import the good rows; write rejected ones to --errors FILE."
)
ErrorsOpt = typer.Option(
    None, "--errors", help="CSV file for rejected rows (line, column, reason, row)."
)
SourceOpt = typer.Option(None, "--source", help="Name of the source system (default: the format).")
MappingOpt = typer.Option(None, "--mapping", help='JSON file {"File column": "field"}; null skips.')
MapOpt = typer.Option(None, "--map", help="COLUMN=FIELD (repeatable); COLUMN= skips the column.")
EncodingOpt = typer.Option(
    None, "--encoding", help="Text encoding when not UTF-8, e.g. cp1256 (Arabic Windows)."
)


def _mapping(mapping_file: Path | None, pairs: list[str] | None) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    if mapping_file is not None:
        try:
            loaded = json.loads(mapping_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise fail(f"cannot read mapping file {mapping_file}: {exc}") from None
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in loaded.items()
        ):
            raise fail(f'{mapping_file} must be a JSON object {{"column": "field" or null}}')
        result.update(loaded)
    for pair in pairs or []:
        column, equals, target = pair.partition("=")
        if not equals or not column.strip():
            raise fail(f"--map {pair!r}: write COLUMN=FIELD, or COLUMN= to skip a column")
        result[column.strip()] = target.strip() or None
    return result


def _print_errors(errors: list[RowError], total: int) -> None:
    for error in errors[:SHOWN_ERRORS]:
        err_console.print(f"  {error.describe()}", highlight=False, markup=False, soft_wrap=True)
    if total > SHOWN_ERRORS:
        err_console.print(f"  … and {total - SHOWN_ERRORS} more", highlight=False)


def _check_skip(skip_invalid: bool, errors: Path | None) -> None:
    if skip_invalid and errors is None:
        raise fail("--skip-invalid needs --errors FILE to keep the rejected rows")
    if errors is not None and not skip_invalid:
        raise fail("--errors is only used with --skip-invalid")


@contextmanager
def _unit_of_work(dry_run: bool) -> Iterator[Session]:
    """One transaction: committed unless this is a dry run or something failed."""
    from wafa.core.db import session_factory

    session = session_factory(load_settings())()
    try:
        yield session
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def _refusals() -> Iterator[None]:
    from wafa.orders.importing.errors import FileRefused, ImportRejected

    try:
        yield
    except ImportRejected as exc:
        err_console.print(f"[red]error:[/] {exc.detail}", highlight=False, soft_wrap=True)
        _print_errors(exc.row_errors, exc.total)
        raise typer.Exit(1) from None
    except FileRefused as exc:
        err_console.print(f"[red]error:[/] {exc.detail}", highlight=False, soft_wrap=True)
        _print_errors(exc.row_errors, len(exc.row_errors))
        raise typer.Exit(1) from None


def _summary(title: str, figures: dict[str, Any], dry_run: bool) -> None:
    head = f"{title} (dry run: nothing was written)" if dry_run else title
    console.print(f"[bold]{head}[/]", soft_wrap=True)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        console.print(f"  {key:<{width}}  {value}", highlight=False, soft_wrap=True)


@contextmanager
def _progress_bar() -> Iterator[ProgressFn | None]:
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description:<8}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        yield update


@import_app.command("orders")
@handle_errors
def orders(
    file: Path = FileArg,
    fmt: Format = FormatOpt,
    dry_run: bool = DryRunOpt,
    skip_invalid: bool = SkipOpt,
    errors: Path = ErrorsOpt,
    source: str = SourceOpt,
    mapping: Path = MappingOpt,
    map_: list[str] = MapOpt,
    encoding: str = EncodingOpt,
) -> None:
    """Import orders (Shopify, WooCommerce or generic CSV); all or nothing by default."""
    from wafa.orders.importing.pipeline import import_orders

    _check_skip(skip_invalid, errors)
    settings = load_shop_settings()
    columns = _mapping(mapping, map_)
    with _refusals(), _progress_bar() as progress, _unit_of_work(dry_run) as session:
        report = import_orders(
            session,
            file,
            fmt=fmt.value,
            settings=settings,
            source=source,
            mapping=columns,
            encoding=encoding,
            skip_invalid=skip_invalid,
            errors_path=errors,
            dry_run=dry_run,
            progress=progress,
        )
    rate = report.lines / report.seconds if report.seconds else 0
    _summary(
        f"Imported {file.name} ({report.format}, source {report.source!r})",
        report.summary(),
        dry_run,
    )
    console.print(f"  {report.seconds:.1f} s, {rate:,.0f} lines/s", highlight=False)
    if report.error_count:
        err_console.print(
            f"[yellow]warning:[/] {report.rows_rejected} row(s) rejected; see {errors}",
            highlight=False,
        )


@import_app.command("customers")
@handle_errors
def customers(
    file: Path = FileArg,
    fmt: Format = FormatOpt,
    dry_run: bool = DryRunOpt,
    skip_invalid: bool = SkipOpt,
    errors: Path = ErrorsOpt,
    source: str = SourceOpt,
    mapping: Path = MappingOpt,
    map_: list[str] = MapOpt,
    encoding: str = EncodingOpt,
) -> None:
    """Import customers (generic, Shopify's Customers export, or WooCommerce's)."""
    from wafa.orders.importing.customers import import_customers

    _check_skip(skip_invalid, errors)
    settings = load_shop_settings()
    columns = _mapping(mapping, map_)
    with _refusals(), _unit_of_work(dry_run) as session:
        report = import_customers(
            session,
            file,
            fmt=fmt.value,
            settings=settings,
            source=source,
            mapping=columns,
            encoding=encoding,
            skip_invalid=skip_invalid,
            errors_path=errors,
        )
    _summary(f"Imported {file.name}", report.summary(), dry_run)
    if report.rejected:
        err_console.print(f"[yellow]warning:[/] {report.rejected} row(s) rejected; see {errors}")


@import_app.command("products")
@handle_errors
def products(
    file: Path = FileArg,
    fmt: Format = FormatOpt,
    dry_run: bool = DryRunOpt,
    skip_invalid: bool = SkipOpt,
    errors: Path = ErrorsOpt,
    mapping: Path = MappingOpt,
    map_: list[str] = MapOpt,
    encoding: str = EncodingOpt,
) -> None:
    """Import products (generic, Shopify's or WooCommerce's Products export), keyed by sku."""
    from wafa.orders.importing.products import import_products

    _check_skip(skip_invalid, errors)
    settings = load_shop_settings()
    columns = _mapping(mapping, map_)
    with _refusals(), _unit_of_work(dry_run) as session:
        report = import_products(
            session,
            file,
            fmt=fmt.value,
            settings=settings,
            mapping=columns,
            encoding=encoding,
            skip_invalid=skip_invalid,
            errors_path=errors,
        )
    _summary(f"Imported {file.name}", report.summary(), dry_run)
    if report.rejected:
        err_console.print(f"[yellow]warning:[/] {report.rejected} row(s) rejected; see {errors}")


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
