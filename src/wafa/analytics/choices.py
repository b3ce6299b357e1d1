"""The choices ``wafa analyze`` and ``wafa analytics refresh`` offer, light to import.

They live apart from the modules that use them (``reading`` needs DuckDB, ``fitting``
NumPy) so that the command line can show its help without loading either.
"""

from __future__ import annotations

from enum import StrEnum


class InputFormat(StrEnum):
    """Layouts ``wafa analyze`` reads."""

    generic = "generic"
    shopify = "shopify"
    woocommerce = "woocommerce"


class TimeUnit(StrEnum):
    """Unit in which the models measure time."""

    day = "day"
    week = "week"

    @property
    def days(self) -> float:
        """Length of the unit in days."""
        return 1.0 if self is TimeUnit.day else 7.0
