"""messaging campaigns and their recipients

A campaign (segment, channel, text per locale, holdout share and seed, schedule, coupon)
and its recipients: the segment's members when it was sent, each with the holdout draw.

Revision ID: 3e20b38e9576
Revises: 19abd20b2a89
Create Date: 2026-12-06 18:24:28.064702+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "3e20b38e9576"
down_revision: str | Sequence[str] | None = "19abd20b2a89"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "messaging_campaigns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("segment_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.JSON(), nullable=False),
        sa.Column("text", sa.JSON(), nullable=False),
        sa.Column("html", sa.JSON(), nullable=False),
        sa.Column("holdout_percent", sa.Integer(), nullable=False),
        sa.Column("holdout_seed", sa.String(length=32), nullable=False),
        sa.Column("schedule", sa.String(length=8), nullable=False),
        sa.Column("send_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("local_date", sa.Date(), nullable=True),
        sa.Column("local_time", sa.String(length=5), nullable=True),
        sa.Column("coupon", sa.JSON(), nullable=True),
        sa.Column("report_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=True),
        sa.Column("queued_through", sa.Uuid(), nullable=True),
        sa.Column("started_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("queued_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("paused_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["messaging_segments.id"],
            name=op.f("fk_messaging_campaigns_segment_id_messaging_segments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messaging_campaigns")),
    )
    with op.batch_alter_table("messaging_campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_messaging_campaigns_status", ["status"], unique=False)

    op.create_table(
        "messaging_campaign_recipients",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("holdout", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["messaging_campaigns.id"],
            name=op.f("fk_messaging_campaign_recipients_campaign_id_messaging_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_messaging_campaign_recipients_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id", "customer_id", name=op.f("pk_messaging_campaign_recipients")
        ),
    )
    with op.batch_alter_table("messaging_campaign_recipients", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messaging_campaign_recipients_holdout", ["campaign_id", "holdout"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("messaging_campaign_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_messaging_campaign_recipients_holdout")

    op.drop_table("messaging_campaign_recipients")
    with op.batch_alter_table("messaging_campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_messaging_campaigns_status")

    op.drop_table("messaging_campaigns")
