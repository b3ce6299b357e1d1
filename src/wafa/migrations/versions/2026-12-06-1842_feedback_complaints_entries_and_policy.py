"""feedback: the complaint log (complaints with their SLA due times, their history) and its policy

An unhappy survey answer opens at most one complaint (unique survey_response_id).

Revision ID: 0e7ad18e4de3
Revises: 60dfd086b099
Create Date: 2026-12-06 18:42:28.506409+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "0e7ad18e4de3"
down_revision: str | Sequence[str] | None = "60dfd086b099"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("updated_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_policy")),
    )
    op.create_table(
        "complaints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("product", sa.String(length=200), nullable=True),
        sa.Column("location", sa.String(length=120), nullable=True),
        sa.Column("staff_id", sa.Uuid(), nullable=True),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("survey_response_id", sa.Uuid(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("waiting_since", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("paused_seconds", sa.Integer(), nullable=False),
        sa.Column("first_response_due_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("resolution_due_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["staff_users.id"],
            name=op.f("fk_complaints_assignee_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_complaints_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_complaints_staff_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["survey_response_id"],
            ["survey_responses.id"],
            name=op.f("fk_complaints_survey_response_id_survey_responses"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
        sa.UniqueConstraint("survey_response_id", name=op.f("uq_complaints_survey_response_id")),
    )
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_complaints_assignee_id"), ["assignee_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_complaints_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_complaints_customer", ["customer_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_staff_id"), ["staff_id"], unique=False)
        batch_op.create_index("ix_complaints_status", ["status", "created_at"], unique=False)

    op.create_table(
        "complaint_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("staff_id", sa.Uuid(), nullable=True),
        sa.Column("by", sa.String(length=200), nullable=True),
        sa.Column("at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_complaint_entries_complaint_id_complaints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_complaint_entries_staff_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_entries")),
    )
    with op.batch_alter_table("complaint_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_complaint_entries_complaint_id"), ["complaint_id"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("complaint_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaint_entries_complaint_id"))

    op.drop_table("complaint_entries")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_status")
        batch_op.drop_index(batch_op.f("ix_complaints_staff_id"))
        batch_op.drop_index("ix_complaints_customer")
        batch_op.drop_index(batch_op.f("ix_complaints_created_at"))
        batch_op.drop_index(batch_op.f("ix_complaints_assignee_id"))

    op.drop_table("complaints")
    op.drop_table("feedback_policy")
