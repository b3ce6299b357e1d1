"""Read-only queries for the loyalty screens (the dashboard pages and the point of sale).

Each returns a ``Select`` or plain rows; nothing here writes. Customers are read
(never written) to put names next to the ids that loyalty records carry.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterable

import phonenumbers
from sqlalchemy import ColumnElement, Select, case, false, func, or_, select
from sqlalchemy.orm import Session

from wafa.core.contacts import ContactError, normalize_phone
from wafa.core.text import ascii_digits, search_key
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


_PHONE_LIKE = re.compile(r"^\+?[\d\s().-]+$")


def counter_matches(typed: str, *, region: str) -> Select[Customer, int]:
    """Live customers matching what a cashier typed, best match first, with their rank.

    The screen invites the last digits of a phone number, so a number typed in digits
    ranks: 0 the whole number (in any local or international writing), 1 a phone
    ending in those digits, 2 a phone starting with them (typed with ``+``, ``00`` or
    the trunk ``0``). Then names: 3 a word of the name starting with what was typed,
    4 the name containing it; then 5 an email containing it. Digits found in the middle
    of a phone number rank last (6): they are more often a coincidence than the
    customer at the counter. Ties: the newest customer first.
    """
    text = typed.strip()
    key = search_key(text) or ""
    ranks: list[tuple[ColumnElement[bool], int]] = []
    if _PHONE_LIKE.match(ascii_digits(text)):
        digits = "".join(ch for ch in ascii_digits(text) if ch.isdigit())
        if len(digits) >= 3:
            with contextlib.suppress(ContactError):
                ranks.append((Customer.phone == normalize_phone(text, region), 0))
            ranks.append((Customer.phone.endswith(digits, autoescape=True), 1))
            start = _number_start(ascii_digits(text), digits, region)
            if start:
                ranks.append((Customer.phone.startswith(start, autoescape=True), 2))
            middle = digits.lstrip("0") or digits
            ranks.append((Customer.phone.contains(middle, autoescape=True), 6))
    if key:
        ranks.append((Customer.search_name.startswith(key, autoescape=True), 3))
        ranks.append((Customer.search_name.contains(" " + key, autoescape=True), 3))
        ranks.append((Customer.search_name.contains(key, autoescape=True), 4))
        ranks.append((Customer.email.contains(text.lower(), autoescape=True), 5))
    ranks.sort(key=lambda pair: pair[1])
    rank = case(*ranks, else_=9) if ranks else case((false(), 0), else_=9)
    matched = or_(*(cond for cond, _ in ranks)) if ranks else false()
    return (
        select(Customer, rank.label("rank"))
        .where(Customer.merged_into_id.is_(None), Customer.erased_at.is_(None), matched)
        .order_by(rank, Customer.id.desc())
    )


def _number_start(text: str, digits: str, region: str) -> str | None:
    """The E.164 beginning of a number typed from its start, or ``None`` (typed from the end)."""
    if text.startswith("+"):
        return "+" + digits
    if text.startswith("00"):
        return "+" + digits[2:]
    if text.startswith("0"):
        code = phonenumbers.country_code_for_region(region)
        return f"+{code}{digits[1:]}" if code else None
    return None


def points_on_merged_records(session: Session) -> list[tuple[uuid.UUID, int, bool]]:
    """Merged records whose loyalty account was not folded into the winner's yet, or still
    holds points: ``(customer, available + pending, account closed)``. An open account is
    normal until the worker has handled the merge's event; points on a closed one are lost."""
    return [
        (cid, int(points), closed)
        for cid, points, closed in session.execute(
            select(
                LoyaltyAccount.customer_id,
                LoyaltyAccount.available + LoyaltyAccount.pending,
                LoyaltyAccount.closed_at.is_not(None),
            )
            .join(Customer, Customer.id == LoyaltyAccount.customer_id)
            .where(
                Customer.merged_into_id.is_not(None),
                (LoyaltyAccount.closed_at.is_(None))
                | (LoyaltyAccount.available + LoyaltyAccount.pending != 0),
            )
            .order_by(LoyaltyAccount.customer_id)
        )
    ]
