"""Customer-base models: BG/NBD, Pareto/NBD and Gamma-Gamma, in NumPy and SciPy only."""

from wafa.analytics.models.base import (
    Compressed,
    ConvergenceError,
    InfiniteMeanSpend,
    NotFittedError,
    compress,
)
from wafa.analytics.models.bgnbd import BetaGeoModel, BetaGeoParams

__all__ = [
    "BetaGeoModel",
    "BetaGeoParams",
    "Compressed",
    "ConvergenceError",
    "InfiniteMeanSpend",
    "NotFittedError",
    "compress",
]
