from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.analytics.helpers import cdnow_generic_csv, needs_cdnow, write_csv
from wafa.cli.main import app
from wafa.core.settings import get_settings

Analyze = Callable[..., Result]


@pytest.fixture
def analyze(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Analyze]:
    """Run ``wafa analyze ...`` in-process; no database is configured or needed."""
    monkeypatch.setenv("WAFA_DATABASE_URL", f"sqlite:///{tmp_path / 'unused.db'}")
    monkeypatch.setenv("WAFA_ENVIRONMENT", "test")
    for name in ("WAFA_TIMEZONE", "WAFA_CALENDAR", "WAFA_CURRENCY", "WAFA_LOCALE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["analyze", *args, "--quiet"], catch_exceptions=False)

    yield invoke
    get_settings.cache_clear()
    assert not (tmp_path / "unused.db").exists()


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cdnow_generic_csv(tmp_path_factory.mktemp("cdnow") / "cdnow.csv")


def sig(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g}"


@pytest.fixture(scope="module")
def figures(cdnow_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("out") / "cdnow.json"
    mp = pytest.MonkeyPatch()
    mp.setenv("WAFA_ENVIRONMENT", "test")
    mp.delenv("WAFA_TIMEZONE", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app,
            [
                "analyze",
                str(cdnow_csv),
                "--format",
                "generic",
                "--calibration-end",
                "1997-09-30",
                "--time-unit",
                "week",
                "--json",
                str(out),
                "--quiet",
            ],
            catch_exceptions=False,
        )
    finally:
        mp.undo()
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(out.read_text())
    return data


@needs_cdnow
class TestAnalyzeCdnow:
    def test_counts_the_2357_customers_of_the_papers(self, figures: dict[str, Any]) -> None:
        assert figures["customers"] == 2357

    def test_bgnbd_reproduces_fader_hardie_lee_2005(self, figures: dict[str, Any]) -> None:
        block = figures["models"]["bgnbd"]
        p = block["params"]
        assert [sig(p["r"]), sig(p["alpha"], 4), sig(p["a"]), sig(p["b"], 4)] == [
            "0.243",
            "4.414",
            "0.793",
            "2.426",
        ]
        assert block["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)

    def test_pareto_nbd_reproduces_the_published_estimates(self, figures: dict[str, Any]) -> None:
        block = figures["models"]["pareto_nbd"]
        p = block["params"]
        assert [sig(p["r"]), sig(p["alpha"], 4), sig(p["s"]), sig(p["beta"], 4)] == [
            "0.553",
            "10.58",
            "0.606",
            "11.67",
        ]
        assert block["log_likelihood"] == pytest.approx(-9595.0, abs=0.1)

    def test_gamma_gamma_reproduces_rfm_and_clv_2005(self, figures: dict[str, Any]) -> None:
        p = figures["models"]["gamma_gamma"]["params"]
        assert [sig(p["p"]), sig(p["q"]), sig(p["gamma"], 4)] == ["6.25", "3.74", "15.44"]
        assert figures["models"]["gamma_gamma"]["usable"] is True

    def test_holdout_is_the_39_weeks_after_the_calibration(self, figures: dict[str, Any]) -> None:
        holdout = figures["holdout"]
        assert holdout["days"] == 273 and holdout["customers"] == 2357
        # Repeat purchases of the cohort in weeks 40-78, as in the papers' tracking plots.
        assert holdout["actual_repeat_purchases"] == 1882
        assert holdout["tracking"][-1]["actual"] == 1882 and len(holdout["tracking"]) == 39
        models = holdout["models"]
        assert models["bgnbd"]["predicted_repeat_purchases"] == pytest.approx(1653.4, abs=1)
        assert models["bgnbd"]["mae"] < models["naive"]["mae"]
        assert {"rule_of_thumb", "naive", "same_as_last_period"} <= set(models)

    def test_the_model_is_chosen_on_the_calibration_weeks(self, figures: dict[str, Any]) -> None:
        # BG/NBD has the higher calibration log-likelihood (-9582.4 against -9595.0).
        assert figures["models"]["chosen"] == figures["holdout"]["chosen"] == "bgnbd"
        assert figures["models"]["chosen_by"].startswith("log-likelihood of the calibration")

    def test_the_holdout_total_has_the_contracted_form(self, figures: dict[str, Any]) -> None:
        purchases = figures["holdout"]["purchases"]
        assert set(purchases) == {"predicted", "low", "high", "actual", "level"}
        assert purchases["level"] == 0.9 and purchases["actual"] == 1882
        assert isinstance(purchases["actual"], int)
        assert all(isinstance(purchases[k], float) for k in ("predicted", "low", "high"))
        assert purchases["predicted"] == pytest.approx(1653.4, abs=1)
        assert purchases["low"] < purchases["predicted"] < purchases["high"]
        # The model risk the report states: the actual is above BG/NBD's range on CDNOW.
        assert purchases["high"] < 1882

    def test_each_method_reports_its_range_and_coverage(self, figures: dict[str, Any]) -> None:
        models = figures["holdout"]["models"]
        for name in ("bgnbd", "pareto_nbd", "rule_of_thumb", "naive"):
            m = models[name]
            assert m["low"] <= m["high"] and m["level"] == 0.9
            assert isinstance(m["inside"], bool)
        assert 0.85 <= models["bgnbd"]["customer_coverage"] <= 0.95
        assert "low" not in models["same_as_last_period"]

    def test_parameter_intervals_are_on_the_log_scale(self, figures: dict[str, Any]) -> None:
        for name in ("bgnbd", "pareto_nbd", "gamma_gamma"):
            block = figures["models"][name]
            for key, (low, high) in block["intervals"].items():
                assert 0 < low < block["params"][key] < high

    def test_frequency_buckets_compare_over_the_holdout_alone(
        self, figures: dict[str, Any]
    ) -> None:
        buckets = figures["holdout"]["by_frequency"]
        assert [b["frequency"] for b in buckets] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
        assert sum(b["customers"] for b in buckets) == 2357
        total = sum(b["actual"] * b["customers"] for b in buckets)
        assert total == pytest.approx(1882)

    def test_every_number_is_finite(self, figures: dict[str, Any]) -> None:
        def walk(value: Any) -> None:
            if isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)
            elif isinstance(value, float):
                assert value == value and abs(value) != float("inf")

        walk(figures)


@needs_cdnow
class TestAnalyzeDefaults:
    def test_calibration_end_defaults_to_the_last_order_date(
        self, analyze: Analyze, cdnow_csv: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "all.json"
        result = analyze(str(cdnow_csv), "--json", str(out))
        assert result.exit_code == 0, result.output
        data = json.loads(out.read_text())
        assert data["calibration_end"] == "1998-06-30" and data["holdout"]["days"] == 0
        assert data["models"]["chosen_by"].startswith("log-likelihood")

    def test_holdout_days_splits_off_the_last_days(
        self, analyze: Analyze, cdnow_csv: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "h.json"
        result = analyze(str(cdnow_csv), "--holdout-days", "273", "--json", str(out))
        assert result.exit_code == 0, result.output
        data = json.loads(out.read_text())
        assert data["calibration_end"] == "1997-09-30" and data["holdout"]["days"] == 273


class TestAnalyzeErrors:
    def test_bad_input_names_line_and_column_without_traceback(
        self, analyze: Analyze, tmp_path: Path
    ) -> None:
        path = write_csv(
            tmp_path / "orders.csv",
            ["customer_id", "order_id", "placed_at", "total"],
            [("c1", "1", "2024-01-01", "5"), ("c1", "2", "2024-13-01", "5")],
        )
        result = analyze(str(path), "--json", str(tmp_path / "x.json"))
        assert result.exit_code == 1
        assert "orders.csv, line 3, column placed_at: '2024-13-01' is not" in result.output
        assert "Traceback" not in result.output
        assert not (tmp_path / "x.json").exists()

    def test_a_bad_calibration_date_is_refused(self, analyze: Analyze, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path / "o.csv",
            ["customer_id", "order_id", "placed_at", "total"],
            [("c", "1", "2024-01-01", "5")],
        )
        result = analyze(str(path), "--calibration-end", "30/09/1997")
        assert result.exit_code == 1 and "expected a date as YYYY-MM-DD" in result.output

    def test_no_repeat_purchase_at_all_says_what_to_try(
        self, analyze: Analyze, tmp_path: Path
    ) -> None:
        path = write_csv(
            tmp_path / "o.csv",
            ["customer_id", "order_id", "placed_at", "total"],
            [(f"c{i}", str(i), f"2024-01-{i + 1:02d}", "5") for i in range(20)],
        )
        result = analyze(str(path))
        assert result.exit_code == 1
        said = " ".join(result.output.split())  # the console wraps long messages
        assert "neither BG/NBD nor Pareto/NBD could be fitted" in said
        assert "What to try" in said and "Traceback" not in said
        assert said.count("BG/NBD: BG/NBD") == 0


class TestAnalyzeTinyStore:
    def test_a_tiny_store_gets_the_stated_rule_with_ranges_and_no_numpy_warning(
        self, analyze: Analyze, tmp_path: Path
    ) -> None:
        rows = []
        n = 0
        for c in range(12):
            for k in range(1 + c % 4):
                n += 1
                rows.append(
                    (f"c{c}", f"o{n}", f"2024-{1 + (c + 3 * k) % 12:02d}-{1 + c:02d}", "10.00")
                )
        path = write_csv(
            tmp_path / "tiny.csv", ["customer_id", "order_id", "placed_at", "total"], rows
        )
        out = tmp_path / "tiny.json"
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            result = analyze(str(path), "--json", str(out))
        assert result.exit_code == 0, result.output
        data = json.loads(out.read_text())
        assert data["models"]["chosen"] is None
        assert data["models"]["bgnbd"]["usable"] is False
        assert "bought more than once" in data["models"]["bgnbd"]["unusable_because"]
        assert any("simple rule" in w for w in data["warnings"])
        p = data["predictions"]
        assert p["method"] == "rule_of_thumb" and p["expected_active_customers"] is None
        band = p["expected_purchases_365_range"]
        assert band[0] <= p["expected_purchases_365"] <= band[1] and band[1] > band[0]

    def test_degenerate_spend_is_refused_and_values_use_the_average_order(
        self, analyze: Analyze, tmp_path: Path
    ) -> None:
        # 10 customers, 2 of them repeat buyers: no Gamma-Gamma on two points.
        rows = [(f"c{c}", f"o{c}", f"2024-0{1 + c % 6}-10", "12.00") for c in range(10)]
        rows += [("c0", "x1", "2024-08-01", "20.00"), ("c1", "x2", "2024-09-01", "30.00")]
        path = write_csv(
            tmp_path / "ten.csv", ["customer_id", "order_id", "placed_at", "total"], rows
        )
        out = tmp_path / "ten.json"
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            result = analyze(str(path), "--json", str(out))
        assert result.exit_code == 0, result.output
        data = json.loads(out.read_text())
        assert data["models"]["gamma_gamma"]["usable"] is False
        assert data["predictions"]["value_method"] == "average_order"


@needs_cdnow
class TestAnalyzeReport:
    def test_the_report_is_self_contained_and_right_to_left_in_persian(
        self, analyze: Analyze, cdnow_csv: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "report.html"
        result = analyze(
            str(cdnow_csv), "--calibration-end", "1997-09-30", "--out", str(out), "--language", "fa"
        )
        assert result.exit_code == 0, result.output
        html = out.read_text(encoding="utf-8")
        assert '<main dir="rtl">' in html
        # Plotly's library is inlined; nothing is fetched from the network.
        assert "Plotly.newPlot" in html and "plotly.js" in html.lower()
        assert 'src="http' not in html and "<link" not in html
        assert 'id="chart-cohorts"' in html and 'id="chart-tracking"' in html


class TestAnalyzeReportDays:
    @pytest.mark.parametrize(
        ("language", "calendar", "first", "last"),
        [
            ("fa", "jalali", "۱۱ دی ۱۴۰۲", "۲۲ آذر ۱۴۰۳"),
            ("ar", "gregorian", "١ يناير ٢٠٢٤", "١٢ ديسمبر ٢٠٢٤"),
            ("en", "gregorian", "Jan 1, 2024", "Dec 12, 2024"),
        ],
    )
    def test_days_are_written_in_the_calendar_and_digits_of_the_report(
        self, analyze: Analyze, tmp_path: Path, language: str, calendar: str, first: str, last: str
    ) -> None:
        rows = [
            (f"c{c}", f"o{c}-{k}", f"2024-{1 + (c + 5 * k) % 12:02d}-{1 + c % 15:02d}", "10.00")
            for c in range(30)
            for k in range(1 + c % 3)
        ]
        path = write_csv(
            tmp_path / "days.csv", ["customer_id", "order_id", "placed_at", "total"], rows
        )
        out = tmp_path / "report.html"
        result = analyze(
            str(path), "--language", language, "--calendar", calendar, "--out", str(out)
        )
        assert result.exit_code == 0, result.output
        html = out.read_text(encoding="utf-8")
        head = html[html.index("<main") :]
        assert first in head and last in head
        # No day is left in ISO form where the reader sees it (the JSON island keeps them).
        shown = head[: head.index("<script")] if "<script" in head else head
        assert "2024-01-01" not in shown and "2024-12-12" not in shown


class TestAnalyzeProducts:
    def test_a_file_with_products_gets_recommendations(
        self, analyze: Analyze, tmp_path: Path
    ) -> None:
        rows = []
        n = 0
        for c in range(60):
            pair = c % 3
            for k, day in enumerate((3, 40, 90)[: 2 + (c // 3) % 2]):
                n += 1
                sku = f"P{2 * pair + (k % 2)}"
                rows.append(
                    (
                        f"c{c}",
                        f"o{n}",
                        f"2024-{1 + (day // 31):02d}-{1 + day % 28:02d}",
                        "9.50",
                        sku,
                    )
                )
        path = write_csv(
            tmp_path / "p.csv", ["customer_id", "order_id", "placed_at", "total", "sku"], rows
        )
        out = tmp_path / "p.json"
        result = analyze(str(path), "--json", str(out))
        assert result.exit_code == 0, result.output
        recs = json.loads(out.read_text())["recommendations"]
        assert recs["products"] == 6 and recs["evaluation"]["customers"] > 0
        top = {p["sku"]: [a["sku"] for a in p["also_bought"]] for p in recs["also_bought"]}
        assert top["P0"] == ["P1"]


class TestAnalyzeShopify:
    def test_a_shopify_export_is_analysed(self, analyze: Analyze, tmp_path: Path) -> None:
        header = [
            "Name",
            "Email",
            "Financial Status",
            "Currency",
            "Total",
            "Created at",
            "Lineitem sku",
        ]
        rows = []
        n = 1000
        for c in range(30):
            for k in range(1 + c % 4):
                n += 1
                rows.append(
                    (
                        f"#{n}",
                        f"buyer{c}@shop.test",
                        "paid",
                        "EUR",
                        "20.00",
                        f"2025-{1 + (c + 2 * k) % 12:02d}-{1 + c % 27:02d} 10:00:00 +0100",
                        "TEA",
                    )
                )
        path = write_csv(tmp_path / "orders_export.csv", header, rows)
        out = tmp_path / "s.json"
        result = analyze(str(path), "--format", "shopify", "--json", str(out))
        assert result.exit_code == 0, result.output
        data = json.loads(out.read_text())
        assert data["currency"] == "EUR" and data["format"] == "shopify"
        assert data["headline"]["customers"] == 30


@needs_cdnow
class TestCustomersOut:
    def test_one_row_per_customer_with_the_holdout_range(
        self, analyze: Analyze, cdnow_csv: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "customers.csv"
        result = analyze(
            str(cdnow_csv), "--calibration-end", "1997-09-30", "--customers-out", str(out)
        )
        assert result.exit_code == 0, result.output
        with out.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 2357
        required = {
            "customer_id",
            "expected_purchases",
            "purchases_low",
            "purchases_high",
            "p_alive",
            "clv",
            "clv_low",
            "clv_high",
        }
        assert required <= set(rows[0])
        inside = 0
        for row in rows:
            assert row["window_days"] == "273"
            low, high = int(row["purchases_low"]), int(row["purchases_high"])
            assert low <= float(row["expected_purchases"]) <= high or low == high
            inside += low <= int(row["actual_purchases"]) <= high
            assert float(row["clv_low"]) <= float(row["clv"]) <= float(row["clv_high"])
            assert 0 <= float(row["p_alive"]) <= 1
        assert 0.85 <= inside / len(rows) <= 0.95

    def test_without_a_holdout_the_range_is_the_next_365_days(
        self, analyze: Analyze, cdnow_csv: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "c365.csv"
        result = analyze(str(cdnow_csv), "--customers-out", str(out))
        assert result.exit_code == 0, result.output
        with out.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert {r["window_days"] for r in rows} == {"365"}
        assert {r["actual_purchases"] for r in rows} == {""}
