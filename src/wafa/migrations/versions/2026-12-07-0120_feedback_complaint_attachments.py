"""feedback: photos and PDFs attached to complaints (bytes in the database, keyed by digest)

Revision ID: 9c3e4f5a6b72
Revises: 95742fe2ffa2
Create Date: 2026-12-07 01:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "9c3e4f5a6b72"
down_revision: str | Sequence[str] | None = "95742fe2ffa2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "complaint_attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=160), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("from_customer", sa.Boolean(), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=True),
        sa.Column("by", sa.String(length=200), nullable=True),
        sa.Column("created_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_complaint_attachments_complaint_id_complaints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_complaint_attachments_staff_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_attachments")),
        sa.UniqueConstraint(
            "complaint_id", "sha256", name=op.f("uq_complaint_attachments_complaint_id_sha256")
        ),
    )
    op.create_index(
        op.f("ix_complaint_attachments_complaint_id"),
        "complaint_attachments",
        ["complaint_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_complaint_attachments_complaint_id"), table_name="complaint_attachments"
    )
    op.drop_table("complaint_attachments")
