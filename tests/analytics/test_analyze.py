from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

from tests.analytics.helpers import write_csv
from wafa.analytics.analyze import _recommendations
from wafa.analytics.reading import connect, load_orders
from wafa.analytics.summary import duckdb_summary


def _shop(path: Path) -> Path:
    """Customers buying products again and again: repeats of one product on several days,
    twice in one order, and on the last day, so that lines and pairs differ."""
    rng = random.Random(7)
    rows = []
    n = 0
    for c in range(400):
        days = sorted(rng.sample(range(1, 300), rng.randint(1, 5)))
        for day in days:
            n += 1
            skus = rng.choices([f"S{k:02d}" for k in range(12)], k=rng.randint(1, 3))
            for sku in skus:
                rows.append(
                    (
                        f"cust-{c}",
                        f"o{n}",
                        f"2024-{1 + day // 28:02d}-{1 + day % 28:02d}",
                        "10.00",
                        sku,
                    )
                )
    return write_csv(path, ["customer_id", "order_id", "placed_at", "total", "sku"], rows)


def _learn(path: Path, *, hashed: bool) -> tuple[dict[str, Any] | None, int]:
    con = connect()
    try:
        loaded = load_orders(con, path)
        summary = duckdb_summary(con, as_of_day=loaded.last_day, calibration_day=loaded.last_day)
        return _recommendations(con, summary.as_of_day, len(summary), hashed=hashed), len(summary)
    finally:
        con.close()


class TestRecommendations:
    def test_customers_keyed_by_hash_learn_what_the_text_ids_learn(self, tmp_path: Path) -> None:
        path = _shop(tmp_path / "shop.csv")
        by_hash, customers = _learn(path, hashed=True)
        by_text, _ = _learn(path, hashed=False)
        assert customers == 400
        assert by_hash is not None and by_hash == by_text

    def test_a_product_counts_once_per_customer_however_often_bought(self, tmp_path: Path) -> None:
        path = _shop(tmp_path / "shop.csv")
        found, _ = _learn(path, hashed=True)
        assert found is not None and found["products"] == 12
        buyers: dict[str, set[str]] = {}
        with path.open() as fh:
            next(fh)
            for line in fh:
                customer, _order, _day, _total, sku = line.strip().split(",")
                buyers.setdefault(sku, set()).add(customer)
        for product in found["also_bought"]:
            assert product["customers"] == len(buyers[product["sku"]])
            for other in product["also_bought"]:
                both = buyers[product["sku"]] & buyers[other["sku"]]
                assert other["customers_both"] == len(both)
                expected = len(both) / np.sqrt(
                    len(buyers[product["sku"]]) * len(buyers[other["sku"]])
                )
                assert abs(other["similarity"] - expected) <= 0.5e-4 + 1e-12
