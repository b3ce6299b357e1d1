"""Fit the customer-base models on a summary, and decide which one (if any) to trust.

The glue between :mod:`wafa.analytics.summary` and the pure-math models in
:mod:`wafa.analytics.models`:

1. compress the calibration summary into distinct ``(x, t_x, T)`` triples with weights;
2. fit BG/NBD (Fader, Hardie & Lee 2005) and Pareto/NBD (Schmittlein, Morrison &
   Colombo 1987) side by side; a model that does not converge is reported, not fatal;
3. check each against the stated minimums (the *ladder* for small stores, below) and
   choose among the usable ones by the log-likelihood of the calibration data (both
   have four parameters, so this is also the choice by AIC and by BIC). The choice
   never reads a holdout period: the holdout is kept to *validate* the choice
   (:mod:`wafa.analytics.holdout`);
4. fit Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV") on the repeat customers'
   average spend, report the spend/frequency correlation, and refuse it when its fit is
   degenerate.

The ladder for small stores
---------------------------
A purchase model is *usable* when it converged, at least ``MIN_REPEAT_CUSTOMERS``
customers bought more than once, the history spans at least ``MIN_HISTORY_DAYS``
days, and every parameter is identified: its standard error exists and that of its
logarithm is at most ``MAX_LOG_SE`` (beyond, the data allow the parameter to be several
times larger or smaller, and so would the forecasts). Below that, Wafa does not show a
model's forecast as if it could be trusted: :mod:`wafa.analytics.predicting` falls back
to a stated rule of thumb with its own ranges. Gamma-Gamma is usable with at least
``MIN_SPEND_CUSTOMERS`` repeat customers, identified parameters and ``q > 1``;
otherwise lifetime values use each customer's average order instead.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from wafa.analytics.choices import TimeUnit
from wafa.analytics.models import (
    BetaGeoModel,
    Compressed,
    ConvergenceError,
    ParetoNBDModel,
    compress,
)
from wafa.analytics.models.gamma_gamma import GammaGammaModel
from wafa.analytics.summary import RFMArrays
from wafa.core.errors import WafaError

__all__ = [
    "BGNBD",
    "MODEL_NAMES",
    "PARETO",
    "FitSettings",
    "Fitted",
    "ModelFailed",
    "TimeUnit",
    "TransactionFit",
    "fit_models",
    "spend_inputs",
]

FloatArray = npt.NDArray[np.float64]

BGNBD = "bgnbd"
PARETO = "pareto_nbd"
MODEL_NAMES = {BGNBD: "BG/NBD", PARETO: "Pareto/NBD"}
MODEL_CLASSES: dict[str, type[BetaGeoModel] | type[ParetoNBDModel]] = {
    BGNBD: BetaGeoModel,
    PARETO: ParetoNBDModel,
}

#: Fewest customers with a repeat purchase for a purchase model to be usable.
MIN_REPEAT_CUSTOMERS = 10
#: Shortest history (first purchase to the end of the data) for a usable model, days.
MIN_HISTORY_DAYS = 90
#: Largest standard error of a log-parameter of a usable model (e^2: a factor 7.4).
MAX_LOG_SE = 2.0
#: Fewest repeat customers with a spend for a usable Gamma-Gamma model.
MIN_SPEND_CUSTOMERS = 10
#: Level of the parameter intervals reported.
PARAMETER_LEVEL = 0.9


class ModelFailed(WafaError):
    """No forecast can be made (no customer came back); the message says what to try."""

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
        Seed of the simulations behind the ranges.
    parallel : bool
        Fit the two purchase models in two threads (NumPy releases the GIL).
    money_scale : float
        Minor units per major unit (100 for USD): spend is modelled in major units so
        that the Gamma-Gamma parameters read as in the literature (CDNOW's ``gamma`` is
        15.44 dollars); lifetime values come back in minor units.
    level : float
        Coverage of the predictive ranges.
    """

    time_unit: TimeUnit = TimeUnit.week
    clv_months: int = 12
    annual_discount_rate: float = 0.10
    random_state: int = 0
    parallel: bool = True
    money_scale: float = 1.0
    level: float = 0.9

    @property
    def discount_force(self) -> float:
        """Continuous discount rate per day equivalent to the annual rate."""
        return float(math.log1p(self.annual_discount_rate) / 365.0)

    @property
    def horizon_days(self) -> float:
        """Lifetime value horizon in days."""
        return self.clv_months * 365.0 / 12


def _identified(se: dict[str, float], params: dict[str, float]) -> str | None:
    """Say which parameter is not identified, or ``None`` when all are."""
    for name, value in params.items():
        s = se.get(name, math.inf)
        if not (math.isfinite(s) and value > 0):
            return f"{name} has no standard error"
        if s / value > MAX_LOG_SE:
            return f"{name} is not pinned down (its logarithm's standard error is {s / value:.1f})"
    return None


@dataclass
class TransactionFit:
    """One purchase model's outcome: the fitted model or why it failed, and usability."""

    name: str
    model: BetaGeoModel | ParetoNBDModel | None
    error: str | None = None
    unusable: str | None = None

    @property
    def usable(self) -> bool:
        """Whether the model passes the small-store ladder (see the module docstring)."""
        return self.model is not None and self.unusable is None

    def report(self) -> dict[str, Any]:
        """Return parameters, intervals, log-likelihood, usability and warnings as data."""
        if self.model is None:
            return {"fitted": False, "usable": False, "error": self.error}
        summary = self.model.summary()
        return {
            "fitted": True,
            "usable": self.usable,
            "unusable_because": self.unusable,
            "params": summary["params"],
            "standard_errors": {
                k: _finite_or_none(v) for k, v in summary["standard_errors"].items()
            },
            "intervals": {
                k: (None if v is None else [v[0], v[1]])
                for k, v in self.model.parameter_intervals(PARAMETER_LEVEL).items()
            },
            "interval_level": PARAMETER_LEVEL,
            "log_likelihood": summary["log_likelihood"],
            "customers": int(self.model.n_customers_),
            "repeat_customers": int(self.model.n_repeat_customers_),
            "distinct_triples": int(self.model.n_distinct_),
            "small_sample": bool(self.model.small_sample_),
            "warnings": list(self.model.warnings_),
        }


@dataclass
class Fitted:
    """Both purchase models, the spend model, and which purchase model is used.

    ``chosen`` is ``None`` when no purchase model is usable: forecasts then come from
    the rule of thumb (:mod:`wafa.analytics.predicting`).
    """

    transactions: dict[str, TransactionFit]
    chosen: str | None
    chosen_by: str
    spend: GammaGammaModel | None
    spend_error: str | None
    settings: FitSettings
    calibration: Compressed
    warnings: list[str] = field(default_factory=list)
    spend_unusable: str | None = None

    @property
    def model(self) -> BetaGeoModel | ParetoNBDModel:
        """The chosen purchase model (raises when none is usable)."""
        if self.chosen is None:
            raise ValueError("no purchase model is usable")
        model = self.transactions[self.chosen].model
        assert model is not None
        return model

    @property
    def spend_usable(self) -> bool:
        """Whether Gamma-Gamma passes its minimums (fitted, identified, ``q > 1``)."""
        return self.spend is not None and self.spend_unusable is None

    @property
    def small_sample(self) -> bool:
        """Whether the chosen model was fitted on few repeat customers."""
        return self.chosen is None or bool(self.model.small_sample_)

    def report(self) -> dict[str, Any]:
        """Return the ``models`` block of the JSON output."""
        out: dict[str, Any] = {name: fit.report() for name, fit in self.transactions.items()}
        out["gamma_gamma"] = self.spend_report()
        out["chosen"] = self.chosen
        out["chosen_by"] = self.chosen_by
        out["time_unit"] = self.settings.time_unit.value
        out["minimums"] = {
            "repeat_customers": MIN_REPEAT_CUSTOMERS,
            "history_days": MIN_HISTORY_DAYS,
            "max_log_standard_error": MAX_LOG_SE,
            "spend_repeat_customers": MIN_SPEND_CUSTOMERS,
        }
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
            "unusable_because": self.spend_unusable,
            "params": {"p": s.params_.p, "q": s.params_.q, "gamma": s.params_.gamma},
            "standard_errors": {
                "p": _finite_or_none(s.standard_errors_.p),
                "q": _finite_or_none(s.standard_errors_.q),
                "gamma": _finite_or_none(s.standard_errors_.gamma),
            },
            "intervals": {
                k: (None if v is None else [v[0], v[1]])
                for k, v in s.parameter_intervals(PARAMETER_LEVEL).items()
            },
            "interval_level": PARAMETER_LEVEL,
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


def _fit_one(name: str, c: Compressed) -> TransactionFit:
    try:
        model = MODEL_CLASSES[name]().fit(c.frequency, c.recency, c.T, weights=c.weights)
    except ConvergenceError as exc:
        return TransactionFit(name, None, str(exc))
    return TransactionFit(name, model)


def _fit_spend(
    x_spend: FloatArray, z_spend: FloatArray
) -> tuple[GammaGammaModel | None, str | None]:
    """Fit Gamma-Gamma; return it, or ``None`` and why it did not converge."""
    try:
        return GammaGammaModel().fit(x_spend, z_spend), None
    except ConvergenceError as exc:
        return None, str(exc)


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


def _ladder(fit: TransactionFit, history_days: float) -> str | None:
    """Why a fitted purchase model is not usable, in plain words, or ``None``."""
    model = fit.model
    assert model is not None
    repeaters = int(model.n_repeat_customers_)
    if repeaters < MIN_REPEAT_CUSTOMERS:
        return (
            f"only {repeaters} customer{'s' if repeaters != 1 else ''} bought more than once "
            f"(at least {MIN_REPEAT_CUSTOMERS} are needed)"
        )
    if history_days < MIN_HISTORY_DAYS:
        return (
            f"the history spans {history_days:.0f} days (at least {MIN_HISTORY_DAYS} are needed "
            "to tell customers who left from customers who buy rarely)"
        )
    summary = model.summary()
    return _identified(summary["standard_errors"], summary["params"])


def _spend_ladder(spend: GammaGammaModel) -> str | None:
    if spend.n_customers_ < MIN_SPEND_CUSTOMERS:
        return (
            f"only {spend.n_customers_:g} repeat customers with a spend "
            f"(at least {MIN_SPEND_CUSTOMERS} are needed)"
        )
    if not spend.mean_spend_finite_:
        return (
            f"spend per order varies so widely (q = {spend.params_.q:.3g}, at most 1) that its "
            "average is not defined"
        )
    p = spend.params_
    return _identified(
        {
            "p": spend.standard_errors_.p,
            "q": spend.standard_errors_.q,
            "gamma": spend.standard_errors_.gamma,
        },
        {"p": p.p, "q": p.q, "gamma": p.gamma},
    )


def fit_models(
    calibration: RFMArrays,
    settings: FitSettings | None = None,
    *,
    models: tuple[str, ...] = (BGNBD, PARETO),
) -> Fitted:
    """Fit BG/NBD, Pareto/NBD and Gamma-Gamma on the calibration summary, and choose.

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
        The fits; among the usable purchase models the one with the higher
        log-likelihood of the calibration data is chosen (``None`` when none is usable).

    Raises
    ------
    ModelFailed
        When no purchase model can be fitted at all (fewer than two customers, or
        nobody bought twice); the message says what to try.
    """
    settings = settings or FitSettings()
    if calibration.frequency.shape[0] == 0:
        raise ModelFailed("there are no customers to fit the models on")
    c = compress(calibration.frequency, calibration.recency, calibration.T)
    unknown = set(models) - set(MODEL_CLASSES)
    if unknown or not models:
        raise ValueError(f"unknown models {sorted(unknown)}; use {sorted(MODEL_CLASSES)}")
    x_spend, z_spend = spend_inputs(calibration, settings.money_scale)
    spending: Future[tuple[GammaGammaModel | None, str | None]] | None = None
    if settings.parallel and len(models) > 1:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="wafa-fit") as pool:
            futures = {name: pool.submit(_fit_one, name, c) for name in models}
            # Gamma-Gamma needs no purchase model: it is fitted in the first thread
            # free (the first purchase model's), beside the other purchase model.
            spending = pool.submit(_fit_spend, x_spend, z_spend)
            fits = {name: f.result() for name, f in futures.items()}
            if all(f.model is None for f in fits.values()):
                spending.cancel()
    else:
        fits = {name: _fit_one(name, c) for name in models}
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
    history_days = float(c.T.max()) * settings.time_unit.days if c.T.size else 0.0
    warnings: list[str] = []
    for name, fit in fits.items():
        if fit.model is None:
            warnings.append(f"{MODEL_NAMES[name]} could not be fitted: {fit.error}")
        else:
            fit.unusable = _ladder(fit, history_days)
    usable = [n for n in fitted_names if fits[n].usable]
    chosen: str | None = None
    if usable:
        chosen = max(usable, key=lambda n: float(fits[n].model.log_likelihood_))  # type: ignore[union-attr]
        reason = (
            "log-likelihood of the calibration data (both models have four parameters, so "
            "AIC and BIC agree)"
            if len(usable) > 1
            else f"the only usable model ({MODEL_NAMES[chosen]})"
        )
    else:
        why = "; ".join(f"{MODEL_NAMES[n]}: {fits[n].unusable}" for n in fitted_names)
        reason = "none usable: " + why
        warnings.append(
            "Too little history for a model to be trusted ("
            + (fits[fitted_names[0]].unusable or "")
            + "). Forecasts use a simple rule instead: each customer keeps the pace of "
            "their own purchases so far, counted in full while active, by half while "
            "lapsed and not at all once churned, with ranges of a random (Poisson) count "
            "at that pace."
        )
    spend, spend_error = _fit_spend(x_spend, z_spend) if spending is None else spending.result()
    spend_unusable: str | None = None
    if spend is not None:
        spend_unusable = _spend_ladder(spend)
    if spend is None or spend_unusable is not None:
        why = spend_unusable or spend_error or ""
        warnings.append(
            f"Spend per order cannot be modelled ({why}): lifetime values are each "
            "customer's expected purchases times their own average order (the store's "
            "average for customers who bought once)."
        )
    result = Fitted(fits, chosen, reason, spend, spend_error, settings, c, warnings, spend_unusable)
    if chosen is not None and result.small_sample:
        repeaters = int(result.model.n_repeat_customers_)
        warnings.append(
            f"Only {repeaters} customers bought more than once, so the forecasts are rough; "
            "their ranges say how rough, if the model is right."
        )
    if spend is not None and spend.spend_frequency_correlated_:
        warnings.append(
            "Customers who buy more often also spend a different amount per order "
            f"(correlation {spend.spend_frequency_correlation_:.2f}); the spend model assumes "
            "they are unrelated, so lifetime values are less reliable."
        )
    return result
