"""Every domain's tables on one metadata, for Alembic and the tests."""

from __future__ import annotations

from wafa.core.db import Base
from wafa.core.modules import import_optional

# Each domain's table module; a domain that is not built yet is skipped.
MODEL_MODULES = (
    "wafa.core.outbox",
    "wafa.auth.models",
    "wafa.customers.models",
    "wafa.orders.models",
    "wafa.loyalty.models",
    "wafa.analytics.tables",
    "wafa.messaging.models",
    "wafa.messaging.segments.models",
)

for _name in MODEL_MODULES:
    import_optional(_name)

metadata = Base.metadata
