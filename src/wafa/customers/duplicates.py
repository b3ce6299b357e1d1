"""Possible duplicates: pairs of customers who may be one person, for the owner to decide.

Pairs come from two places:

* **An order that names two customers.** When an order's email belongs to one customer
  and its phone to another, the order goes to the first match (``resolve_contacts``) and
  the pair is recorded here instead of being dropped.
* **A daily scan** (``scan``): one mailbox written two ways (case, dots or a ``+tag`` in
  the local part of a Gmail-style address), or the same name (folded like search: case,
  Arabic and Persian letter forms) with the same last seven digits of the phone.

A pair is kept once (smaller id first, a unique key), so finding it again changes
nothing; a pair the owner called "not the same person" is never proposed again. Merging
is the audited merge of ``wafa.people``; this module only records the decision.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from wafa.core.db import insert_new, rowcount
from wafa.core.errors import Conflict, NotFound
from wafa.core.text import search_key
from wafa.core.time import utcnow
from wafa.customers.models import Customer, DuplicateReason, DuplicateStatus, PossibleDuplicate

__all__ = ["Pair", "decide", "open_count", "open_pairs", "record", "scan"]

#: Providers that ignore dots in the local part of an address.
DOTLESS = frozenset({"gmail.com", "googlemail.com"})
PHONE_TAIL = 7


def _ordered(a: uuid.UUID, b: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    return (a, b) if str(a) < str(b) else (b, a)


def record(
    session: Session, pairs: Iterable[tuple[uuid.UUID, uuid.UUID]], *, reason: DuplicateReason
) -> int:
    """Keep each pair (once, whatever was decided before); return how many were new."""
    added = 0
    for a, b in {_ordered(a, b) for a, b in pairs if a != b}:
        added += insert_new(
            session,
            PossibleDuplicate,
            index_elements=["customer_a_id", "customer_b_id"],
            values={
                "id": uuid.uuid4(),
                "customer_a_id": a,
                "customer_b_id": b,
                "reason": reason.value,
                "status": DuplicateStatus.open.value,
                "found_at": utcnow(),
            },
        )
    return added


def canonical_email(email: str) -> str:
    """One mailbox, however it is written: lower case, no ``+tag``, no dots at Gmail."""
    local, _, domain = email.lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in DOTLESS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def scan(session: Session) -> int:
    """Find pairs among live customers (same mailbox; same name and phone tail); return new ones."""
    rows = session.execute(
        select(Customer.id, Customer.email, Customer.phone, Customer.name).where(
            Customer.merged_into_id.is_(None), Customer.erased_at.is_(None)
        )
    ).all()
    by_mailbox: dict[str, list[uuid.UUID]] = defaultdict(list)
    by_person: dict[tuple[str, str], list[uuid.UUID]] = defaultdict(list)
    for cid, email, phone, name in rows:
        if email:
            by_mailbox[canonical_email(email)].append(cid)
        key = search_key(name)
        digits = "".join(ch for ch in phone or "" if ch.isdigit())
        if key and len(digits) >= PHONE_TAIL:
            by_person[(key, digits[-PHONE_TAIL:])].append(cid)
    found = record(session, _pairs(by_mailbox.values()), reason=DuplicateReason.same_email)
    found += record(session, _pairs(by_person.values()), reason=DuplicateReason.same_name_phone)
    return found


def _pairs(groups: Iterable[list[uuid.UUID]]) -> Iterable[tuple[uuid.UUID, uuid.UUID]]:
    for ids in groups:
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                yield a, b


@dataclass(frozen=True)
class Pair:
    """An open pair with both customers, for the side-by-side view."""

    duplicate: PossibleDuplicate
    a: Customer
    b: Customer


def open_pairs(session: Session, *, limit: int = 20, offset: int = 0) -> list[Pair]:
    """Open pairs whose two customers are both still live, oldest first."""
    a, b = aliased(Customer), aliased(Customer)
    rows = session.execute(
        select(PossibleDuplicate, a, b)
        .join(a, a.id == PossibleDuplicate.customer_a_id)
        .join(b, b.id == PossibleDuplicate.customer_b_id)
        .where(
            PossibleDuplicate.status == DuplicateStatus.open.value,
            a.merged_into_id.is_(None),
            b.merged_into_id.is_(None),
            a.erased_at.is_(None),
            b.erased_at.is_(None),
        )
        .order_by(PossibleDuplicate.found_at, PossibleDuplicate.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [Pair(duplicate=d, a=x, b=y) for d, x, y in rows]


def open_count(session: Session) -> int:
    """How many open pairs wait (both customers still live)."""
    a, b = aliased(Customer), aliased(Customer)
    return int(
        session.scalar(
            select(func.count())
            .select_from(PossibleDuplicate)
            .join(a, a.id == PossibleDuplicate.customer_a_id)
            .join(b, b.id == PossibleDuplicate.customer_b_id)
            .where(
                PossibleDuplicate.status == DuplicateStatus.open.value,
                a.merged_into_id.is_(None),
                b.merged_into_id.is_(None),
                a.erased_at.is_(None),
                b.erased_at.is_(None),
            )
        )
        or 0
    )


def get_open(session: Session, pair_id: uuid.UUID) -> PossibleDuplicate:
    """The open pair ``pair_id``; ``NotFound`` or ``Conflict`` (already decided)."""
    pair = session.get(PossibleDuplicate, pair_id)
    if pair is None:
        raise NotFound(f"no possible duplicate {pair_id}")
    if pair.status != DuplicateStatus.open.value:
        raise Conflict(f"this pair was already decided ({pair.status})")
    return pair


def decide(
    session: Session, *, pair_id: uuid.UUID, status: DuplicateStatus, by: str
) -> PossibleDuplicate:
    """Close an open pair as merged or dismissed, once (a second decision is a conflict)."""
    done = rowcount(
        session.execute(
            update(PossibleDuplicate)
            .where(
                PossibleDuplicate.id == pair_id,
                PossibleDuplicate.status == DuplicateStatus.open.value,
            )
            .values(status=status.value, decided_at=utcnow(), decided_by=by)
            .execution_options(synchronize_session=False)
        )
    )
    if done != 1:
        get_open(session, pair_id)  # raises the right error
    pair = session.get(PossibleDuplicate, pair_id)
    assert pair is not None
    session.refresh(pair)
    return pair
