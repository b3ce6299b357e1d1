"""loyalty: rewards carry a per-customer limit per period and say whether they are in the catalogue

A 0-point reward in the catalogue let a new member take free coupons without end. Now:
``in_catalogue`` false means only the program gives the reward (birthday, a referral's
welcome, a stamp card); a catalogue reward may carry ``limit_per_customer`` per
``limit_period``, and a free one must. Redemptions of a limited reward are numbered per
(reward, customer, period) under a unique key, so concurrent tills cannot exceed it.

Existing 0-point rewards leave the catalogue (the program still gives them); the owner
can offer one again with a limit.

Revision ID: e954c9901f06
Revises: 6727ce63049a
Create Date: 2026-12-06 14:38:24.055423+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e954c9901f06"
down_revision: str | Sequence[str] | None = "6727ce63049a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("loyalty_redemptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("period", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_loyalty_redemptions_reward_id_customer_id_period_seq"),
            ["reward_id", "customer_id", "period", "seq"],
        )

    with op.batch_alter_table("loyalty_rewards", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("in_catalogue", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(sa.Column("limit_per_customer", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("limit_period", sa.String(length=8), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_loyalty_rewards_limit_positive"),
            "limit_per_customer IS NULL OR limit_per_customer > 0",
        )

    rewards = sa.table(
        "loyalty_rewards", sa.column("cost_points", sa.BigInteger), sa.column("in_catalogue")
    )
    op.execute(rewards.update().where(rewards.c.cost_points == 0).values(in_catalogue=False))


def downgrade() -> None:
    with op.batch_alter_table("loyalty_rewards", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_loyalty_rewards_limit_positive"), type_="check")
        batch_op.drop_column("limit_period")
        batch_op.drop_column("limit_per_customer")
        batch_op.drop_column("in_catalogue")

    with op.batch_alter_table("loyalty_redemptions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_loyalty_redemptions_reward_id_customer_id_period_seq"), type_="unique"
        )
        batch_op.drop_column("seq")
        batch_op.drop_column("period")
