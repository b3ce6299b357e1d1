"""What customers bought: product pairs, favourites, "also bought", recommendations.

The refresh reads every (customer, product) pair once (:func:`product_pairs`), derives each
customer's favourite product and category (:func:`favourites`), evaluates the
recommender (:func:`wafa.analytics.recommend.evaluate_and_fit`) and stores each
product's nearest neighbours (:func:`store_neighbours`); :func:`recommendations_for` and
:func:`also_bought` read them (the read side re-exports both from
:mod:`wafa.analytics.service`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sqlalchemy import BigInteger, Float, cast, delete, func, insert, select
from sqlalchemy.orm import Session

from wafa.analytics.recommend import evaluate_and_fit
from wafa.analytics.schemas import AlsoBought, ProductRecommendation
from wafa.analytics.sqlfetch import UUID, KeyIndex, fetch_arrays, uuid_keys
from wafa.analytics.summary import CustomerSummary, day_to_date, purchases_filter
from wafa.analytics.tables import AnalyticsRun, ProductNeighbour, RunStatus
from wafa.core.calendars import start_of_day
from wafa.core.db import dialect_name
from wafa.core.errors import NotFound
from wafa.orders.models import Order, OrderLine, Product
from wafa.orders.sales import sold

__all__ = [
    "NEIGHBOURS",
    "POPULAR",
    "ProductPairs",
    "favourites",
    "product_pairs",
    "store_neighbours",
]

#: Neighbours stored per product (the same number the evaluation uses).
NEIGHBOURS = 20
#: Popular products remembered per run, for recommendations when history says little.
POPULAR = 50
#: Rows per INSERT batch.
BATCH = 5_000


@dataclass
class ProductPairs:
    """Customer-product pairs of the refresh, as codes."""

    ids: npt.NDArray[Any]
    categories: list[str | None]
    repeatable: npt.NDArray[np.bool_]
    available: npt.NDArray[np.bool_]
    customers: npt.NDArray[np.int64]
    items: npt.NDArray[np.int64]
    quantity: npt.NDArray[np.int64]
    in_train: npt.NDArray[np.bool_]
    in_last: npt.NDArray[np.bool_]


def _epoch_seconds(session: Session, instant: Any) -> Any:
    """Return SQL for an instant as seconds since 1970 (a float)."""
    if dialect_name(session) == "postgresql":
        return cast(func.extract("epoch", instant), Float)
    return cast((func.julianday(instant) - 2440587.5) * 86400.0, Float)


def product_pairs(
    session: Session,
    summary: CustomerSummary,
    index: KeyIndex,
    *,
    zone: str,
    currency: str,
) -> ProductPairs:
    """Distinct (customer, product) pairs with quantities and holdout flags.

    A pair is *training* history when bought before the customer's last purchase day
    (or the customer has bought only once), and *held out* when bought on the last day
    of a customer with two purchase days or more.
    """
    # Compared as instants (seconds since 1970): no timezone conversion per order line.
    zone_info = ZoneInfo(zone)
    end = start_of_day(day_to_date(summary.as_of_day + 1), zone_info)
    qty = OrderLine.quantity - OrderLine.refunded_quantity
    stmt = (
        select(
            Order.customer_id,
            OrderLine.product_id,
            _epoch_seconds(session, func.min(Order.placed_at)),
            _epoch_seconds(session, func.max(Order.placed_at)),
            cast(func.sum(qty), BigInteger),
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(
            purchases_filter(currency),
            OrderLine.product_id.is_not(None),
            qty > 0,
            Order.placed_at < end,
        )
        .group_by(Order.customer_id, OrderLine.product_id)
    )
    data = fetch_arrays(
        session,
        stmt,
        [
            ("customer_id", UUID),
            ("product_id", UUID),
            ("first", "float8"),
            ("last", "float8"),
            ("quantity", "int8"),
        ],
    )
    products = session.execute(
        select(Product.id, Product.category, Product.repeatable, Product.active).order_by(
            Product.id
        )
    ).all()
    ids = np.array([row[0].bytes for row in products], dtype="V16").reshape(len(products))
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    rows = [products[i] for i in order.tolist()]
    customers = index.find(data["customer_id"])
    items = KeyIndex(ids).find(data["product_id"])
    keep = (customers >= 0) & (items >= 0)
    customers, items = customers[keep], items[keep]
    first, last = data["first"][keep], data["last"][keep]
    # The instant the customer's last purchase day began, in the business's zone.
    days, inverse = np.unique(summary.last_day, return_inverse=True)
    day_start = np.array(
        [start_of_day(day_to_date(int(d)), zone_info).timestamp() for d in days.tolist()]
    )[inverse]
    last_start = day_start[customers]
    repeat = summary.purchases[customers] > 1
    return ProductPairs(
        ids=ids,
        categories=[row[1] for row in rows],
        repeatable=np.array([bool(row[2]) for row in rows], dtype=bool),
        available=np.array([bool(row[3]) for row in rows], dtype=bool),
        customers=customers,
        items=items,
        quantity=data["quantity"][keep],
        in_train=(first < last_start) | ~repeat,
        in_last=(last >= last_start) & repeat,
    )


def favourites(
    pairs: ProductPairs, n_customers: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[str]]:
    """Each customer's most bought product and category (ties by code), or -1.

    Returns
    -------
    tuple
        Product code per customer, category code per customer, category names.
    """
    product = np.full(n_customers, -1, dtype=np.int64)
    category = np.full(n_customers, -1, dtype=np.int64)
    names = sorted({c for c in pairs.categories if c})
    if pairs.customers.size == 0:
        return product, category, names
    order = np.lexsort((pairs.items, -pairs.quantity, pairs.customers))
    c_sorted = pairs.customers[order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = c_sorted[1:] != c_sorted[:-1]
    product[c_sorted[first]] = pairs.items[order][first]
    if names:
        code = {name: i for i, name in enumerate(names)}
        item_category = np.array(
            [code.get(c, -1) if c else -1 for c in pairs.categories], dtype=np.int64
        )
        cats = item_category[pairs.items]
        has = cats >= 0
        if np.any(has):
            matrix = sparse.csr_matrix(
                (pairs.quantity[has].astype(np.float64), (pairs.customers[has], cats[has])),
                shape=(n_customers, len(names)),
            )
            with_any = np.diff(matrix.indptr) > 0
            best = np.asarray(matrix.argmax(axis=1)).ravel()
            category[with_any] = best[with_any]
    return product, category, names


def store_neighbours(
    session: Session, run: AnalyticsRun, pairs: ProductPairs, n_customers: int
) -> dict[str, Any] | None:
    """Evaluate the recommender, store "also bought" lists, return the run's figures."""
    session.execute(delete(ProductNeighbour))
    n_items = int(pairs.ids.shape[0])
    if pairs.customers.size == 0 or n_items < 2:
        return None
    quality, model = evaluate_and_fit(
        pairs.customers,
        pairs.items,
        pairs.in_train,
        pairs.in_last,
        n_customers=n_customers,
        n_items=n_items,
        repeatable=pairs.repeatable,
        n_neighbours=NEIGHBOURS,
    )
    product_ids = uuid_keys(pairs.ids)
    rows: list[dict[str, Any]] = []
    for item in np.flatnonzero(model.popularity_ > 0).tolist():
        for rank, (neighbour, score, both) in enumerate(model.also_bought(item, NEIGHBOURS), 1):
            rows.append(
                {
                    "product_id": product_ids[item],
                    "neighbour_id": product_ids[neighbour],
                    "rank": rank,
                    "score": float(score),
                    "customers_both": int(both),
                    "run_id": run.id,
                }
            )
    for start in range(0, len(rows), BATCH):
        session.execute(insert(ProductNeighbour), rows[start : start + BATCH])
    popular = [
        int(i)
        for i in np.argsort(-model.popularity_, kind="stable")
        if model.popularity_[i] > 0 and pairs.available[i]
    ][:POPULAR]
    return {
        "products": n_items,
        "evaluation": quality.to_dict(),
        "popular_product_ids": [str(product_ids[i]) for i in popular],
        "popular_customers": [int(model.popularity_[i]) for i in popular],
    }


def recommendations_for(
    session: Session, customer_id: uuid.UUID, *, n: int = 10
) -> list[ProductRecommendation]:
    """Recommend products to a customer from the stored "also bought" lists.

    Scores are the summed similarities of each candidate to what the customer bought
    (the model the refresh evaluated), computed on the customer's current history, so
    a purchase made since the refresh counts. A non-repeatable product the customer
    already owns, and inactive products, are never recommended; the most popular
    products fill the list when the history says too little.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Database session.
    customer_id : uuid.UUID
        The customer.
    n : int
        How many products.

    Returns
    -------
    list of ProductRecommendation
        ``product_id``, ``sku``, ``name``, ``category``, ``price``, ``currency``,
        ``score`` and ``reason`` (``bought_together`` or ``popular``).
    """
    owned = set(
        session.scalars(
            select(OrderLine.product_id)
            .join(Order, Order.id == OrderLine.order_id)
            .where(
                Order.customer_id == customer_id,
                sold(),
                OrderLine.product_id.is_not(None),
                OrderLine.quantity > OrderLine.refunded_quantity,
            )
            .distinct()
        )
    )
    scores: dict[uuid.UUID, float] = defaultdict(float)
    if owned:
        for neighbour_id, score in session.execute(
            select(ProductNeighbour.neighbour_id, ProductNeighbour.score).where(
                ProductNeighbour.product_id.in_(owned)
            )
        ):
            scores[neighbour_id] += float(score)
    details = session.scalar(
        select(AnalyticsRun.details)
        .where(AnalyticsRun.status == RunStatus.succeeded)
        .order_by(AnalyticsRun.started_at.desc(), AnalyticsRun.id.desc())
        .limit(1)
    )
    popular = [
        uuid.UUID(p)
        for p in ((details or {}).get("recommendations") or {}).get("popular_product_ids", [])
    ]
    candidates = set(scores) | set(popular) | owned
    if not candidates:
        return []
    info = {
        row.id: row
        for row in session.execute(
            select(
                Product.id,
                Product.sku,
                Product.name,
                Product.category,
                Product.price_amount,
                Product.currency,
                Product.repeatable,
                Product.active,
            ).where(Product.id.in_(candidates))
        )
    }

    def allowed(pid: uuid.UUID) -> bool:
        row = info.get(pid)
        return row is not None and bool(row.active) and (pid not in owned or bool(row.repeatable))

    ranked = sorted((pid for pid in scores if allowed(pid)), key=lambda p: (-scores[p], str(p)))
    out: list[ProductRecommendation] = []
    for pid in ranked[:n]:
        out.append(_product(info[pid], scores[pid], "bought_together"))
    taken = set(ranked[:n])
    for pid in popular:
        if len(out) >= n:
            break
        if pid not in taken and allowed(pid):
            out.append(_product(info[pid], 0.0, "popular"))
            taken.add(pid)
    return out


def _product(row: Any, score: float, reason: str) -> ProductRecommendation:
    return ProductRecommendation(
        product_id=row.id,
        sku=row.sku,
        name=row.name,
        category=row.category,
        price=row.price_amount,
        currency=row.currency,
        score=round(score, 6),
        reason=reason,
    )


def also_bought(session: Session, product_id: uuid.UUID, *, n: int = 10) -> list[AlsoBought]:
    """Return "customers who bought this also bought" for a product, most similar first.

    Raises
    ------
    NotFound
        When there is no such product.
    """
    if session.get(Product, product_id) is None:
        raise NotFound(f"product {product_id} not found")
    rows = session.execute(
        select(ProductNeighbour, Product)
        .join(Product, Product.id == ProductNeighbour.neighbour_id)
        .where(ProductNeighbour.product_id == product_id, Product.active.is_(True))
        .order_by(ProductNeighbour.rank)
        .limit(n)
    ).all()
    return [
        AlsoBought(
            product_id=product.id,
            sku=product.sku,
            name=product.name,
            category=product.category,
            similarity=neighbour.score,
            customers_both=neighbour.customers_both,
        )
        for neighbour, product in rows
    ]
