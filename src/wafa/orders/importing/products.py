"""Product imports: the generic product format, Shopify's and WooCommerce's Products exports.

Products are keyed by sku: a new sku is created, a known one gets the name, category
and price of the file when they differ (so a re-import changes nothing).

Generic fields: ``sku`` and ``name`` (required), ``category``, ``price`` (decimal in
``currency``, default the business currency), ``currency``, ``repeatable`` (yes/no: no
for one-off items such as machines, which are then not recommended again), ``active``.

Shopify's export (one row per variant, the product's ``Title`` on its first row only):
``Handle`` groups the rows, ``Title`` (plus ``Option1 Value`` for a variant other than
"Default Title") is the name, ``Variant SKU`` the sku (rows without one, such as extra
image rows, are skipped), ``Variant Price`` the price, ``Type`` (else
``Product Category``) the category, ``Status`` ``archived``/``draft`` makes it inactive.
Other columns are ignored.

WooCommerce's export (Products > Export, one row per product and per variation, English
column names): ``SKU``, ``Name``, ``Regular price`` (the price; a temporary ``Sale
price`` is not), the first of ``Categories`` (``Coffee > Beans, Sale``: the last level,
``Beans``; a variation takes its ``Parent``'s), ``Published`` (``1`` is active, ``0``
draft and ``-1`` private are inactive). Variable and grouped products are containers,
not sold themselves: their variations and children are imported instead. Rows without
a SKU are skipped (orders can only name a product by SKU) and counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from wafa.core.settings import Settings
from wafa.ingest.values import CellProblem, amount, currency_code, optional_yes_no
from wafa.orders import service as orders
from wafa.orders.importing.base import Table
from wafa.orders.importing.errors import (
    FileRefused,
    ImportRejected,
    RowError,
    write_errors,
)
from wafa.orders.importing.readers import CsvSource
from wafa.orders.models import Product
from wafa.orders.schemas import ProductCreate, ProductUpdate

GENERIC_FIELDS = ("sku", "name", "category", "price", "currency", "repeatable", "active")
SHOPIFY_COLUMNS = (
    "Handle", "Title", "Option1 Value", "Variant SKU", "Variant Price", "Type",
    "Product Category", "Status",
)  # fmt: skip
WOOCOMMERCE_COLUMNS = (
    "ID", "Type", "SKU", "Name", "Published", "Regular price", "Categories", "Parent",
)  # fmt: skip
# Categories are separated by commas; a comma inside a name is written "\,".
_CATEGORY_SPLIT = re.compile(r"(?<!\\),")


@dataclass
class ProductRow:
    """One validated product."""

    line: int
    sku: str
    name: str
    category: str | None
    price: int
    currency: str
    repeatable: bool | None
    active: bool | None


@dataclass
class ProductReport:
    """What a product import found and did."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """The figures, for printing."""
        return {
            "rows": self.rows,
            "products created": self.created,
            "products updated": self.updated,
            "products unchanged": self.unchanged,
            "rows skipped (no SKU, or not sold themselves)": self.skipped,
            "rejected rows": self.rejected,
        }


def import_products(
    session: Session,
    path: Path,
    *,
    fmt: str,
    settings: Settings,
    mapping: Mapping[str, str | None] | None = None,
    encoding: str | None = None,
    skip_invalid: bool = False,
    errors_path: Path | None = None,
) -> ProductReport:
    """Import products into ``session`` (the caller commits); all rows are checked first."""
    if fmt not in ("generic", "shopify", "woocommerce"):
        raise FileRefused(
            f"products can be imported from generic, shopify or woocommerce, not {fmt!r}"
        )
    report = ProductReport()
    csv_source = CsvSource(path, encoding=encoding)
    records = csv_source.records()
    header = next(records, None)
    if header is None:
        raise FileRefused("the file is empty: no header line")
    shopify, woo = fmt == "shopify", fmt == "woocommerce"
    sku_column = "Variant SKU" if shopify else "SKU" if woo else "sku"
    name_column = "Title" if shopify else "Name" if woo else "name"
    if shopify:
        table = Table(header, fmt="shopify products", columns=SHOPIFY_COLUMNS, required=("Handle", "Variant SKU"), mapping=mapping, strict=False)  # fmt: skip
    elif woo:
        table = Table(header, fmt="woocommerce products", columns=WOOCOMMERCE_COLUMNS, required=("SKU", "Name", "Regular price"), mapping=mapping, strict=False)  # fmt: skip
    else:
        table = Table(header, fmt="generic products", columns=GENERIC_FIELDS, required=("sku", "name"), mapping=mapping)  # fmt: skip
    woo_categories: dict[str, str | None] = {}
    rows: dict[str, ProductRow] = {}
    errors: list[RowError] = []
    titles: dict[str, str] = {}
    for record in records:
        report.rows += 1
        problem = table.width_error(record)
        if problem is not None:
            errors.append(problem)
            continue
        get = table.getter(record.values)
        try:
            if woo:
                read = _woocommerce_row(get, table.col, settings.currency, woo_categories)
                if read is None:
                    report.skipped += 1
                    continue
                sku, name, category, price, active = read
                currency, repeatable = settings.currency, None
            elif shopify:
                handle = get("Handle").strip()
                title = get("Title").strip() or titles.get(handle, "")
                titles.setdefault(handle, title)
                sku = get("Variant SKU").strip()
                if not sku:
                    report.skipped += 1
                    continue
                option = get("Option1 Value").strip()
                name = f"{title} - {option}" if option and option != "Default Title" else title
                category = get("Type").strip() or get("Product Category").strip() or None
                currency = settings.currency
                price = amount(get("Variant Price"), table.col("Variant Price"), currency)
                status = get("Status").strip().lower()
                active = None if not status else status == "active"
                repeatable = None
            else:
                sku, name = get("sku").strip(), get("name").strip()
                category = get("category").strip() or None
                currency = (
                    currency_code(get("currency"), table.col("currency"))
                    if get("currency").strip()
                    else settings.currency
                )
                price = amount(get("price"), table.col("price"), currency)
                repeatable = optional_yes_no(get("repeatable"), table.col("repeatable"))
                active = optional_yes_no(get("active"), table.col("active"))
            if not sku:
                raise CellProblem(table.col("sku"), "is empty")
            if not name:
                raise CellProblem(table.col(name_column), "is empty")
            if len(sku) > 64:
                raise CellProblem(table.col(sku_column), "is longer than 64 characters")
            if sku in rows:
                raise CellProblem(
                    table.col(sku_column), f"sku {sku!r} already appears on line {rows[sku].line}"
                )
        except CellProblem as exc:
            errors.append(RowError(record.line, exc.column, exc.reason, record.raw))
            continue
        rows[sku] = ProductRow(
            record.line,
            sku,
            name[:300],
            category and category[:120],
            price,
            currency,
            repeatable,
            active,
        )
    errors.extend(csv_source.errors)
    report.errors = sorted(errors, key=lambda e: e.line)
    report.rejected = len(errors)
    if errors and not skip_invalid:
        raise ImportRejected(
            f"{len(errors)} problem(s) in {path.name}; nothing was imported",
            report.errors,
            len(errors),
        )
    if errors_path is not None and skip_invalid:
        write_errors(errors_path, report.errors)
    existing = (
        {p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_(list(rows))))}
        if rows
        else {}
    )
    for sku, row in rows.items():
        product = existing.get(sku)
        if product is None:
            orders.create_product(
                session,
                data=ProductCreate(sku=sku, name=row.name, category=row.category, price=row.price,
                                   currency=row.currency, repeatable=True if row.repeatable is None else row.repeatable,
                                   active=True if row.active is None else row.active),
                default_currency=settings.currency,
            )  # fmt: skip
            report.created += 1
            continue
        changes: dict[str, object] = {}
        for name, current, new in (
            ("name", product.name, row.name),
            ("category", product.category, row.category),
            ("price", product.price_amount, row.price),
            ("repeatable", product.repeatable, row.repeatable),
            ("active", product.active, row.active),
        ):
            if new is not None and new != current:
                changes[name] = new
        if changes:
            orders.update_product(session, product_id=product.id, data=ProductUpdate(**changes))
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    return report


def _woocommerce_row(
    get: Callable[[str], str],
    col: Callable[[str], str],
    currency: str,
    categories: dict[str, str | None],
) -> tuple[str, str, str | None, int, bool | None] | None:
    """Read one row of WooCommerce's export: sku, name, category, price and whether it is
    published; None for a row that is not a product sold by SKU.

    ``categories`` remembers each row's category under ``id:ID`` and its SKU, for the
    variations that follow their parent (``Parent`` names it either way).
    """
    kinds = {k.strip().lower() for k in get("Type").split(",")}
    sku = get("SKU").strip()
    first = next((c for c in _CATEGORY_SPLIT.split(get("Categories")) if c.strip()), "")
    category = first.split(">")[-1].replace("\\,", ",").strip() or None
    parent = get("Parent").strip()
    if category is None and parent:
        category = categories.get(parent)
    if get("ID").strip():
        categories[f"id:{get('ID').strip()}"] = category
    if sku:
        categories[sku] = category
    if not sku or kinds & {"variable", "grouped"}:
        return None
    price = amount(get("Regular price"), col("Regular price"), currency, allow_blank=False)
    published = get("Published").strip()
    active = None if not published else published == "1"
    return sku, get("Name").strip(), category and category[:120], price, active
