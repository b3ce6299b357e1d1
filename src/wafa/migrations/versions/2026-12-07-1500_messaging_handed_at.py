"""messaging: a message's hand-over mark (``handed_at``), written just before it is handed over

Revision ID: d4e8a1b6c2f9
Revises: c7d1e2f3a4b5
Create Date: 2026-12-07 15:00:00+00:00

A worker marks a ``sending`` message a few at a time, committed, just before its
connection hands them to the server. A stopped worker's ``sending`` messages with the mark
may have reached the server and become ``unknown``; those without it never did and go
back to the queue. Nullable; the rows ``sending`` at the upgrade get their ``sending_at``
as mark, since they may have been handed over (a worker stopped by the upgrade must not
have them sent again): they end ``unknown``, as before this revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "d4e8a1b6c2f9"
down_revision: str | Sequence[str] | None = "c7d1e2f3a4b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("handed_at", wafa.core.db.UtcDateTime(), nullable=True))
    messages = sa.table(
        "messages",
        sa.column("status", sa.String()),
        sa.column("sending_at", wafa.core.db.UtcDateTime()),
        sa.column("handed_at", wafa.core.db.UtcDateTime()),
    )
    op.execute(
        messages.update()
        .where(messages.c.status == "sending")
        .values(handed_at=messages.c.sending_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("handed_at")
