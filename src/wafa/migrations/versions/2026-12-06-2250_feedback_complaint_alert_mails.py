"""feedback: SLA breach emails to the assignee and the owner, once per complaint, breach and
address

Revision ID: 8b2d3e4f5a61
Revises: 7a1c2d3e4f50
Create Date: 2026-12-06 22:50:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "8b2d3e4f5a61"
down_revision: str | Sequence[str] | None = "7a1c2d3e4f50"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "complaint_alert_mails",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_complaint_alert_mails_complaint_id_complaints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_complaint_alert_mails_staff_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_alert_mails")),
        sa.UniqueConstraint(
            "complaint_id",
            "kind",
            "to_address",
            name=op.f("uq_complaint_alert_mails_complaint_id_kind_to_address"),
        ),
    )
    op.create_index(
        op.f("ix_complaint_alert_mails_complaint_id"),
        "complaint_alert_mails",
        ["complaint_id"],
        unique=False,
    )
    op.create_index(
        "ix_complaint_alert_mails_status",
        "complaint_alert_mails",
        ["status", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_complaint_alert_mails_status", table_name="complaint_alert_mails")
    op.drop_index(
        op.f("ix_complaint_alert_mails_complaint_id"), table_name="complaint_alert_mails"
    )
    op.drop_table("complaint_alert_mails")
