"""feedback: complaint SLA alerts, once per (complaint, kind), for the worker's sweep

Revision ID: 0db7d2f2e2b0
Revises: 32128fa5e9f9
Create Date: 2026-12-06 19:46:12.878633+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "0db7d2f2e2b0"
down_revision: str | Sequence[str] | None = "32128fa5e9f9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "complaint_alerts",
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_complaint_alerts_complaint_id_complaints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("complaint_id", "kind", name=op.f("pk_complaint_alerts")),
    )


def downgrade() -> None:
    op.drop_table("complaint_alerts")
