"""feedback: complaints keep their text, product and location folded for the inbox's search

Revision ID: 7a1c2d3e4f50
Revises: d3447334a254
Create Date: 2026-12-06 22:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from wafa.core.text import search_key

revision: str = "7a1c2d3e4f50"
down_revision: str | Sequence[str] | None = "d3447334a254"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, text, product, location FROM complaints")).all()
    update = sa.text("UPDATE complaints SET search_text = :s WHERE id = :id")
    for row in rows:
        parts = [p for p in (row.text, row.product, row.location) if p and p.strip()]
        connection.execute(update, {"s": search_key(" | ".join(parts)), "id": row.id})


def downgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("search_text")
