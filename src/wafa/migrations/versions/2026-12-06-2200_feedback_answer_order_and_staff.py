"""feedback: survey invitations and answers carry the order they are about and the staff
member who served (breakdowns by location, channel, product and staff)

Revision ID: 5f0b6c1d2e3a
Revises: 55533b13a5b8
Create Date: 2026-12-06 22:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5f0b6c1d2e3a"
down_revision: str | Sequence[str] | None = "55533b13a5b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("survey_asks", "survey_responses"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("order_id", sa.Uuid(), nullable=True))
            batch.add_column(sa.Column("staff_id", sa.Uuid(), nullable=True))
            batch.create_foreign_key(
                op.f(f"fk_{table}_staff_id_staff_users"),
                "staff_users",
                ["staff_id"],
                ["id"],
                ondelete="SET NULL",
            )
    op.create_index(
        "ix_survey_responses_order", "survey_responses", ["order_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_survey_responses_order", table_name="survey_responses")
    for table in ("survey_responses", "survey_asks"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"fk_{table}_staff_id_staff_users"), type_="foreignkey")
            batch.drop_column("staff_id")
            batch.drop_column("order_id")
