"""Ledger primitives: every change of a member's points goes through these functions.

The rules they keep, in the same transaction as each entry:

* ``available + pending`` on the account equals the sum of the member's entries;
  ``pending`` is the remainder of unreleased lots; ``available`` is the remainder
  of released lots minus ``debt``.
* Every credit opens lots; every debit is allocated to lots, oldest to expire
  first. A spend is always fully covered: it first passes the guarded
  ``UPDATE … SET available = available - n WHERE available >= n``, so a member can
  never spend points they do not have, whatever the concurrency.
* A reversal (a refund taking points back) takes the order's own points first, then
  available points; what is left follows the refund policy: ``negative_balance``
  books it all (``debt`` grows and the next released points pay it), ``future_earnings``
  books what is there and carries the rest (recovered from the next released
  points), ``forfeit`` books what is there and forgives the rest.
* ``(customer, reason, occasion)`` is unique: booking the same occasion twice is a
  no-op, never a duplicate.

Writers take the member's row lock first (``lock_account``), so one member's
writes happen one after another on PostgreSQL as they do on SQLite.

The package: ``accounts`` (the balance row and its lock), ``booking`` (entries,
lots, allocations, paying debts), ``settling`` (release, merges), ``reading``
(balances, checks).
"""

from wafa.loyalty.ledger.accounts import (
    Delta,
    InsufficientPoints,
    account,
    apply,
    ensure_account,
    finish_purchase,
    lock_account,
    lock_accounts,
    lock_and_read,
)
from wafa.loyalty.ledger.booking import (
    SPEND_ORDER,
    Award,
    Booked,
    LotSpec,
    credit,
    credit_awards,
    debit_lots,
    open_lots,
    settle_debts,
    spend,
    take_back,
)
from wafa.loyalty.ledger.reading import (
    Outlook,
    balance_of,
    balance_through,
    check,
    entries_for_order,
    expiring,
    lot_origins,
    outlook,
    releasing,
    spendable_from,
)
from wafa.loyalty.ledger.settling import release_due, transfer_all

__all__ = [
    "SPEND_ORDER",
    "Award",
    "Booked",
    "Delta",
    "InsufficientPoints",
    "LotSpec",
    "Outlook",
    "account",
    "apply",
    "balance_of",
    "balance_through",
    "check",
    "credit",
    "credit_awards",
    "debit_lots",
    "ensure_account",
    "entries_for_order",
    "expiring",
    "finish_purchase",
    "lock_account",
    "lock_accounts",
    "lock_and_read",
    "lot_origins",
    "open_lots",
    "outlook",
    "release_due",
    "releasing",
    "settle_debts",
    "spend",
    "spendable_from",
    "take_back",
    "transfer_all",
]
