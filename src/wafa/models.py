"""Every domain's tables on one metadata, for Alembic and the tests."""

from __future__ import annotations

import importlib

from wafa.core.db import Base

# Each domain's table module; a domain that is not built yet is skipped.
MODEL_MODULES = (
    "wafa.core.outbox",
    "wafa.auth.models",
    "wafa.customers.models",
    "wafa.orders.models",
    "wafa.loyalty.models",
    "wafa.analytics.tables",
)

for _name in MODEL_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as _exc:
        if _exc.name != _name:
            raise

metadata = Base.metadata
