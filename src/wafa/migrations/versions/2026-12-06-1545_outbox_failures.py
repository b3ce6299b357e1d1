"""outbox failures: events a consumer could not handle

An event whose handler raised, or whose payload does not parse as its type, is kept
unreceipted with its error, its attempts and its next retry (``retry_at``; NULL once the
automatic retries are spent and a person must look), instead of being receipted and lost.

Revision ID: fd3c89001bc9
Revises: 5b1e7d2c9a40
Create Date: 2026-12-06 14:01:18.080730+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "fd3c89001bc9"
down_revision: str | Sequence[str] | None = "5b1e7d2c9a40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_failures",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("first_failed_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("retry_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox_events.id"],
            name=op.f("fk_outbox_failures_event_id_outbox_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_outbox_failures")),
    )
    with op.batch_alter_table("outbox_failures", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_failures_event", ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_failures_retry_at"), ["retry_at"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("outbox_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_failures_retry_at"))
        batch_op.drop_index("ix_outbox_failures_event")

    op.drop_table("outbox_failures")
