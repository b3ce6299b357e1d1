from __future__ import annotations

import math

import numpy as np
import pytest

from tests.analytics.helpers import cdnow_calibration, needs_cdnow
from wafa.analytics.fitting import (
    BGNBD,
    PARETO,
    FitSettings,
    ModelFailed,
    fit_models,
)
from wafa.analytics.predicting import predict
from wafa.analytics.retention import ActivityThresholds
from wafa.analytics.simple_rules import RULE_OF_THUMB
from wafa.analytics.summary import RFMArrays

BANDS = ActivityThresholds(90, 180, "default")


def rfm(x: list[float], t_x: list[float], big_t: list[float], m: list[float]) -> RFMArrays:
    n = len(x)
    return RFMArrays(
        index=np.arange(n, dtype=np.int64),
        frequency=np.asarray(x, dtype=float),
        recency=np.asarray(t_x, dtype=float),
        T=np.asarray(big_t, dtype=float),
        monetary=np.asarray(m, dtype=float),
    )


def cdnow() -> RFMArrays:
    return cdnow_calibration()


@needs_cdnow
class TestLifetimeValue:
    def test_the_discount_integral_matches_a_daily_sum(self) -> None:
        data = cdnow()
        settings = FitSettings(money_scale=100.0, annual_discount_rate=0.15)
        fitted = fit_models(data, settings)
        predictions = predict(fitted, data, thresholds=BANDS)
        assert predictions.clv is not None and fitted.spend is not None
        # Reference: day by day, each day's expected purchases discounted continuously.
        model = fitted.model
        assert predictions.value_method == "gamma_gamma"
        delta = math.log1p(0.15) / 365
        days = np.arange(0, 366)
        cumulative = np.stack(
            [model.expected_purchases(d / 7, data.frequency, data.recency, data.T) for d in days]
        )
        increments = np.diff(cumulative, axis=0)
        discount = np.exp(-delta * (days[1:] - 0.5))
        reference_d = (increments * discount[:, None]).sum(axis=0)
        x = np.where(data.monetary > 0, data.frequency, 0.0)
        spend = fitted.spend.conditional_expected_spend(x, data.monetary / 100) * 100
        reference = reference_d * spend
        assert np.allclose(predictions.clv, reference, rtol=2e-4, atol=1e-6)

    def test_no_discount_gives_spend_times_a_year_of_purchases(self) -> None:
        data = cdnow()
        fitted = fit_models(data, FitSettings(money_scale=100.0, annual_discount_rate=0.0))
        predictions = predict(fitted, data, thresholds=BANDS)
        assert predictions.clv is not None and fitted.spend is not None
        x = np.where(data.monetary > 0, data.frequency, 0.0)
        spend = fitted.spend.conditional_expected_spend(x, data.monetary / 100) * 100
        assert np.allclose(predictions.clv, predictions.expected_365 * spend, rtol=1e-9)


@needs_cdnow
class TestChoiceAndOneTimeBuyers:
    def test_bgnbd_one_time_buyers_take_pareto_probability_alive(self) -> None:
        data = cdnow()
        fitted = fit_models(data, FitSettings(money_scale=100.0))
        fitted.chosen = BGNBD
        predictions = predict(fitted, data, thresholds=BANDS)
        pareto = fitted.transactions[PARETO].model
        assert pareto is not None
        once = data.frequency == 0
        assert predictions.p_alive is not None
        expected = pareto.probability_alive(data.frequency, data.recency, data.T)[once]
        assert np.allclose(predictions.p_alive[once], expected)
        # BG/NBD itself would say 1 for every one of them.
        assert predictions.p_alive[once].max() < 1

    def test_every_prediction_is_finite_and_ordered(self) -> None:
        data = cdnow()
        predictions = predict(
            fit_models(data, FitSettings(money_scale=100.0)), data, thresholds=BANDS
        )
        assert predictions.p_alive is not None
        for values in (
            predictions.p_alive,
            predictions.expected_30,
            predictions.expected_365,
            predictions.next_order_days,
        ):
            assert np.all(np.isfinite(values))
        assert np.all(predictions.expected_30 <= predictions.expected_90 + 1e-12)
        assert np.all(predictions.expected_90 <= predictions.expected_365 + 1e-12)
        assert np.all((predictions.p_alive >= 0) & (predictions.p_alive <= 1))


class TestSmallAndOddData:
    def test_no_repeat_purchase_says_what_to_try(self) -> None:
        data = rfm([0, 0, 0], [0, 0, 0], [5, 8, 9], [0, 0, 0])
        with pytest.raises(ModelFailed, match="What to try"):
            fit_models(data)

    def test_a_handful_of_customers_gets_the_stated_rule_with_its_ranges(self) -> None:
        data = rfm(
            [0, 1, 2, 0, 3, 1, 0, 4],
            [0, 2, 6, 0, 9, 1, 0, 11],
            [12, 10, 12, 4, 12, 8, 2, 12],
            [0, 1500, 2200, 0, 1800, 900, 0, 2500],
        )
        fitted = fit_models(data, FitSettings(money_scale=100.0))
        assert fitted.chosen is None
        assert all("bought more than once" in str(f.unusable) for f in fitted.transactions.values())
        assert any("simple rule" in w for w in fitted.warnings)
        predictions = predict(fitted, data, thresholds=BANDS)
        assert predictions.method == RULE_OF_THUMB and predictions.p_alive is None
        width = predictions.high["365"] - predictions.low["365"]
        assert np.all(width >= 0) and width.max() > 0
        assert predictions.value_method == "average_order" and predictions.clv is not None

    def test_heavy_buyers_whose_last_purchase_is_today_stay_finite(self) -> None:
        rng = np.random.default_rng(3)
        n = 400
        x = rng.integers(0, 6, n).astype(float)
        big_t = rng.uniform(20, 52, n)
        t_x = np.where(x > 0, big_t * rng.uniform(0.1, 1, n), 0.0)
        # Heavy buyers with their last purchase on the last day.
        x[:5], t_x[:5], big_t[:5] = 150.0, 52.0, 52.0
        data = RFMArrays(np.arange(n), x, t_x, big_t, np.where(x > 0, 2500.0, 0.0))
        fitted = fit_models(data, FitSettings(money_scale=100.0))
        for name in (BGNBD, PARETO):
            model = fitted.transactions[name].model
            assert model is not None
            expected = model.expected_purchases(52.0, x, t_x, big_t)
            assert np.all(np.isfinite(expected)) and expected[:5].min() > 10
            assert np.all(np.isfinite(model.probability_alive(x, t_x, big_t)))
            if fitted.transactions[name].usable:
                fitted.chosen = name
                predictions = predict(fitted, data, thresholds=BANDS)
                assert np.all(np.isfinite(predictions.expected_365))
                assert predictions.p_alive is not None
                assert np.all(np.isfinite(predictions.p_alive))
                assert predictions.high["365"][:5].min() > 10

    def test_infinite_mean_spend_withholds_lifetime_value(self) -> None:
        rng = np.random.default_rng(11)
        n = 3000
        x = rng.integers(1, 8, n).astype(float)
        big_t = rng.uniform(30, 52, n)
        t_x = big_t * rng.uniform(0.2, 1, n)
        # Gamma-Gamma spend with q = 0.7: customers' mean spend p / nu has no mean.
        nu = rng.gamma(0.7, 1 / 10.0, n)
        spend = 100 * rng.gamma(5.0 * x, 1 / (x * nu))
        data = RFMArrays(np.arange(n), x, t_x, big_t, spend)
        fitted = fit_models(data, FitSettings(money_scale=100.0))
        assert fitted.spend is not None and fitted.spend.params_.q <= 1
        assert not fitted.spend_usable
        assert any("average is not defined" in w for w in fitted.warnings)
        predictions = predict(fitted, data, thresholds=BANDS)
        assert predictions.value_method == "average_order"

    def test_spend_correlated_with_frequency_is_reported(self) -> None:
        rng = np.random.default_rng(5)
        n = 2000
        x = rng.integers(1, 10, n).astype(float)
        big_t = rng.uniform(30, 52, n)
        t_x = big_t * rng.uniform(0.2, 1, n)
        spend = 500 * x * rng.uniform(0.9, 1.1, n)
        data = RFMArrays(np.arange(n), x, t_x, big_t, spend)
        fitted = fit_models(data, FitSettings(money_scale=100.0))
        report = fitted.spend_report()
        assert report["spend_frequency_correlated"] is True
        assert report["spend_frequency_correlation"] > 0.9
        assert any("spend a different amount per order" in w for w in fitted.warnings)


class TestFitPool:
    def test_the_pool_gives_the_serial_fits_and_warnings(self) -> None:
        # Gamma-Gamma is fitted beside the purchase models in the pool: the same models,
        # choice and warnings (in the same order) as one after the other.
        rng = np.random.default_rng(3)
        n = 4000
        x = rng.poisson(rng.gamma(0.8, 2.0, n)).astype(float)
        big_t = rng.uniform(10, 52, n)
        t_x = np.where(x > 0, big_t * rng.uniform(0.1, 1, n), 0.0)
        spend = np.where(x > 0, 100 * rng.gamma(4.0, 10.0, n), 0.0)
        data = RFMArrays(np.arange(n), x, t_x, big_t, spend)
        pooled = fit_models(data, FitSettings(money_scale=100.0, parallel=True))
        serial = fit_models(data, FitSettings(money_scale=100.0, parallel=False))
        assert pooled.report() == serial.report()
        assert pooled.chosen == serial.chosen is not None
        assert pooled.warnings == serial.warnings
        assert pooled.spend is not None and serial.spend is not None
        assert pooled.spend.params_ == serial.spend.params_
