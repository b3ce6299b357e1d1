"""merge the loyalty and analytics branches

Revision ID: 5e1d2c3b4a60
Revises: 9aafffe6725b, c1a0f48bdf88
Create Date: 2026-11-23 19:05:00+00:00
"""

from collections.abc import Sequence

revision: str = "5e1d2c3b4a60"
down_revision: str | Sequence[str] | None = ("9aafffe6725b", "c1a0f48bdf88")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to do: this revision only joins the two branches into one head."""


def downgrade() -> None:
    """Nothing to undo."""
