"""gatherings: members-only events and their RSVPs (capacity, waiting list, check-in)

Revision ID: 95742fe2ffa2
Revises: 7fedd763b5f1
Create Date: 2026-12-07 01:09:33.537919+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "95742fe2ffa2"
down_revision: str | Sequence[str] | None = "7fedd763b5f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gatherings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("name_ar", sa.String(length=200), nullable=True),
        sa.Column("name_fa", sa.String(length=200), nullable=True),
        sa.Column("starts_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Uuid(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("waitlist_seq", sa.Integer(), nullable=False),
        sa.Column("invite_requested_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("invited_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "accepted >= 0 AND accepted <= capacity",
            name=op.f("ck_gatherings_accepted_within_capacity"),
        ),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_gatherings_capacity_positive")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_gatherings_ends_after_start")),
        sa.CheckConstraint("points >= 0", name=op.f("ck_gatherings_points_not_negative")),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["messaging_segments.id"],
            name=op.f("fk_gatherings_segment_id_messaging_segments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gatherings")),
    )
    with op.batch_alter_table("gatherings", schema=None) as batch_op:
        batch_op.create_index("ix_gatherings_starts_at", ["starts_at"], unique=False)

    op.create_table(
        "gathering_rsvps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("gathering_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("waiting_seq", sa.Integer(), nullable=True),
        sa.Column("invited_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("promoted_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("checked_in_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("checked_in_by", sa.String(length=200), nullable=True),
        sa.Column("points_awarded", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_gathering_rsvps_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["gathering_id"],
            ["gatherings.id"],
            name=op.f("fk_gathering_rsvps_gathering_id_gatherings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gathering_rsvps")),
        sa.UniqueConstraint(
            "gathering_id", "customer_id", name=op.f("uq_gathering_rsvps_gathering_id_customer_id")
        ),
    )
    with op.batch_alter_table("gathering_rsvps", schema=None) as batch_op:
        batch_op.create_index("ix_gathering_rsvps_customer", ["customer_id"], unique=False)
        batch_op.create_index(
            "ix_gathering_rsvps_waiting", ["gathering_id", "status", "waiting_seq"], unique=False
        )
    # The old placeholder preset ``members_event`` (a daily invitation with no event behind
    # it) gives way to ``event_invitation``; it is removed only where it was never used.
    op.execute(
        "DELETE FROM flows WHERE key = 'members_event' AND NOT EXISTS "
        "(SELECT 1 FROM flow_enrolments e WHERE e.flow_id = flows.id)"
    )



def downgrade() -> None:
    with op.batch_alter_table("gathering_rsvps", schema=None) as batch_op:
        batch_op.drop_index("ix_gathering_rsvps_waiting")
        batch_op.drop_index("ix_gathering_rsvps_customer")

    op.drop_table("gathering_rsvps")
    with op.batch_alter_table("gatherings", schema=None) as batch_op:
        batch_op.drop_index("ix_gatherings_starts_at")

    op.drop_table("gatherings")
