"""portal: spent sign-in links, revocations, sessions, one-time codes, rate-limit attempts

Sign-in links are claimed by their digest (single use); a session cookie holds a random
secret whose hash is kept; addresses and IPs are kept only as keyed hashes.

Revision ID: 278287136587
Revises: f1d7945635a5
Create Date: 2026-12-06 18:25:59.673271+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "278287136587"
down_revision: str | Sequence[str] | None = "f1d7945635a5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_attempts")),
    )
    with op.batch_alter_table("portal_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_portal_attempts_key_at", ["kind", "key", "at"], unique=False)

    op.create_table(
        "portal_access",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("links_revoked_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_portal_access_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_portal_access")),
    )
    op.create_table(
        "portal_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("used_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_portal_codes_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_codes")),
    )
    with op.batch_alter_table("portal_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_codes_address_key"), ["address_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_portal_codes_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "portal_links",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("used_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_portal_links_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_portal_links")),
    )
    with op.batch_alter_table("portal_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_links_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_portal_sessions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sessions")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_portal_sessions_secret_hash")),
    )
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_sessions_customer_id"), ["customer_id"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_sessions_customer_id"))

    op.drop_table("portal_sessions")
    with op.batch_alter_table("portal_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_links_customer_id"))

    op.drop_table("portal_links")
    with op.batch_alter_table("portal_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_codes_customer_id"))
        batch_op.drop_index(batch_op.f("ix_portal_codes_address_key"))

    op.drop_table("portal_codes")
    op.drop_table("portal_access")
    with op.batch_alter_table("portal_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_portal_attempts_key_at")

    op.drop_table("portal_attempts")
