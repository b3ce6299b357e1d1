"""Wafa: open-source customer retention platform."""
