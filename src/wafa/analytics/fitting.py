"""Fit the customer-base models on a summary and turn them into per-customer predictions.

The glue between :mod:`wafa.analytics.summary` and the pure-math models in
:mod:`wafa.analytics.models`:

1. compress the calibration summary into distinct ``(x, t_x, T)`` triples with weights;
2. fit BG/NBD (Fader, Hardie & Lee 2005) and Pareto/NBD (Schmittlein, Morrison &
   Colombo 1987) side by side; a model that does not converge is reported, not fatal,
   as long as the other one fits;
3. choose between them: on the holdout when there is one (lower mean absolute error
   per customer, see :mod:`wafa.analytics.holdout`), otherwise on the log-likelihood
   (both have four parameters, so this is also the AIC choice);
4. fit Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV") on the repeat customers'
   average spend, report the spend/frequency correlation, and withhold spend-based
   CLV when ``q <= 1`` (the mean spend is infinite);
5. predict for every customer: probability alive, expected purchases in the next 30,
   90 and 365 days (with a parameter-uncertainty band), the expected next order date,
   CLV over a horizon with a discount rate, and a churn-risk band.

Nothing here returns NaN silently: a non-finite prediction is dropped to "unknown" and
counted in the warnings, and a fit that cannot be made raises :class:`ModelFailed`
with what to try.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from wafa.analytics.models import (
    BetaGeoModel,
    ConvergenceError,
    InfiniteMeanSpend,
    ParetoNBDModel,
    compress,
)
from wafa.analytics.models.gamma_gamma import GammaGammaModel
from wafa.analytics.summary import RFMArrays
from wafa.core.errors import WafaError

__all__ = [
    "CHURN_BANDS",
    "FitSettings",
    "Fitted",
    "ModelFailed",
    "Predictions",
    "TimeUnit",
    "TransactionFit",
    "fit_models",
    "predict",
]

FloatArray = npt.NDArray[np.float64]

BGNBD = "bgnbd"
PARETO = "pareto_nbd"
MODEL_NAMES = {BGNBD: "BG/NBD", PARETO: "Pareto/NBD"}
MODEL_CLASSES: dict[str, type[BetaGeoModel] | type[ParetoNBDModel]] = {
    BGNBD: BetaGeoModel,
    PARETO: ParetoNBDModel,
}

#: ``P(alive)`` at or above the first value is low risk, below the second high risk.
CHURN_BANDS = (0.7, 0.3)
#: Below this ``P(alive)`` no next order date is given ("not expected").
NEXT_ORDER_MIN_P_ALIVE = 0.5
#: Days per month of the CLV horizon (a year of 12 months is 365 days).
DAYS_PER_MONTH = 365.0 / 12
#: Gauss-Legendre nodes of the discounting integral (exact for polynomials of degree 9).
CLV_NODES = 5
#: Parameter-uncertainty bands are drawn when there are at most this many distinct
#: triples (or the sample is small, where they matter); beyond it they are negligible.
INTERVAL_MAX_DISTINCT = 5_000
INTERVAL_DRAWS = 100


class TimeUnit(StrEnum):
    """Unit in which the models measure time."""

    day = "day"
    week = "week"

    @property
    def days(self) -> float:
        """Length of the unit in days."""
        return 1.0 if self is TimeUnit.day else 7.0


class ModelFailed(WafaError):
    """No purchase model could be fitted; the message says what to try."""

    code = "model-did-not-converge"
    status = 422
    title = "The prediction model could not be fitted"


@dataclass(frozen=True)
class FitSettings:
    """How predictions are made.

    Attributes
    ----------
    time_unit : TimeUnit
        Unit of ``recency`` and ``T`` given to the models.
    clv_months : int
        Horizon of the lifetime value in months (12 months = 365 days).
    annual_discount_rate : float
        Yearly discount rate of future revenue (0.10 = 10 % a year), applied
        continuously.
    random_state : int
        Seed of the parameter draws behind the uncertainty bands.
    parallel : bool
        Fit the two purchase models in two threads (NumPy releases the GIL).
    money_scale : float
        Minor units per major unit (100 for USD): spend is modelled in major units so
        that the Gamma-Gamma parameters read as in the literature (CDNOW's ``gamma`` is
        15.44 dollars); lifetime values come back in minor units.
    """

    time_unit: TimeUnit = TimeUnit.week
    clv_months: int = 12
    annual_discount_rate: float = 0.10
    random_state: int = 0
    parallel: bool = True
    money_scale: float = 1.0

    @property
    def discount_force(self) -> float:
        """Continuous discount rate per day equivalent to the annual rate."""
        return float(math.log1p(self.annual_discount_rate) / 365.0)

    @property
    def horizon_days(self) -> float:
        """Lifetime value horizon in days."""
        return self.clv_months * DAYS_PER_MONTH


@dataclass
class TransactionFit:
    """One purchase model's outcome: the fitted model, or why it failed."""

    name: str
    model: BetaGeoModel | ParetoNBDModel | None
    error: str | None = None

    def report(self) -> dict[str, Any]:
        """Return parameters, standard errors, log-likelihood and warnings as plain data."""
        if self.model is None:
            return {"fitted": False, "error": self.error}
        summary = self.model.summary()
        return {
            "fitted": True,
            "params": summary["params"],
            "standard_errors": {
                k: _finite_or_none(v) for k, v in summary["standard_errors"].items()
            },
            "log_likelihood": summary["log_likelihood"],
            "customers": int(self.model.n_customers_),
            "repeat_customers": int(self.model.n_repeat_customers_),
            "distinct_triples": int(self.model.n_distinct_),
            "small_sample": bool(self.model.small_sample_),
            "warnings": list(self.model.warnings_),
        }


@dataclass
class Fitted:
    """Both purchase models, the spend model, and which purchase model is used."""

    transactions: dict[str, TransactionFit]
    chosen: str
    chosen_by: str
    spend: GammaGammaModel | None
    spend_error: str | None
    settings: FitSettings
    warnings: list[str] = field(default_factory=list)

    @property
    def model(self) -> BetaGeoModel | ParetoNBDModel:
        """The chosen purchase model."""
        model = self.transactions[self.chosen].model
        assert model is not None
        return model

    @property
    def spend_usable(self) -> bool:
        """Whether spend-based predictions (CLV) can be made (fitted and ``q > 1``)."""
        return self.spend is not None and bool(self.spend.mean_spend_finite_)

    @property
    def small_sample(self) -> bool:
        """Whether the chosen model was fitted on few repeat customers."""
        return bool(self.model.small_sample_)

    def choose(self, name: str, reason: str) -> None:
        """Switch the chosen model (after a holdout comparison)."""
        if self.transactions[name].model is None:
            raise ValueError(f"{name} was not fitted")
        self.chosen = name
        self.chosen_by = reason

    def report(self) -> dict[str, Any]:
        """Return the ``models`` block of the JSON output."""
        out: dict[str, Any] = {name: fit.report() for name, fit in self.transactions.items()}
        out["gamma_gamma"] = self.spend_report()
        out["chosen"] = self.chosen
        out["chosen_by"] = self.chosen_by
        out["time_unit"] = self.settings.time_unit.value
        return out

    def spend_report(self) -> dict[str, Any]:
        """Return the Gamma-Gamma block: parameters, correlation check, usability."""
        if self.spend is None:
            return {"fitted": False, "usable": False, "error": self.spend_error}
        s = self.spend
        corr = s.spend_frequency_correlation_
        return {
            "fitted": True,
            "usable": self.spend_usable,
            "params": {"p": s.params_.p, "q": s.params_.q, "gamma": s.params_.gamma},
            "standard_errors": {
                "p": _finite_or_none(s.standard_errors_.p),
                "q": _finite_or_none(s.standard_errors_.q),
                "gamma": _finite_or_none(s.standard_errors_.gamma),
            },
            "log_likelihood": s.log_likelihood_,
            "customers": int(s.n_customers_),
            "mean_spend": s.mean_spend_,
            "spend_frequency_correlation": corr,
            "spend_frequency_correlated": bool(s.spend_frequency_correlated_),
            "small_sample": bool(s.small_sample_),
            "warnings": list(s.warnings_),
            "error": self.spend_error,
        }


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _fit_one(
    name: str, x: FloatArray, t_x: FloatArray, big_t: FloatArray, w: FloatArray
) -> TransactionFit:
    try:
        model = MODEL_CLASSES[name]().fit(x, t_x, big_t, weights=w)
    except ConvergenceError as exc:
        return TransactionFit(name, None, str(exc))
    return TransactionFit(name, model)


def spend_inputs(rfm: RFMArrays, money_scale: float = 1.0) -> tuple[FloatArray, FloatArray]:
    """Return ``(x, z-bar)`` for Gamma-Gamma: repeat customers with a positive mean spend.

    Customers whose repeat purchases were all worth nothing (free orders) carry no
    information about spend and are treated as having no repeat purchase.

    Parameters
    ----------
    rfm : RFMArrays
        Summary (monetary values in minor units).
    money_scale : float
        Minor units per major unit; the mean spend is returned in major units.

    Returns
    -------
    tuple of numpy.ndarray
        Frequency (0 where the mean spend is not positive) and mean spend.
    """
    x = np.where(rfm.monetary > 0, rfm.frequency, 0.0)
    return np.asarray(x, dtype=np.float64), np.asarray(rfm.monetary / money_scale, dtype=np.float64)


def fit_models(
    calibration: RFMArrays,
    settings: FitSettings | None = None,
    *,
    models: tuple[str, ...] = (BGNBD, PARETO),
) -> Fitted:
    """Fit BG/NBD, Pareto/NBD and Gamma-Gamma on the calibration summary.

    Parameters
    ----------
    calibration : RFMArrays
        Calibration-period summary in ``settings.time_unit``.
    settings : FitSettings, optional
        Prediction settings.
    models : tuple of str, optional
        Purchase models to fit (``bgnbd``, ``pareto_nbd``); both by default.

    Returns
    -------
    Fitted
        The fits; the purchase model with the higher log-likelihood is chosen until a
        holdout comparison says otherwise.

    Raises
    ------
    ModelFailed
        When neither purchase model can be fitted (the message says what to try).
    """
    settings = settings or FitSettings()
    if calibration.frequency.shape[0] == 0:
        raise ModelFailed("there are no customers to fit the models on")
    c = compress(calibration.frequency, calibration.recency, calibration.T)
    args = (c.frequency, c.recency, c.T, c.weights)
    unknown = set(models) - set(MODEL_CLASSES)
    if unknown or not models:
        raise ValueError(f"unknown models {sorted(unknown)}; use {sorted(MODEL_CLASSES)}")
    if settings.parallel and len(models) > 1:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="wafa-fit") as pool:
            futures = {name: pool.submit(_fit_one, name, *args) for name in models}
            fits = {name: f.result() for name, f in futures.items()}
    else:
        fits = {name: _fit_one(name, *args) for name in models}
    fitted_names = [n for n, f in fits.items() if f.model is not None]
    if not fitted_names:
        repeaters = int(c.weights[c.frequency > 0].sum())
        # A model's own error usually names it already ("BG/NBD: no customer ...").
        errors = " ".join(
            str(f.error)
            if str(f.error).startswith(MODEL_NAMES[n])
            else f"{MODEL_NAMES[n]}: {f.error}"
            for n, f in fits.items()
        )
        what = (
            f"neither {' nor '.join(MODEL_NAMES[n] for n in models)} could be fitted"
            if len(models) > 1
            else f"{MODEL_NAMES[models[0]]} could not be fitted"
        )
        raise ModelFailed(
            f"{what} ({len(calibration.frequency)} customers, "
            f"{repeaters} with a repeat purchase). "
            f"{errors} "
            "What to try: include more history (an earlier start or a later calibration "
            "end), use --time-unit week, or wait until more customers have come back."
        )
    chosen = max(fitted_names, key=lambda n: _log_likelihood(fits[n]))
    reason = (
        "log-likelihood (no holdout period to compare on)"
        if len(fitted_names) > 1
        else f"the only model that could be fitted ({MODEL_NAMES[chosen]})"
    )
    warnings: list[str] = []
    for name, fit in fits.items():
        if fit.model is None:
            warnings.append(f"{MODEL_NAMES[name]} could not be fitted: {fit.error}")
    x_spend, z_spend = spend_inputs(calibration, settings.money_scale)
    spend: GammaGammaModel | None = None
    spend_error: str | None = None
    try:
        spend = GammaGammaModel().fit(x_spend, z_spend)
    except ConvergenceError as exc:
        spend_error = str(exc)
        warnings.append(
            "Spend per order could not be modelled, so no lifetime value is given: " + spend_error
        )
    result = Fitted(fits, chosen, reason, spend, spend_error, settings, warnings)
    if result.small_sample:
        repeaters = int(result.model.n_repeat_customers_)
        warnings.append(
            f"Only {repeaters} customer{'s' if repeaters != 1 else ''} bought more than once, "
            "so the predictions are rough: read them as a guide, and look at the ranges "
            "around them, which show how uncertain they are."
        )
    if spend is not None and not spend.mean_spend_finite_:
        warnings.append(
            f"Spend per order varies so widely (Gamma-Gamma q = {spend.params_.q:.3g}, at most 1) "
            "that its average is not defined: lifetime values based on spend are withheld. "
            "Look for unusually large orders (wholesale, data errors) and analyse them apart."
        )
    if spend is not None and spend.spend_frequency_correlated_:
        warnings.append(
            "Customers who buy more often also spend a different amount per order "
            f"(correlation {spend.spend_frequency_correlation_:.2f}); the spend model assumes "
            "they are unrelated, so lifetime values are less reliable."
        )
    return result


def _log_likelihood(fit: TransactionFit) -> float:
    return float(fit.model.log_likelihood_) if fit.model is not None else -math.inf


@dataclass(frozen=True)
class Predictions:
    """Per-customer predictions, aligned with the :class:`RFMArrays` they were made for.

    ``None`` entries (object arrays) mean "not available": CLV when the spend model is
    withheld, intervals when not computed, the next order when not expected.

    Attributes
    ----------
    p_alive : numpy.ndarray
        Probability that the customer is still a customer.
    expected_30, expected_90, expected_365 : numpy.ndarray
        Expected purchases in the next 30, 90, 365 days.
    expected_365_low, expected_365_high : numpy.ndarray or None
        5 % and 95 % points of the 365-day expectation under parameter uncertainty.
    next_order_days : numpy.ndarray
        Median days until the next order if still a customer; NaN-free: ``-1`` when
        no order is expected (``P(alive)`` below 0.5).
    clv : numpy.ndarray or None
        Discounted expected revenue over the horizon in minor units, ``None`` when the
        spend model is withheld.
    churn_risk : numpy.ndarray
        ``low``/``medium``/``high`` from ``p_alive``.
    warnings : list of str
        What was dropped and why.
    """

    p_alive: FloatArray
    expected_30: FloatArray
    expected_90: FloatArray
    expected_365: FloatArray
    expected_365_low: FloatArray | None
    expected_365_high: FloatArray | None
    next_order_days: FloatArray
    clv: FloatArray | None
    churn_risk: npt.NDArray[np.str_]
    warnings: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        """Return business-level totals and distributions of the predictions."""
        out: dict[str, Any] = {
            "customers": int(self.p_alive.shape[0]),
            "expected_active_customers": float(self.p_alive.sum()),
            "expected_purchases_30": float(self.expected_30.sum()),
            "expected_purchases_90": float(self.expected_90.sum()),
            "expected_purchases_365": float(self.expected_365.sum()),
            "churn_risk": {
                band: int(np.count_nonzero(self.churn_risk == band))
                for band in ("low", "medium", "high")
            },
            "p_alive_histogram": _histogram(self.p_alive, np.linspace(0, 1, 11)),
        }
        if self.expected_365_low is not None and self.expected_365_high is not None:
            out["expected_purchases_365_band"] = [
                float(self.expected_365_low.sum()),
                float(self.expected_365_high.sum()),
            ]
        if self.clv is not None:
            out["clv_total"] = round(float(self.clv.sum()))
            out["clv_quantiles"] = {
                str(q): round(float(np.quantile(self.clv, q))) if self.clv.size else 0
                for q in (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
            }
        return out


def _histogram(values: FloatArray, edges: FloatArray) -> list[dict[str, float]]:
    counts, _ = np.histogram(values, bins=edges)
    return [
        {"from": float(lo), "to": float(hi), "customers": int(n)}
        for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True)
    ]


def churn_band(p_alive: FloatArray) -> npt.NDArray[np.str_]:
    """Map ``P(alive)`` to ``low``/``medium``/``high`` churn risk.

    Parameters
    ----------
    p_alive : numpy.ndarray
        Probabilities.

    Returns
    -------
    numpy.ndarray
        Band per customer (thresholds :data:`CHURN_BANDS`).
    """
    low, high = CHURN_BANDS
    return np.where(p_alive >= low, "low", np.where(p_alive < high, "high", "medium"))


def _guard(name: str, values: FloatArray, fallback: float, warnings: list[str]) -> FloatArray:
    bad = ~np.isfinite(values)
    if np.any(bad):
        warnings.append(
            f"{int(bad.sum())} {name} value(s) could not be computed and are shown as {fallback:g}"
        )
        values = np.where(bad, fallback, values)
    return np.asarray(np.maximum(values, 0.0), dtype=np.float64)


def predict(fitted: Fitted, current: RFMArrays, *, parallel: bool | None = None) -> Predictions:
    """Predict for every customer of ``current`` with the chosen models.

    Parameters
    ----------
    fitted : Fitted
        The fits (parameters come from the calibration period).
    current : RFMArrays
        The customers' histories up to now, in the fit's time unit.
    parallel : bool, optional
        Evaluate the horizons in two threads (defaults to the fit settings).

    Returns
    -------
    Predictions
        Finite predictions per customer.

    Notes
    -----
    BG/NBD assumes a customer can only leave right after a purchase, so it puts the
    probability alive of every one-time buyer at 1 whatever their age. For those
    customers ``p_alive`` (and so the churn band) comes from Pareto/NBD when it was
    fitted, which lets one-time buyers leave; their expected purchases still come from
    the chosen model.
    """
    settings = fitted.settings
    unit = settings.time_unit.days
    model = fitted.model
    warnings: list[str] = []
    c = compress(current.frequency, current.recency, current.T)
    xu, tu, bu = c.frequency, c.recency, c.T
    horizons = {"30": 30.0 / unit, "90": 90.0 / unit, "365": 365.0 / unit}
    # Lifetime value: the expected purchases of the next H days, each discounted
    # continuously at the annual rate (as the DERT of Fader, Hardie & Lee 2005b, but
    # over a finite horizon), times the expected spend per purchase:
    #   D = int_0^H e^{-dt} dE(t) = e^{-dH} E(H) + d int_0^H e^{-dt} E(t) dt,
    # the integral by Gauss-Legendre quadrature (E is smooth and increasing), which
    # needs a handful of horizons rather than one per month.
    delta = settings.discount_force
    horizon_days = settings.horizon_days
    gl_nodes, gl_weights = np.polynomial.legendre.leggauss(CLV_NODES)
    node_days = (gl_nodes + 1) * horizon_days / 2
    node_weights = gl_weights * horizon_days / 2

    def horizon(t: float) -> Callable[[], FloatArray]:
        return lambda: model.expected_purchases(t, xu, tu, bu)

    jobs: dict[str, Callable[[], FloatArray]] = {f"e{k}": horizon(t) for k, t in horizons.items()}
    if fitted.spend_usable:
        for i, day in enumerate(node_days):
            jobs[f"q{i}"] = horizon(float(day) / unit)
        if abs(horizon_days - 365.0) > 1e-9:
            jobs["eH"] = horizon(horizon_days / unit)
    jobs["alive"] = lambda: model.probability_alive(xu, tu, bu)
    pareto_fit = fitted.transactions.get(PARETO)
    pareto = pareto_fit.model if pareto_fit is not None else None
    if fitted.chosen == BGNBD and pareto is not None:
        jobs["alive_pareto"] = lambda: pareto.probability_alive(xu, tu, bu)
    use_threads = settings.parallel if parallel is None else parallel
    if use_threads:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="wafa-predict") as pool:
            futures = {k: pool.submit(f) for k, f in jobs.items()}
            results = {k: f.result() for k, f in futures.items()}
    else:
        results = {k: f() for k, f in jobs.items()}

    alive = results["alive"]
    if "alive_pareto" in results:
        alive = np.where(xu == 0, results["alive_pareto"], alive)
    alive = np.clip(_guard("probability-alive", alive, 0.0, warnings), 0.0, 1.0)
    e30 = _guard("30-day expected purchases", results["e30"], 0.0, warnings)
    e90 = _guard("90-day expected purchases", results["e90"], 0.0, warnings)
    e365 = _guard("365-day expected purchases", results["e365"], 0.0, warnings)

    low = high = None
    n_distinct = int(xu.shape[0])
    if fitted.small_sample or n_distinct <= INTERVAL_MAX_DISTINCT:
        band = model.expected_purchases_interval(
            horizons["365"],
            xu,
            tu,
            bu,
            quantiles=(0.05, 0.95),
            n_draws=INTERVAL_DRAWS,
            random_state=settings.random_state,
        )
        bad = ~(np.isfinite(band[0]) & np.isfinite(band[1]))
        if np.any(bad):
            warnings.append(
                f"The uncertainty range of {int(bad.sum())} kind(s) of customer history could "
                "not be computed; they show the estimate alone."
            )
        low = np.where(bad, e365, np.minimum(np.maximum(band[0], 0.0), e365))
        high = np.where(bad, e365, np.maximum(band[1], e365))

    # Given alive, lambda ~ Gamma(r + x, alpha + T) in both models; the waiting time to the
    # next purchase is then Lomax, with median (alpha + T)(2^(1/(r+x)) - 1).
    r = float(model.params_.r)
    alpha = float(model.params_.alpha)
    median_wait = (alpha + bu) * np.expm1(np.log(2.0) / (r + xu)) * unit
    next_days = np.where(alive >= NEXT_ORDER_MIN_P_ALIVE, median_wait, -1.0)
    next_days = np.where(np.isfinite(next_days), next_days, -1.0)

    clv: FloatArray | None = None
    if fitted.spend_usable and fitted.spend is not None:
        at_horizon = results.get("eH", results["e365"])
        integral = np.zeros(n_distinct)
        for i, (day, weight) in enumerate(zip(node_days, node_weights, strict=True)):
            integral += weight * math.exp(-delta * float(day)) * results[f"q{i}"]
        discounted = math.exp(-delta * horizon_days) * at_horizon + delta * integral
        discounted = _guard("lifetime value", discounted, 0.0, warnings)
        x_spend, z_spend = spend_inputs(current, settings.money_scale)
        try:
            spend = fitted.spend.conditional_expected_spend(x_spend, z_spend) * settings.money_scale
        except InfiniteMeanSpend:  # pragma: no cover - spend_usable checked q > 1
            spend = None
        if spend is not None:
            clv = _guard("lifetime value", discounted[c.inverse] * spend, 0.0, warnings)

    inv = c.inverse
    p_alive = alive[inv]
    return Predictions(
        p_alive=p_alive,
        expected_30=e30[inv],
        expected_90=e90[inv],
        expected_365=e365[inv],
        expected_365_low=None if low is None else low[inv],
        expected_365_high=None if high is None else high[inv],
        next_order_days=next_days[inv],
        clv=clv,
        churn_risk=churn_band(p_alive),
        warnings=warnings,
    )
