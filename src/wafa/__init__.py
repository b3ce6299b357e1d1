"""Wafa: open-source customer retention platform."""

__version__ = "0.1.0"
