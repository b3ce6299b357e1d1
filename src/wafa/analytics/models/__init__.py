"""Customer-base models: BG/NBD, Pareto/NBD and Gamma-Gamma, in NumPy and SciPy only."""

from wafa.analytics.models.base import (
    Compressed,
    ConvergenceError,
    InfiniteMeanSpend,
    NotFittedError,
    compress,
)
from wafa.analytics.models.bgnbd import BetaGeoModel, BetaGeoParams
from wafa.analytics.models.gamma_gamma import (
    GammaGammaModel,
    GammaGammaParams,
    PurchaseForecaster,
    spend_frequency_correlation,
)
from wafa.analytics.models.pareto_nbd import ParetoNBDModel, ParetoNBDParams

__all__ = [
    "BetaGeoModel",
    "BetaGeoParams",
    "Compressed",
    "ConvergenceError",
    "GammaGammaModel",
    "GammaGammaParams",
    "InfiniteMeanSpend",
    "NotFittedError",
    "ParetoNBDModel",
    "ParetoNBDParams",
    "PurchaseForecaster",
    "compress",
    "spend_frequency_correlation",
]
