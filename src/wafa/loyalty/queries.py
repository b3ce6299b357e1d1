"""Read-only queries for the loyalty screens (the dashboard pages and the point of sale).

Each returns a ``Select`` or plain rows; nothing here writes. Customers are read
(never written) to put names next to the ids that loyalty records carry.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from wafa.customers.models import Customer
from wafa.loyalty.models import LoyaltyAccount, Referral, ReferralStatus
from wafa.orders.models import Product


def customer_names_query(ids: Iterable[uuid.UUID]) -> Select[uuid.UUID, str]:
    """Id and display name (name, else email, else phone) of the given customers."""
    label = func.coalesce(Customer.name, Customer.email, Customer.phone)
    return select(Customer.id, label).where(Customer.id.in_(list(ids)))


def customer_names(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """``{id: display name}`` for the customers among ``ids`` (erased ones have no name)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(customer_names_query(wanted)).all())  # a list of pairs


def product_names(session: Session, skus: Iterable[str | None]) -> dict[str, str]:
    """``{sku: product name}`` for the catalogue products among ``skus``."""
    wanted = {s for s in skus if s}
    if not wanted:
        return {}
    rows = session.execute(select(Product.sku, Product.name).where(Product.sku.in_(wanted)))
    return dict(rows.all())  # a list of pairs


def review_count(session: Session) -> int:
    """How many referrals wait in the review queue."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Referral)
            .where(Referral.status == ReferralStatus.review)
        )
        or 0
    )


def leaderboard_members(session: Session) -> int:
    """How many members chose to appear on the leaderboard."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(LoyaltyAccount)
            .where(LoyaltyAccount.leaderboard_opt_in.is_(True), LoyaltyAccount.closed_at.is_(None))
        )
        or 0
    )


def leaderboard_opt_in(session: Session, customer_id: uuid.UUID) -> bool:
    """Whether the member chose to appear on the leaderboard."""
    return bool(
        session.scalar(
            select(LoyaltyAccount.leaderboard_opt_in).where(
                LoyaltyAccount.customer_id == customer_id
            )
        )
    )


def referrer_of(session: Session, customer_id: uuid.UUID) -> uuid.UUID | None:
    """Who referred the customer, if anyone."""
    return session.scalar(select(Referral.referrer_id).where(Referral.referee_id == customer_id))
