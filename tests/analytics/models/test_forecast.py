"""Predictive ranges: exact tables, the simulation behind them, and CDNOW."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.analytics.models.cdnow import CdnowSummary, load_or_skip
from wafa.analytics.models import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from wafa.analytics.models._tables import build_table, ranges_from_tables
from wafa.analytics.models._transaction import pairs_of
from wafa.analytics.models.base import compress
from wafa.analytics.models.forecast import Spend, ValueHorizon, forecast
from wafa.analytics.models.simulate import simulate_bgnbd, simulate_pareto_nbd

Model = BetaGeoModel | ParetoNBDModel


@pytest.fixture(scope="module")
def cdnow() -> CdnowSummary:
    return load_or_skip()


@pytest.fixture(scope="module", params=["bgnbd", "pareto_nbd"])
def fitted(request: pytest.FixtureRequest, cdnow: CdnowSummary) -> Model:
    cls = BetaGeoModel if request.param == "bgnbd" else ParetoNBDModel
    return cls().fit(cdnow.frequency, cdnow.recency, cdnow.T)


class TestPurchaseTables:
    def test_the_recurrence_matches_simulated_purchases(self, fitted: Model) -> None:
        # Histories from light to heavy buyers, a short and a long window.
        x = np.array([0.0, 1.0, 3.0, 12.0, 40.0])
        big_t = np.array([20.0, 30.0, 38.0, 35.0, 39.0])
        params = fitted._params_array()[None, :]
        rng = np.random.default_rng(5)
        for t in (4.0, 52.0):
            table = build_table(fitted, params, pairs_of(compress(x, big_t * 0.5, big_t)), t)
            pairs = pairs_of(compress(x, big_t * 0.5, big_t))
            for row, (xv, tv) in enumerate(zip(pairs.x, pairs.T, strict=True)):
                n = 200_000
                drawn = fitted._sample_alive(
                    np.tile(params, (n, 1)), np.full(n, xv), np.full(n, tv), np.array([t]), rng
                )[0]
                ys = np.arange(int(table.length[row]))
                exact = table.at(np.full(ys.shape, row), ys)
                empirical = np.searchsorted(np.sort(drawn), ys, side="right") / n
                assert np.max(np.abs(exact - empirical)) < 0.006, (t, xv, tv)

    def test_each_row_is_a_distribution_with_the_models_mean(self, fitted: Model) -> None:
        c = compress([0.0, 2.0, 7.0, 25.0], [0.0, 10.0, 30.0, 38.0], [20.0, 30.0, 38.0, 39.0])
        pairs = pairs_of(c)
        params = fitted._params_array()
        table = build_table(fitted, params[None, :], pairs, 39.0)
        last = table.cdf[table.offset + table.length - 1]
        np.testing.assert_array_equal(last, 1.0)
        for row in range(pairs.x.shape[0]):
            seg = table.cdf[table.offset[row] : table.offset[row] + table.length[row]]
            assert np.all(np.diff(seg) >= -1e-15)
        mean = fitted._expected_alive(params, np.array([39.0]), pairs.x, pairs.T)[0]
        np.testing.assert_allclose(table.first, mean, rtol=1e-4)

    def test_ranges_pick_the_whole_numbers_nearest_to_the_level(self) -> None:
        # A known distribution: P(Y <= y) = 0.5, 0.86, 0.95, 0.99, 1 for y = 0..4.
        from wafa.analytics.models._tables import PurchaseTable

        cdf = np.array([0.5, 0.86, 0.95, 0.99, 1.0])
        table = PurchaseTable(
            cdf, np.array([0]), np.array([5]), np.zeros(1), np.zeros(1), cdf.copy()
        )
        low, high, chance = ranges_from_tables(
            table, np.zeros((2, 1), dtype=np.intp), np.array([[1.0], [0.5]]), 0.9
        )
        # Alive for sure: [0, 1] holds 86 %, [0, 2] 95 %: 86 is nearer to 90.
        assert (low[0], high[0]) == (0, 1) and chance[0] == pytest.approx(0.86)
        # Half alive: P(Y = 0) = 0.75, P(Y <= 1) = 0.93: [0, 1].
        assert (low[1], high[1]) == (0, 1) and chance[1] == pytest.approx(0.93)


class TestForecast:
    def test_cdnow_ranges_hold_nine_in_ten_customers(
        self, fitted: Model, cdnow: CdnowSummary
    ) -> None:
        f = forecast(fitted, cdnow.frequency, cdnow.recency, cdnow.T, [39.0])
        assert f.ranges is not None
        actual = cdnow.holdout_frequency
        inside = (f.ranges.low[0] <= actual) & (actual <= f.ranges.high[0])
        assert 0.85 <= inside.mean() <= 0.95
        assert abs(f.ranges.chance[0].mean() - 0.9) < 0.03
        np.testing.assert_allclose(
            f.expected[0], fitted.expected_purchases(39.0, cdnow.frequency, cdnow.recency, cdnow.T)
        )

    def test_cdnow_total_falls_outside_the_bgnbd_range(self, cdnow: CdnowSummary) -> None:
        # The model risk the report states: BG/NBD fits the calibration weeks well, yet
        # the 1,882 repeat purchases of weeks 40-78 are above its 90 % range.
        model = BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow.T)
        f = forecast(model, cdnow.frequency, cdnow.recency, cdnow.T, [39.0])
        assert f.ranges is not None
        assert f.ranges.totals[0].high < cdnow.holdout_frequency.sum() == 1882

    def test_same_seed_same_ranges(self, fitted: Model, cdnow: CdnowSummary) -> None:
        args = (fitted, cdnow.frequency[:300], cdnow.recency[:300], cdnow.T[:300], [13.0, 52.0])
        a, b = forecast(*args, random_state=3), forecast(*args, random_state=3)
        assert a.ranges is not None and b.ranges is not None
        np.testing.assert_array_equal(a.ranges.high, b.ranges.high)
        assert a.ranges.totals == b.ranges.totals

    def test_large_store_totals_agree_with_the_simulation(
        self, fitted: Model, cdnow: CdnowSummary
    ) -> None:
        args = (fitted, cdnow.frequency, cdnow.recency, cdnow.T, [39.0])
        simulated = forecast(*args)
        normal = forecast(*args, exact_customers=0)
        assert simulated.ranges is not None and normal.ranges is not None
        assert (simulated.ranges.method, normal.ranges.method) == ("simulation", "normal")
        np.testing.assert_array_equal(simulated.ranges.low, normal.ranges.low)
        for a, b in ((simulated.ranges.totals[0], normal.ranges.totals[0]),):
            assert a.low == pytest.approx(b.low, rel=0.03)
            assert a.high == pytest.approx(b.high, rel=0.03)
        assert simulated.ranges.active.low == pytest.approx(normal.ranges.active.low, rel=0.03)

    def test_lifetime_value_ranges_bracket_the_value(self, cdnow: CdnowSummary) -> None:
        model = BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow.T)
        x = np.where(cdnow.monetary_value > 0, cdnow.frequency, 0.0)
        spend_model = GammaGammaModel().fit(x, cdnow.monetary_value)
        value = ValueHorizon(52.0, math.log1p(0.1) / 52.0)
        for exact in (10_000, 0):
            f = forecast(
                model,
                cdnow.frequency,
                cdnow.recency,
                cdnow.T,
                [52.0],
                spend=Spend(spend_model, x, cdnow.monetary_value),
                value=value,
                exact_customers=exact,
            )
            r = f.ranges
            assert r is not None and f.value is not None
            assert r.value_low is not None and r.value_high is not None and r.revenue is not None
            assert np.all(r.value_low <= r.value_high)
            assert np.mean((r.value_low <= f.value) & (f.value <= r.value_high)) > 0.95
            assert r.revenue.low < f.value.sum() < r.revenue.high

    def test_a_fit_without_standard_errors_has_no_ranges(self) -> None:
        d = simulate_bgnbd(500, r=0.3, alpha=4.0, a=0.8, b=2.5, random_state=1)
        model = BetaGeoModel().fit(d.frequency, d.recency, d.T)
        model.covariance_ = None
        with pytest.raises(ValueError, match="no standard errors"):
            forecast(model, d.frequency, d.recency, d.T, [10.0])


class TestSimulatedStores:
    @pytest.mark.parametrize("kind", ["bgnbd", "pareto_nbd"])
    def test_ranges_cover_the_simulated_holdout(self, kind: str) -> None:
        if kind == "bgnbd":
            d = simulate_bgnbd(3000, r=0.4, alpha=5.0, a=0.7, b=2.5, holdout=30.0, random_state=12)
            model: Model = BetaGeoModel().fit(d.frequency, d.recency, d.T)
        else:
            d = simulate_pareto_nbd(
                3000, r=0.5, alpha=8.0, s=0.6, beta=10.0, holdout=30.0, random_state=12
            )
            model = ParetoNBDModel().fit(d.frequency, d.recency, d.T)
        f = forecast(model, d.frequency, d.recency, d.T, [30.0])
        assert f.ranges is not None
        inside = (f.ranges.low[0] <= d.holdout_frequency) & (
            d.holdout_frequency <= f.ranges.high[0]
        )
        assert 0.86 <= inside.mean() <= 0.94


class TestLargeStoreRangesBesideTheTotals:
    def test_the_same_as_computed_one_after_the_other(self, cdnow: CdnowSummary) -> None:
        # A large store's customer ranges are read from the tables in a thread while the
        # store totals are drawn: the same arrays and totals as the plain sequence
        # (ranges per window, gathered per customer with a[:, index], then the totals).
        from wafa.analytics.models._large_stores import normal_ranges
        from wafa.analytics.models.forecast import _draws, _setup

        model = BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow.T)
        x = np.where(cdnow.monetary_value > 0, cdnow.frequency, 0.0)
        spend = Spend(GammaGammaModel().fit(x, cdnow.monetary_value), x, cdnow.monetary_value)
        value = ValueHorizon(52.0, math.log1p(0.1) / 52.0)
        horizons = np.array([4.0, 13.0, 52.0])
        f = forecast(
            model,
            cdnow.frequency,
            cdnow.recency,
            cdnow.T,
            horizons,
            spend=spend,
            value=value,
            random_state=7,
            exact_customers=0,
        )
        assert f.ranges is not None and f.ranges.method == "normal"

        s = _setup(model, compress(cdnow.frequency, cdnow.recency, cdnow.T), horizons, spend, value)
        inv = s.c.inverse
        expected = (s.alive[None, :] * s.given_alive[s.at][:, s.pairs.inverse])[:, inv]
        np.testing.assert_array_equal(f.expected, expected)
        rng = np.random.default_rng(7)
        d = _draws(s, rng)
        plain = [ranges_from_tables(d.tables[at], d.rows, d.alive, 0.9) for at in s.at.tolist()]
        low = np.stack([p[0] for p in plain])[:, inv]
        high = np.stack([p[1] for p in plain])[:, inv]
        chance = np.stack([p[2] for p in plain])[:, inv]
        serial = normal_ranges(s, d, 0.9, rng, lambda: (low, high, chance))
        for got, want in ((f.ranges.low, low), (f.ranges.high, high), (f.ranges.chance, chance)):
            np.testing.assert_array_equal(got, want)
        assert f.ranges.value_low is not None and serial.value_low is not None
        np.testing.assert_array_equal(f.ranges.value_low, serial.value_low)
        np.testing.assert_array_equal(f.ranges.value_high, serial.value_high)
        assert (f.ranges.totals, f.ranges.active, f.ranges.revenue) == (
            serial.totals,
            serial.active,
            serial.revenue,
        )
