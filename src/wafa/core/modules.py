"""Importing the domain modules that may not be installed yet (registries in app, CLI, models)."""

from __future__ import annotations

import importlib
from types import ModuleType


def import_optional(name: str) -> ModuleType | None:
    """Import ``name``; return ``None`` only when that module (or a parent package) is absent.

    An ``ImportError`` raised *inside* an existing module still propagates, so a broken
    domain fails loudly instead of silently disappearing from the app.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if name == missing or name.startswith(missing + "."):
            return None
        raise
