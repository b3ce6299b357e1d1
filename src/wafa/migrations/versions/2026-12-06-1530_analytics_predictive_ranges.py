"""analytics: predictive ranges for 30- and 90-day purchases and for lifetime value

The ``expected_purchases_365_low/high`` columns now hold the 90 % predictive range of the
actual number of repeat purchases (before, a range for the expectation only); the same
range is stored for 30 and 90 days, and for the lifetime value. The scores are a cache
replaced by every refresh, so the new columns start empty.

Revision ID: 5b1e7d2c9a40
Revises: 5f567ae0e360
Create Date: 2026-12-06 15:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1e7d2c9a40"
down_revision: str | Sequence[str] | None = "5f567ae0e360"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLOATS = (
    "expected_purchases_30_low",
    "expected_purchases_30_high",
    "expected_purchases_90_low",
    "expected_purchases_90_high",
)
AMOUNTS = ("clv_low_amount", "clv_high_amount")


def upgrade() -> None:
    with op.batch_alter_table("analytics_customer_scores") as batch:
        for name in FLOATS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
        for name in AMOUNTS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("analytics_customer_scores") as batch:
        for name in (*AMOUNTS, *reversed(FLOATS)):
            batch.drop_column(name)
