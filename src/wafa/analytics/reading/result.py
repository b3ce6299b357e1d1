"""What a reader leaves in DuckDB, counted: ``LoadedOrders``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from wafa.analytics.reading.files import BadInput


@dataclass(frozen=True)
class LoadedOrders:
    """What was read: counts for the report and the facts later steps need.

    Attributes
    ----------
    currency : str
        ISO 4217 code of the amounts analysed (minor units follow it).
    rows : int
        Data rows read (lines after the header, records spanning lines counted once).
    orders : int
        Distinct orders in the analysed currency.
    purchases : int
        Orders that count as purchases.
    cancelled, refunded, partially_refunded : int
        Orders cancelled or voided, fully refunded, partly refunded.
    other_currency_orders : int
        Orders left out because they are in another currency.
    guest_orders : int
        Orders without a customer (Shopify/WooCommerce guests) left out.
    has_items : bool
        Whether ``wafa_items`` holds product codes.
    has_delivery : bool
        Whether promised and delivered times are present.
    first_day, last_day : int
        First and last purchase day (days since 1970-01-01).
    warnings : list of str
        Plain-language notes for the report.
    """

    currency: str
    rows: int
    orders: int
    purchases: int
    cancelled: int
    refunded: int
    partially_refunded: int
    other_currency_orders: int
    guest_orders: int
    has_items: bool
    has_delivery: bool
    first_day: int
    last_day: int
    warnings: list[str] = field(default_factory=list)


def finish(
    con: duckdb.DuckDBPyConnection,
    currency: str,
    rows: int,
    other_currency: int,
    guests: int,
    has_items: bool,
    has_delivery: bool,
    path: Path,
) -> LoadedOrders:
    """Count what was read, add the warnings, and refuse a file with no purchase."""
    counts = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE purchase), count(*) FILTER (WHERE voided), "
        "count(*) FILTER (WHERE refunded_fully AND NOT voided), "
        "count(*) FILTER (WHERE refunded_partly AND purchase), "
        "min(day) FILTER (WHERE purchase), max(day) FILTER (WHERE purchase) FROM wafa_orders"
    ).fetchone()
    assert counts is not None
    orders, purchases, cancelled, refunded, partly = (int(v) for v in counts[:5])
    first_day, last_day = (int(v) if v is not None else 0 for v in counts[5:])
    if not has_items:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE wafa_items (customer_id VARCHAR, order_id VARCHAR, "
            "sku VARCHAR, quantity BIGINT)"
        )
    warnings: list[str] = []
    if other_currency:
        warnings.append(
            f"{other_currency} order{'s' if other_currency != 1 else ''} in currencies other "
            f"than {currency} were left out (amounts in different currencies cannot be added)."
        )
    if guests:
        warnings.append(
            f"{guests} order{'s' if guests != 1 else ''} without an email or phone (guest "
            "checkouts) were left out: they cannot be tied to a returning customer."
        )
    if purchases == 0:
        raise BadInput(
            f"{path.name}: no order counts as a purchase (all {orders} are cancelled, refunded "
            "or in another currency); nothing to analyse"
        )
    return LoadedOrders(
        currency=currency,
        rows=rows,
        orders=orders,
        purchases=purchases,
        cancelled=cancelled,
        refunded=refunded,
        partially_refunded=partly,
        other_currency_orders=other_currency,
        guest_orders=guests,
        has_items=has_items,
        has_delivery=has_delivery,
        first_day=first_day,
        last_day=last_day,
        warnings=warnings,
    )
