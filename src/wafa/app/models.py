"""Every table on one metadata, for Alembic and the tests (read from the declarations)."""

from __future__ import annotations

from wafa.app.domains import CORE_MODELS, DOMAINS
from wafa.core.db import Base

# Importing a declaration imports its models: the tables are on ``Base.metadata`` now.
MODEL_MODULES = CORE_MODELS + tuple(m for d in DOMAINS for m in d.models)

metadata = Base.metadata
