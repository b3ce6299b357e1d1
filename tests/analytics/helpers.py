"""Shared helpers for the analytics tests: the CDNOW file as a generic CSV, CSV writing."""

from __future__ import annotations

import csv
import datetime as dt
import random
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.analytics.models.cdnow import SAMPLE_FILE
from tests.factories import create_order
from wafa.analytics.summary import RFMArrays
from wafa.orders import service as orders
from wafa.orders.models import Order, Product
from wafa.orders.schemas import RefundCreate

CDNOW_SAMPLE = SAMPLE_FILE

needs_cdnow = pytest.mark.skipif(
    not CDNOW_SAMPLE.is_file(),
    reason=f"CDNOW data not found at {SAMPLE_FILE} (or set WAFA_SHARED_DATA)",
)


def cdnow_generic_csv(target: Path) -> Path:
    """Write CDNOW_sample.txt as a generic order CSV (one row per purchase record)."""
    with CDNOW_SAMPLE.open() as src, target.open("w", newline="") as dst:
        out = csv.writer(dst)
        out.writerow(["customer_id", "order_id", "placed_at", "total", "quantity"])
        for n, line in enumerate(src):
            fields = line.split()
            if not fields:
                continue
            ymd = fields[2]
            out.writerow(
                [fields[1], f"o{n}", f"{ymd[:4]}-{ymd[4:6]}-{ymd[6:]}", fields[4], fields[3]]
            )
    return target


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        for row in rows:
            out.writerow(["" if v is None else v for v in row])
    return path


# --------------------------------------------------------------------------- a small shop

SKUS = {
    "TEA": ("Green tea", "Drinks", 450),
    "COF": ("Coffee beans", "Drinks", 1200),
    "CUP": ("Mug", "Kitchen", 900),
    "BIS": ("Biscuits", "Food", 300),
    "CAK": ("Cake", "Food", 1500),
    "KET": ("Kettle", "Kitchen", 4500),
}


def build_shop(
    session: Session,
    *,
    customers: int = 40,
    seed: int = 7,
    start: dt.datetime = dt.datetime(2025, 1, 5, 9, 30, tzinfo=dt.UTC),
    days: int = 400,
) -> list[uuid.UUID]:
    """Create a small shop's history through the real services; return the order ids.

    Customers buy on a personal rhythm (some once, some often), on varied channels and
    hours (some late in the evening UTC, so the business timezone moves their day),
    with refunds (partial and full), a cancellation and an order in another currency.
    The kettle is set non-repeatable.
    """
    rng = random.Random(seed)
    ids: list[uuid.UUID] = []
    n = 0
    for c in range(customers):
        email = f"shopper{seed}-{c}@example.com"
        first = rng.randint(0, days // 2)
        gap = rng.choice([10, 21, 30, 45, 90, 400])
        day = first
        for _ in range(rng.choice([1, 2, 3, 5, 8])):
            if day >= days:
                break
            n += 1
            placed = start + dt.timedelta(days=day, hours=rng.choice([0, 5, 11, 14]))
            picks = rng.sample(sorted(SKUS), k=rng.choice([1, 1, 2, 3]))
            lines = [
                {
                    "sku": sku,
                    "name": SKUS[sku][0],
                    "category": SKUS[sku][1],
                    "quantity": rng.choice([1, 1, 2]),
                    "unit_price": SKUS[sku][2],
                }
                for sku in picks
            ]
            status = "cancelled" if n % 29 == 0 else "paid"
            order = create_order(
                session,
                external_id=f"shop{seed}-{n}",
                placed_at=placed.isoformat(),
                channel=rng.choice(["online", "online", "in_store", "phone"]),
                customer={"email": email, "name": f"Shopper {c}"},
                lines=lines,
                status=status,
                currency="EUR" if n % 37 == 0 else "USD",
            )
            ids.append(order.id)
            if status == "paid" and n % 11 == 0:
                orders.refund_order(
                    session, order_id=order.id, data=RefundCreate(external_id=f"r{n}")
                )
            elif status == "paid" and n % 7 == 0:
                orders.refund_order(
                    session,
                    order_id=order.id,
                    data=RefundCreate(external_id=f"r{n}", amount=max(1, order.total_amount // 3)),
                )
            day += max(1, int(rng.expovariate(1 / gap)))
    kettle = session.scalar(select(Product).where(Product.sku == "KET"))
    if kettle is not None:
        kettle.repeatable = False
    session.flush()
    return ids


def export_generic_csv(session: Session, path: Path) -> Path:
    """Write every order of the database as a generic CSV (one row per order)."""
    rows = session.execute(
        select(
            Order.customer_id,
            Order.external_id,
            Order.placed_at,
            Order.total_amount,
            Order.refunded_amount,
            Order.status,
            Order.currency,
        ).where(Order.customer_id.is_not(None))
    ).all()
    return write_csv(
        path,
        ["customer_id", "order_id", "placed_at", "total", "refunded", "status", "currency"],
        [
            (
                str(cid),
                ext,
                placed.isoformat(),
                f"{total / 100:.2f}",
                f"{refunded / 100:.2f}",
                status,
                currency,
            )
            for cid, ext, placed, total, refunded, status, currency in rows
        ],
    )


def cdnow_calibration() -> RFMArrays:
    """The papers' CDNOW calibration summary (39 weeks), monetary values in cents."""
    days: dict[str, dict[dt.date, int]] = {}
    with CDNOW_SAMPLE.open() as fh:
        for line in fh:
            fields = line.split()
            if not fields:
                continue
            ymd = fields[2]
            day = dt.date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
            cents = round(float(fields[4]) * 100)
            per_day = days.setdefault(fields[1], {})
            per_day[day] = per_day.get(day, 0) + cents
    end = dt.date(1997, 9, 30)
    x, t_x, big_t, m = [], [], [], []
    for _, by_day in sorted(days.items()):
        dated = sorted((d, v) for d, v in by_day.items() if d <= end)
        first, last = dated[0][0], dated[-1][0]
        repeats = [v for _, v in dated[1:]]
        x.append(float(len(repeats)))
        t_x.append((last - first).days / 7)
        big_t.append((end - first).days / 7)
        m.append(sum(repeats) / len(repeats) if repeats else 0.0)
    n = len(x)
    return RFMArrays(
        np.arange(n, dtype=np.int64),
        np.asarray(x),
        np.asarray(t_x),
        np.asarray(big_t),
        np.asarray(m, dtype=float),
    )
