"""flows: flows, enrolments, step runs, daily runs

Revision ID: 60dfd086b099
Revises: 278287136587
Create Date: 2026-12-06 18:26:32.144482+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "60dfd086b099"
down_revision: str | Sequence[str] | None = "278287136587"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flow_daily_runs",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ran_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_flow_daily_runs")),
    )
    op.create_table(
        "flows",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("holdout_percent", sa.Integer(), nullable=False),
        sa.Column("conversion_days", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("preset", sa.Boolean(), nullable=False),
        sa.Column("created_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flows")),
        sa.UniqueConstraint("key", name=op.f("uq_flows_key")),
    )
    op.create_table(
        "flow_enrolments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("occasion", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("due_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("entered_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("exit_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_flow_enrolments_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["flows.id"],
            name=op.f("fk_flow_enrolments_flow_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_enrolments")),
        sa.UniqueConstraint(
            "flow_id",
            "customer_id",
            "occasion",
            name=op.f("uq_flow_enrolments_flow_id_customer_id_occasion"),
        ),
    )
    with op.batch_alter_table("flow_enrolments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flow_enrolments_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index("ix_flow_enrolments_due", ["status", "due_at"], unique=False)
        batch_op.create_index(
            "ix_flow_enrolments_flow_entered", ["flow_id", "entered_at"], unique=False
        )

    op.create_table(
        "flow_step_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("enrolment_id", sa.Uuid(), nullable=False),
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["flow_enrolments.id"],
            name=op.f("fk_flow_step_runs_enrolment_id_flow_enrolments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["flows.id"],
            name=op.f("fk_flow_step_runs_flow_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_step_runs")),
        sa.UniqueConstraint(
            "enrolment_id", "step", name=op.f("uq_flow_step_runs_enrolment_id_step")
        ),
    )
    with op.batch_alter_table("flow_step_runs", schema=None) as batch_op:
        batch_op.create_index("ix_flow_step_runs_flow_step", ["flow_id", "step"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("flow_step_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_flow_step_runs_flow_step")

    op.drop_table("flow_step_runs")
    with op.batch_alter_table("flow_enrolments", schema=None) as batch_op:
        batch_op.drop_index("ix_flow_enrolments_flow_entered")
        batch_op.drop_index("ix_flow_enrolments_due")
        batch_op.drop_index(batch_op.f("ix_flow_enrolments_customer_id"))

    op.drop_table("flow_enrolments")
    op.drop_table("flows")
    op.drop_table("flow_daily_runs")
