import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.analytics.models.cdnow import CdnowSummary, load_or_skip
from wafa.analytics.models import (
    BetaGeoModel,
    ConvergenceError,
    GammaGammaModel,
    InfiniteMeanSpend,
    NotFittedError,
    ParetoNBDModel,
    spend_frequency_correlation,
)
from wafa.analytics.models.simulate import simulate_bgnbd

# Fader & Hardie, "The Gamma-Gamma Model of Monetary Value" (2013), on the 946 CDNOW
# repeat customers' average repeat-transaction value: p 6.25, q 3.74, gamma 15.44.
PUBLISHED = {"p": 6.25, "q": 3.74, "gamma": 15.44}


@pytest.fixture(scope="module")
def cdnow() -> CdnowSummary:
    return load_or_skip()


@pytest.fixture(scope="module")
def cdnow_model(cdnow: CdnowSummary) -> GammaGammaModel:
    return GammaGammaModel().fit(cdnow.frequency, cdnow.monetary_value)


@pytest.fixture(scope="module")
def store() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    d = simulate_bgnbd(
        6000, r=0.25, alpha=4.0, a=0.8, b=2.5, spend=(6.0, 4.0, 15.0), random_state=5
    )
    return d.frequency, d.recency, d.T, d.monetary_value


@pytest.fixture(scope="module")
def heavy_tailed() -> GammaGammaModel:
    d = simulate_bgnbd(8000, r=0.5, alpha=4.0, a=0.8, b=2.5, spend=(4.0, 0.7, 10.0), random_state=9)
    return GammaGammaModel().fit(d.frequency, d.monetary_value)


def sig3(value: float) -> float:
    return float(f"{value:.3g}")


class TestFitCdnow:
    def test_reproduces_published_parameters(self, cdnow_model: GammaGammaModel) -> None:
        for name, value in PUBLISHED.items():
            assert sig3(getattr(cdnow_model.params_, name)) == sig3(value), name

    def test_uses_only_repeat_customers(self, cdnow_model: GammaGammaModel) -> None:
        assert cdnow_model.n_customers_ == 946

    def test_reports_flags(self, cdnow_model: GammaGammaModel) -> None:
        assert cdnow_model.mean_spend_finite_
        assert cdnow_model.mean_spend_ == pytest.approx(6.25 * 15.44 / 2.74, rel=0.01)
        assert cdnow_model.spend_frequency_correlation_ is not None
        assert abs(cdnow_model.spend_frequency_correlation_) < 0.3
        assert not cdnow_model.spend_frequency_correlated_
        assert not cdnow_model.small_sample_
        for name in PUBLISHED:
            se = getattr(cdnow_model.standard_errors_, name)
            assert math.isfinite(se) and se > 0

    def test_rows_without_repeat_purchase_are_ignored(self, cdnow: CdnowSummary) -> None:
        repeat = cdnow.frequency > 0
        all_rows = GammaGammaModel().fit(cdnow.frequency, cdnow.monetary_value)
        repeat_rows = GammaGammaModel().fit(cdnow.frequency[repeat], cdnow.monetary_value[repeat])
        assert all_rows.params_ == repeat_rows.params_


class TestWeights:
    def test_weighted_fit_equals_expanded_fit(self, cdnow: CdnowSummary) -> None:
        rng = np.random.default_rng(0)
        counts = rng.integers(1, 4, size=2357)
        expanded = GammaGammaModel().fit(
            np.repeat(cdnow.frequency, counts), np.repeat(cdnow.monetary_value, counts)
        )
        weighted = GammaGammaModel().fit(
            cdnow.frequency, cdnow.monetary_value, weights=counts.astype(float)
        )
        assert weighted.log_likelihood_ == pytest.approx(expanded.log_likelihood_, rel=1e-10)
        for name in PUBLISHED:
            assert getattr(weighted.params_, name) == pytest.approx(
                getattr(expanded.params_, name), rel=1e-5
            )


class TestInfiniteMeanSpend:
    def test_q_at_most_one_is_exposed(self, heavy_tailed: GammaGammaModel) -> None:
        assert heavy_tailed.params_.q <= 1
        assert not heavy_tailed.mean_spend_finite_
        assert heavy_tailed.mean_spend_ is None
        assert any("infinite" in w for w in heavy_tailed.warnings_)

    def test_spend_predictions_are_refused(self, heavy_tailed: GammaGammaModel) -> None:
        with pytest.raises(InfiniteMeanSpend, match="q ="):
            heavy_tailed.conditional_expected_spend([1, 0], [20.0, 0.0])
        bg = BetaGeoModel().fit([0, 1, 2, 3], [0, 1.0, 2.0, 3.0], [5, 5, 5, 5])
        with pytest.raises(InfiniteMeanSpend):
            heavy_tailed.customer_lifetime_value(bg, [1], [1.0], [5.0], [20.0])


class TestCorrelation:
    def test_correlated_spend_raises_the_flag(self) -> None:
        rng = np.random.default_rng(1)
        x = rng.integers(1, 20, size=2000).astype(float)
        m = 10 * x * rng.gamma(20, 1 / 20, size=2000)
        model = GammaGammaModel().fit(x, m)
        assert model.spend_frequency_correlation_ is not None
        assert model.spend_frequency_correlation_ > 0.3
        assert model.spend_frequency_correlated_
        assert any("correlated" in w for w in model.warnings_)

    def test_matches_numpy_pearson_on_repeat_customers(self, cdnow: CdnowSummary) -> None:
        repeat = cdnow.frequency > 0
        expected = np.corrcoef(cdnow.frequency[repeat], cdnow.monetary_value[repeat])[0, 1]
        got = spend_frequency_correlation(cdnow.frequency, cdnow.monetary_value)
        assert got == pytest.approx(expected, rel=1e-12)

    def test_undefined_correlation_is_none(self) -> None:
        assert spend_frequency_correlation([0, 1], [0.0, 5.0]) is None
        assert spend_frequency_correlation([2, 2, 2], [1.0, 2.0, 3.0]) is None


class TestDegenerateInput:
    def test_fewer_than_two_repeat_customers_raises(self) -> None:
        with pytest.raises(ConvergenceError, match="two customers"):
            GammaGammaModel().fit([0, 0, 3], [0.0, 0.0, 12.0])

    def test_non_positive_spend_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="positive"):
            GammaGammaModel().fit([1, 2], [0.0, 3.0])

    def test_predicting_before_fit_raises(self) -> None:
        with pytest.raises(NotFittedError):
            GammaGammaModel().conditional_expected_spend([1], [2.0])

    def test_small_sample_is_flagged(self, cdnow: CdnowSummary) -> None:
        repeat = np.flatnonzero(cdnow.frequency > 0)[:120]
        m = GammaGammaModel().fit(cdnow.frequency[repeat], cdnow.monetary_value[repeat])
        assert m.small_sample_ and m.penalizer_coef_ > 0
        assert all(math.isfinite(v) for v in vars(m.standard_errors_).values())


class TestConditionalExpectedSpend:
    def test_formula_and_population_mean(self, cdnow_model: GammaGammaModel) -> None:
        p, q, g = cdnow_model.params_.p, cdnow_model.params_.q, cdnow_model.params_.gamma
        got = cdnow_model.conditional_expected_spend([0, 2, 500], [0.0, 30.0, 1e4])
        assert got[0] == pytest.approx(p * g / (q - 1))
        assert got[1] == pytest.approx(p * (g + 2 * 30.0) / (2 * p + q - 1))
        assert got[2] == pytest.approx(p * (g + 500 * 1e4) / (500 * p + q - 1))

    @settings(max_examples=50, deadline=None)
    @given(st.integers(0, 1000), st.floats(0.01, 1e6))
    def test_finite_and_positive(self, cdnow_model: GammaGammaModel, x: int, m: float) -> None:
        value = cdnow_model.conditional_expected_spend([x], [m])[0]
        assert math.isfinite(value) and value > 0


class TestCustomerLifetimeValue:
    def test_matches_lifetimes_style_discounted_sum(self, store: tuple[np.ndarray, ...]) -> None:
        x, t_x, big_t, m = store
        bg = BetaGeoModel().fit(x, t_x, big_t)
        gg = GammaGammaModel().fit(x, m)
        clv = gg.customer_lifetime_value(
            bg, x[:50], t_x[:50], big_t[:50], m[:50], time_horizon=6, discount_rate=0.02
        )
        spend = gg.conditional_expected_spend(x[:50], m[:50])
        manual = np.zeros(50)
        for i in range(1, 7):
            step = bg.expected_purchases(i * 4.345, x[:50], t_x[:50], big_t[:50])
            step -= bg.expected_purchases((i - 1) * 4.345, x[:50], t_x[:50], big_t[:50])
            manual += spend * step / 1.02**i
        np.testing.assert_allclose(clv, manual, rtol=1e-10)

    def test_non_negative_and_grows_with_horizon(self, store: tuple[np.ndarray, ...]) -> None:
        x, t_x, big_t, m = store
        pnbd = ParetoNBDModel().fit(x, t_x, big_t)
        gg = GammaGammaModel().fit(x, m)
        short = gg.customer_lifetime_value(pnbd, x, t_x, big_t, m, time_horizon=3)
        long = gg.customer_lifetime_value(pnbd, x, t_x, big_t, m, time_horizon=24)
        none = gg.customer_lifetime_value(pnbd, x, t_x, big_t, m, time_horizon=0)
        assert np.all(np.isfinite(long)) and np.all(short >= 0)
        assert np.all(long >= short)
        np.testing.assert_array_equal(none, 0.0)

    def test_rejects_unknown_time_unit(self, store: tuple[np.ndarray, ...]) -> None:
        x, t_x, big_t, m = store
        bg = BetaGeoModel().fit(x, t_x, big_t)
        gg = GammaGammaModel().fit(x, m)
        with pytest.raises(ValueError, match="time_unit"):
            gg.customer_lifetime_value(bg, x, t_x, big_t, m, time_unit="Y")  # type: ignore[arg-type]
