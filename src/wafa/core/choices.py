"""Enumerations the settings and the command line share, light to import (no pydantic)."""

from __future__ import annotations

from enum import StrEnum


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Locale(StrEnum):
    en = "en"
    ar = "ar"
    fa = "fa"


class CalendarKind(StrEnum):
    gregorian = "gregorian"
    jalali = "jalali"
