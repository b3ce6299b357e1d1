import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.analytics.models.cdnow import CdnowSummary, load_or_skip
from wafa.analytics.models import BetaGeoModel, BetaGeoParams, ConvergenceError, NotFittedError
from wafa.analytics.models.bgnbd import _beta_expectation
from wafa.analytics.models.simulate import simulate_bgnbd

# Fader, Hardie & Lee (2005), Table 1 / BTYD vignette: r, alpha, a, b and the LL.
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LL = -9582.43


@pytest.fixture(scope="module")
def cdnow() -> CdnowSummary:
    return load_or_skip()


@pytest.fixture(scope="module")
def cdnow_model(cdnow: CdnowSummary) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow.T)


@pytest.fixture(scope="module")
def model() -> BetaGeoModel:
    d = simulate_bgnbd(4000, r=0.25, alpha=4.0, a=0.8, b=2.5, random_state=7)
    return BetaGeoModel().fit(d.frequency, d.recency, d.T)


def sig3(value: float) -> float:
    return float(f"{value:.3g}")


class TestFitCdnow:
    def test_reproduces_published_parameters(self, cdnow_model: BetaGeoModel) -> None:
        for name, value in PUBLISHED.items():
            assert sig3(getattr(cdnow_model.params_, name)) == sig3(value), name

    def test_reproduces_published_log_likelihood(self, cdnow_model: BetaGeoModel) -> None:
        assert cdnow_model.log_likelihood_ == pytest.approx(PUBLISHED_LL, abs=0.1)

    def test_reports_fit_state(self, cdnow_model: BetaGeoModel, cdnow: CdnowSummary) -> None:
        assert isinstance(cdnow_model.params_, BetaGeoParams)
        assert cdnow_model.converged_
        assert cdnow_model.n_customers_ == 2357
        assert not cdnow_model.small_sample_
        assert cdnow_model.warnings_ == ()
        assert cdnow_model.n_distinct_ < 2357
        se = cdnow_model.standard_errors_
        for name in PUBLISHED:
            assert 0 < getattr(se, name) < getattr(cdnow_model.params_, name)

    def test_per_customer_log_likelihood_sums_to_total(
        self, cdnow_model: BetaGeoModel, cdnow: CdnowSummary
    ) -> None:
        ll = cdnow_model.log_likelihood(cdnow.frequency, cdnow.recency, cdnow.T)
        assert ll.sum() == pytest.approx(cdnow_model.log_likelihood_, rel=1e-12)

    def test_holdout_forecast_is_close_to_actual(
        self, cdnow_model: BetaGeoModel, cdnow: CdnowSummary
    ) -> None:
        # FHL 2005 report the BG/NBD tracks the 39-week holdout well in aggregate.
        expected = cdnow_model.expected_purchases(39, cdnow.frequency, cdnow.recency, cdnow.T)
        assert expected.sum() == pytest.approx(cdnow.holdout_frequency.sum(), rel=0.15)


class TestWeights:
    def test_weighted_fit_equals_expanded_fit(self, cdnow: CdnowSummary) -> None:
        doubled = BetaGeoModel().fit(
            np.concatenate([cdnow.frequency, cdnow.frequency]),
            np.concatenate([cdnow.recency, cdnow.recency]),
            np.concatenate([cdnow.T, cdnow.T]),
        )
        weighted = BetaGeoModel().fit(
            cdnow.frequency, cdnow.recency, cdnow.T, weights=np.full(2357, 2.0)
        )
        for name in PUBLISHED:
            assert getattr(weighted.params_, name) == pytest.approx(
                getattr(doubled.params_, name), rel=1e-6
            )
        assert weighted.log_likelihood_ == pytest.approx(doubled.log_likelihood_, rel=1e-10)
        assert weighted.n_customers_ == doubled.n_customers_ == 4714

    def test_compressed_input_with_counts_equals_raw_input(self, cdnow: CdnowSummary) -> None:
        from wafa.analytics.models import compress

        c = compress(cdnow.frequency, cdnow.recency, cdnow.T)
        raw = BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow.T)
        compact = BetaGeoModel().fit(c.frequency, c.recency, c.T, weights=c.weights)
        assert compact.log_likelihood_ == pytest.approx(raw.log_likelihood_, rel=1e-12)
        assert compact.params_.r == pytest.approx(raw.params_.r, rel=1e-8)


class TestDegenerateInput:
    def test_no_repeat_purchases_raises_with_advice(self) -> None:
        with pytest.raises(ConvergenceError, match="penalizer"):
            BetaGeoModel().fit([0, 0, 0], [0, 0, 0], [10, 20, 30])

    def test_single_customer_raises(self) -> None:
        with pytest.raises(ConvergenceError, match="at least two"):
            BetaGeoModel().fit([3], [5.0], [10.0])

    def test_predicting_before_fit_raises(self) -> None:
        with pytest.raises(NotFittedError):
            BetaGeoModel().probability_alive([1], [1.0], [2.0])

    def test_rejects_recency_greater_than_t(self, model: BetaGeoModel) -> None:
        with pytest.raises(ValueError, match="recency"):
            model.expected_purchases(10, [1], [5.0], [4.0])


class TestSmallSample:
    def test_small_store_fits_with_flag_and_standard_errors(self, cdnow: CdnowSummary) -> None:
        rng = np.random.default_rng(3)
        pick = rng.choice(2357, size=250, replace=False)
        m = BetaGeoModel().fit(cdnow.frequency[pick], cdnow.recency[pick], cdnow.T[pick])
        assert m.small_sample_
        assert m.penalizer_coef_ > 0
        assert any("small sample" in w for w in m.warnings_)
        se = m.standard_errors_
        assert all(math.isfinite(getattr(se, n)) and getattr(se, n) > 0 for n in PUBLISHED)

    def test_explicit_zero_penalizer_is_respected(self, cdnow: CdnowSummary) -> None:
        m = BetaGeoModel(penalizer_coef=0.0).fit(
            cdnow.frequency[:400], cdnow.recency[:400], cdnow.T[:400]
        )
        assert m.penalizer_coef_ == 0.0


def fhl_eq10(params: BetaGeoParams, t: float, x: float, t_x: float, big_t: float) -> float:
    """FHL 2005 eq. (10) at 60 digits with mpmath."""
    mp = pytest.importorskip("mpmath")
    with mp.workdps(60):
        r, alpha, a, b = (mp.mpf(v) for v in (params.r, params.alpha, params.a, params.b))
        x_, tx_, bt, tt = (mp.mpf(v) for v in (x, t_x, big_t, t))
        z = tt / (alpha + bt + tt)
        head = (a + b + x_ - 1) / (a - 1)
        body = 1 - ((alpha + bt) / (alpha + bt + tt)) ** (r + x_) * mp.hyp2f1(
            r + x_, b + x_, a + b + x_ - 1, z
        )
        tail = 1 + (a / (b + x_ - 1)) * ((alpha + bt) / (alpha + tx_)) ** (r + x_) if x > 0 else 1
        return float(head * body / tail)


HARD_POINTS = [
    # (t, x, t_x, T)
    (39.0, 0, 0.0, 38.86),
    (39.0, 2, 30.43, 38.86),
    (52.0, 5, 38.86, 38.86),  # last purchase on the last day
    (52.0, 500, 38.86, 38.86),  # heavy buyer, recency == T
    (52.0, 500, 10.0, 38.86),  # heavy buyer gone quiet
    (1e-4, 3, 1.0, 2.0),  # tiny horizon
    (520.0, 1, 1e-6, 1e-6),  # tiny T, long horizon
    (1000.0, 0, 0.0, 1e-3),
]


class TestPredictionsAgainstClosedForm:
    @pytest.mark.parametrize(("t", "x", "t_x", "big_t"), HARD_POINTS)
    def test_conditional_expectation_matches_eq10(
        self, cdnow_model: BetaGeoModel, t: float, x: float, t_x: float, big_t: float
    ) -> None:
        got = cdnow_model.expected_purchases(t, [x], [t_x], [big_t])[0]
        assert got == pytest.approx(fhl_eq10(cdnow_model.params_, t, x, t_x, big_t), rel=1e-7)

    @pytest.mark.parametrize("t", [0.5, 39.0, 78.0, 1000.0, 1e5])
    def test_unconditional_expectation_matches_eq7(
        self, cdnow_model: BetaGeoModel, t: float
    ) -> None:
        got = cdnow_model.expected_purchases_new_customer([t])[0]
        assert got == pytest.approx(fhl_eq10(cdnow_model.params_, t, 0, 0.0, 0.0), rel=1e-7)

    @pytest.mark.parametrize(
        ("k", "a", "b", "c"),
        [
            (0.1, 0.05, 0.1, 1e4),
            (5000.0, 0.5, 5000.0, 10.0),
            (1.08, 43.6, 0.156, 57.4),
            (2.0, 3.0, 1.0, 1e-6),
        ],
    )
    def test_beta_expectation_in_extreme_regions(
        self, k: float, a: float, b: float, c: float
    ) -> None:
        mp = pytest.importorskip("mpmath")
        with mp.workdps(60):
            ref = float(
                (a + b - 1)
                / (a - 1)
                * (1 - (1 + mp.mpf(c)) ** (-k) * mp.hyp2f1(k, b, a + b - 1, c / (1 + mp.mpf(c))))
            )
        assert _beta_expectation(k, a, b, np.array([c]))[0] == pytest.approx(ref, rel=1e-7)


class TestProbabilityAlive:
    def test_customers_without_repeat_purchase_are_alive(self, model: BetaGeoModel) -> None:
        np.testing.assert_array_equal(model.probability_alive([0, 0], [0, 0], [1e-6, 100]), 1.0)

    def test_heavy_buyer_silent_for_long_is_dead_not_nan(self, model: BetaGeoModel) -> None:
        p = model.probability_alive([500, 500], [1.0, 38.86], [38.86, 38.86])
        assert np.all(np.isfinite(p))
        assert p[0] < 1e-100
        assert p[1] > 0.99


rfm = st.tuples(
    st.integers(0, 600),
    st.floats(0, 1),
    st.floats(1e-6, 200),
).map(lambda v: (float(v[0]), 0.0 if v[0] == 0 else v[1] * v[2], v[2]))


class TestPredictionProperties:
    @settings(max_examples=60, deadline=None)
    @given(rfm, st.floats(0, 500), st.floats(0, 500))
    def test_finite_non_negative_and_monotone_in_t(
        self, model: BetaGeoModel, row: tuple[float, float, float], t1: float, t2: float
    ) -> None:
        x, t_x, big_t = row
        lo, hi = sorted((t1, t2))
        e_lo = model.expected_purchases(lo, [x], [t_x], [big_t])[0]
        e_hi = model.expected_purchases(hi, [x], [t_x], [big_t])[0]
        assert math.isfinite(e_lo) and math.isfinite(e_hi)
        assert 0 <= e_lo <= e_hi * (1 + 1e-9) + 1e-300
        p = model.probability_alive([x], [t_x], [big_t])[0]
        assert 0 <= p <= 1
        median = model.median_time_to_next_purchase([x], [t_x], [big_t])[0]
        assert math.isfinite(median) and median > 0

    @settings(max_examples=30, deadline=None)
    @given(st.lists(st.floats(0, 1e4), min_size=1, max_size=5))
    def test_new_customer_curve_is_monotone(self, model: BetaGeoModel, ts: list[float]) -> None:
        ts = sorted(ts)
        curve = model.expected_purchases_new_customer(ts)
        assert np.all(np.isfinite(curve)) and np.all(curve >= 0)
        assert np.all(np.diff(curve) >= -1e-9 * curve[1:])

    def test_zero_horizon_gives_zero(self, model: BetaGeoModel) -> None:
        np.testing.assert_array_equal(model.expected_purchases(0, [0, 3], [0, 2.0], [5, 5]), 0.0)


class TestParameterIntervals:
    def test_log_scale_intervals_stay_positive_and_bracket_the_estimates(
        self, cdnow_model: BetaGeoModel
    ) -> None:
        intervals = cdnow_model.parameter_intervals(0.9)
        for name, bounds in intervals.items():
            assert bounds is not None
            value = getattr(cdnow_model.params_, name)
            assert 0 < bounds[0] < value < bounds[1]
            # Symmetric on the log scale.
            assert np.log(value / bounds[0]) == pytest.approx(np.log(bounds[1] / value))

    def test_draws_are_reproducible_and_positive(self, cdnow_model: BetaGeoModel) -> None:
        a = cdnow_model.parameter_draws(50, random_state=3)
        b = cdnow_model.parameter_draws(50, random_state=3)
        np.testing.assert_array_equal(a, b)
        assert a.shape == (50, 4) and np.all(a > 0)
