"""feedback: surveys, their invitations (the fatigue record) and answers

One answer and one invitation per (survey, customer, occasion), by unique keys.

Revision ID: f1d7945635a5
Revises: 3e20b38e9576
Create Date: 2026-12-06 18:25:05.263404+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "f1d7945635a5"
down_revision: str | Sequence[str] | None = "3e20b38e9576"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("touchpoint", sa.String(length=16), nullable=False),
        sa.Column("question", sa.JSON(), nullable=False),
        sa.Column("why", sa.JSON(), nullable=False),
        sa.Column("ask_every_days", sa.Integer(), nullable=False),
        sa.Column("edit_hours", sa.Integer(), nullable=False),
        sa.Column("link_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
    )
    op.create_table(
        "survey_asks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("occasion", sa.String(length=200), nullable=False),
        sa.Column("asked_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_survey_asks_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_survey_asks_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_asks")),
        sa.UniqueConstraint(
            "survey_id",
            "customer_id",
            "occasion",
            name=op.f("uq_survey_asks_survey_id_customer_id_occasion"),
        ),
    )
    with op.batch_alter_table("survey_asks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_survey_asks_customer_asked", ["customer_id", "asked_at"], unique=False
        )

    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("occasion", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_survey_responses_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_survey_responses_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint(
            "survey_id",
            "customer_id",
            "occasion",
            name=op.f("uq_survey_responses_survey_id_customer_id_occasion"),
        ),
    )
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.create_index("ix_survey_responses_customer", ["customer_id"], unique=False)
        batch_op.create_index(
            "ix_survey_responses_survey_created", ["survey_id", "created_at"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.drop_index("ix_survey_responses_survey_created")
        batch_op.drop_index("ix_survey_responses_customer")

    op.drop_table("survey_responses")
    with op.batch_alter_table("survey_asks", schema=None) as batch_op:
        batch_op.drop_index("ix_survey_asks_customer_asked")

    op.drop_table("survey_asks")
    op.drop_table("surveys")
