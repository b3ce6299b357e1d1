from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.analytics.helpers import write_csv
from wafa.analytics import analyze, pipeline
from wafa.analytics.analyze import AnalyzeOptions, _recommendations, analyze_file
from wafa.analytics.fitting import ModelFailed
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


def _record(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record when the models are fitted and when the recommendations start (the real ones)."""
    seen: list[str] = []
    fit = pipeline.fit_models  # type: ignore[attr-defined]
    learn = analyze._recommendations

    def fitting(*args: Any, **kwargs: Any) -> Any:
        try:
            return fit(*args, **kwargs)
        finally:
            seen.append("fitted")

    def learning(*args: Any, **kwargs: Any) -> Any:
        seen.append("recommendations")
        return learn(*args, **kwargs)

    monkeypatch.setattr(pipeline, "fit_models", fitting)
    monkeypatch.setattr(analyze, "_recommendations", learning)
    return seen


class TestOrderOfWork:
    def test_without_a_holdout_the_recommendations_wait_for_the_fit(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seen = _record(monkeypatch)
        analysis = analyze_file(AnalyzeOptions(path=_shop(tmp_path / "shop.csv")))
        assert seen == ["fitted", "recommendations"]
        assert analysis.figures["recommendations"]["products"] == 12

    def test_with_a_holdout_they_start_beside_the_description(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seen = _record(monkeypatch)
        analysis = analyze_file(AnalyzeOptions(path=_shop(tmp_path / "shop.csv"), holdout_days=60))
        assert sorted(seen) == ["fitted", "recommendations"]
        assert analysis.figures["holdout"]["days"] == 60
        assert analysis.figures["recommendations"]["products"] == 12

    def test_a_fit_that_fails_ends_the_analysis_without_learning_anything(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seen = _record(monkeypatch)
        path = write_csv(
            tmp_path / "once.csv",
            ["customer_id", "order_id", "placed_at", "total", "sku"],
            [(f"c{i}", str(i), f"2024-01-{i + 1:02d}", "5", f"S{i % 3}") for i in range(20)],
        )
        failed: list[BaseException] = []

        def run() -> None:
            try:
                analyze_file(AnalyzeOptions(path=path))
            except ModelFailed as exc:
                failed.append(exc)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(60)
        assert not worker.is_alive(), "the analysis hung waiting for its recommendations"
        assert len(failed) == 1
        # The recommendations were released by the failed fit; whether they started
        # before the analysis closed is a race, but they were never left waiting.
        assert seen[0] == "fitted"

    def test_numpy_huge_pages_are_off_during_the_analysis_and_restored_after(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        switch = np._core.multiarray._set_madvise_hugepage  # type: ignore[attr-defined]
        during: list[bool] = []
        summary = analyze.FileSource.summary

        def summarising(self: analyze.FileSource, **kwargs: Any) -> Any:
            during.append(bool(switch(False)))  # reads the setting (and leaves it off)
            return summary(self, **kwargs)

        monkeypatch.setattr(analyze.FileSource, "summary", summarising)
        before = bool(switch(True))
        try:
            analyze_file(AnalyzeOptions(path=_shop(tmp_path / "shop.csv")))
            assert during == [False]
            assert bool(switch(True)) is True  # put back as it was before the call
        finally:
            switch(before)
