"""Read an order export straight into DuckDB for ``wafa analyze`` (no database needed).

The formats are the importer's: ``generic``, ``shopify`` and ``woocommerce``, described
once in ``wafa.ingest`` (which column plays which role, what each status word means,
where refunds are written). The SQL here is generated from those descriptions
(``generic`` and ``shop``; the status words through ``words``), and whether an order is
a purchase is ``orders.sales``' rule: an order counts to ``wafa analyze`` exactly when it
is a sale once imported by ``wafa import orders`` (the parity tests hold the two to the
same files). A word the importer refuses is refused here, with the importer's message.

Each format becomes the same two DuckDB tables in the given connection:

``wafa_orders``
    one row per order: ``customer_id``, ``order_id``, ``day`` (the local calendar day,
    as days since 1970-01-01), ``gross`` and ``net`` (integer minor units, ``net`` after
    refunds), ``purchase`` (whether it counts as a purchase), ``promised_at`` and
    ``delivered_at`` (when the file carries them).
``wafa_items``
    one row per order line with a product code: ``customer_id``, ``order_id``, ``sku``,
    ``quantity`` (only when the file names products).

What the analyzer needs beyond the importer: each order's ``total`` (its value; the
analyzer does not rebuild it from the lines) and who bought. Orders in a currency other
than the one analysed (by default the file's most common) and guests' orders (no email,
phone or customer id) are counted and left out. In a generic file a negative ``total``
row is a refund line of its order.

Every error names the line and the column (line 1 is the header).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from wafa.analytics.choices import InputFormat
from wafa.analytics.reading.files import BadInput, read_header
from wafa.analytics.reading.generic import load_generic
from wafa.analytics.reading.result import LoadedOrders
from wafa.analytics.reading.shop import load_shop
from wafa.analytics.reading.words import literal
from wafa.ingest import order_format

__all__ = ["BadInput", "InputFormat", "LoadedOrders", "connect", "load_orders"]


def connect() -> duckdb.DuckDBPyConnection:
    """Open the in-memory DuckDB connection ``wafa analyze`` works in.

    It runs one thread more than DuckDB's default (the machine's cores): reading a big
    export and building its hash tables, DuckDB's threads often wait on memory being
    mapped, and an extra one keeps the cores busy (on two cores the summary step of 4.9
    million orders took 2.4 s instead of 2.8 s). DuckDB's own progress bar is off: the
    command reports its steps itself, and ``--quiet`` means quiet.
    """
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    threads = con.execute("SELECT current_setting('threads')").fetchone()
    con.execute(f"SET threads = {int(threads[0]) + 1 if threads else 2}")
    return con


def _drop_relations(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> None:
    """Drop what an earlier load left in ``con`` (a table or a view, by name)."""
    for name in names:
        for kind in ("VIEW", "TABLE"):
            try:
                con.execute(f"DROP {kind} IF EXISTS {name}")
            except duckdb.CatalogException:  # the name is the other kind
                continue


def load_orders(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    fmt: InputFormat = InputFormat.generic,
    timezone: str = "UTC",
    currency: str | None = None,
    default_currency: str = "USD",
    items: bool = True,
) -> LoadedOrders:
    """Read an order export into ``wafa_orders`` and ``wafa_items`` in ``con``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection to load into (its ``TimeZone`` is set to ``timezone``).
    path : pathlib.Path
        The CSV export.
    fmt : InputFormat
        Layout of the file (see the module docstring).
    timezone : str
        IANA zone in which times without an offset are read and in which calendar days
        are counted.
    currency : str or None
        Currency to analyse; by default the most common one in the file, or
        ``default_currency`` when the file names none.
    default_currency : str
        Currency of a file that carries no currency column.
    items : bool
        Collect the products of each order (for recommendations); without it, a
        generic file is summarised in one lighter pass.

    Returns
    -------
    LoadedOrders
        Counts and facts about what was read.

    Raises
    ------
    BadInput
        With the line and column of the first problems when the file cannot be read.
    """
    header = read_header(path)
    con.execute(f"SET TimeZone = {literal(timezone)}")
    # Every later query that needs an order says so (ORDER BY): tables are built faster
    # when DuckDB may keep the rows in whatever order its threads produce them.
    con.execute("SET preserve_insertion_order = false")
    _drop_relations(con, ("wafa_orders", "wafa_items", "wafa_order_rows"))
    try:
        if fmt is InputFormat.generic:
            return load_generic(
                con,
                path,
                header,
                currency=currency,
                default_currency=default_currency,
                zone=timezone,
                items=items,
            )
        return load_shop(
            con,
            path,
            header,
            order_format(fmt.value),
            currency=currency,
            default_currency=default_currency,
        )
    except duckdb.Error as exc:
        # Whatever DuckDB still refuses (a broken quote at the end of the file, ...).
        message = str(exc).splitlines()[0]
        raise BadInput(f"{path.name}: the file cannot be read as CSV: {message}") from None
