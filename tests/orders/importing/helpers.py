"""Shared helpers for the import tests: fixture variants and row counts."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from wafa.app.models import metadata

DATA = Path(__file__).resolve().parents[2] / "data" / "imports"
SHOPIFY = DATA / "shopify_orders.csv"
# The first physical line of each record of shopify_orders.csv (record 1 spans 2-3).
SHOPIFY_LINES = {1: 2, 2: 4, 3: 5, 4: 6, 5: 7, 6: 8, 7: 9, 8: 10, 9: 11, 10: 12}


def table_counts(session: Session) -> dict[str, int]:
    """Rows in every table, to prove an import changed nothing."""
    session.flush()
    present = set(inspect(session.connection()).get_table_names())
    return {
        table.name: int(session.execute(select(func.count()).select_from(table)).scalar_one())
        for table in metadata.sorted_tables
        if table.name in present
    }


def variant(
    tmp_path: Path,
    edits: dict[tuple[int, str], str] | None = None,
    *,
    source: Path = SHOPIFY,
    header: dict[str, str] | None = None,
    name: str = "orders.csv",
    shop_ids: bool = True,
) -> Path:
    """A copy of a fixture with some cells (record index, column) or header cells changed.

    Without ``shop_ids`` Shopify's ``Id`` cells are blank: the same file imported under two
    sources is then two sets of orders (with them it is one: ``Order.shop_ref``).
    """
    with source.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    columns = rows[0]
    if not shop_ids and "Id" in columns:
        for row in rows[1:]:
            row[columns.index("Id")] = ""
    for (index, column), value in (edits or {}).items():
        rows[index][columns.index(column)] = value
    for old, new in (header or {}).items():
        rows[0][columns.index(old)] = new
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path
