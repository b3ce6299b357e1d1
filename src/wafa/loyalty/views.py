"""What the loyalty screens show: the engine's services composed for one page each.

Nothing here writes or holds a rule of the program: each function calls the loyalty
services (``service``, ``pos``, ``rewards``, ``referrals``, ``tiers`` …) and shapes
their answers for a template. Texts are English msgids with ``{name}`` fields
(``Text``); the dashboard translates them in the reader's language.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from wafa.core.calendars import add_months, from_ymd, local_date, month_start, ymd
from wafa.core.i18n import N_
from wafa.core.settings import CalendarKind, Settings
from wafa.core.text import ascii_digits
from wafa.core.time import utcnow
from wafa.loyalty import pos, program, queries, referrals, rewards, service, streaks, texts, tiers
from wafa.loyalty.models import PointsEntry, Referral, Reward, TierChange
from wafa.loyalty.schemas.io import (
    Leaderboard,
    LoyaltyStatus,
    PosSummary,
    RedemptionRead,
    ReferralStats,
)
from wafa.loyalty.schemas.program import ProgramRules
from wafa.loyalty.surprise import service as surprise

PANEL_LEDGER = 8
PANEL_HISTORY = 6
PANEL_REDEMPTIONS = 5


@dataclass(frozen=True)
class Text:
    """A message to show: an English msgid and the values of its ``{name}`` fields."""

    msgid: str
    params: Mapping[str, str] = field(default_factory=dict)


def tier_names(rules: ProgramRules) -> dict[str, str]:
    """``{tier code: tier name}`` of the rules in force."""
    return {t.code: t.name for t in rules.tiers.levels}


# --------------------------------------------------------------------------- ledger


@dataclass(frozen=True)
class LedgerLine:
    """One ledger entry as people read it: what happened, by which rule, who did it."""

    id: uuid.UUID
    at: datetime
    kind: str
    points: int
    carried: int
    forgiven: int
    reason: Text
    rule: Text | None
    order_id: uuid.UUID | None
    by: str | None
    rule_version: int | None
    balance: int | None = None
    spendable_on: datetime | None = None


def _rule_text(rule: str | None, rules: ProgramRules) -> Text | None:
    msgid = texts.rule_label(rule)
    if rule is None:
        return None
    if msgid is None:
        return Text(rule)
    head, _, tail = rule.partition(":")
    name = tail
    if head == "tier":
        name = tier_names(rules).get(tail, tail)
    return Text(msgid, {"name": name})


def ledger_line(
    entry: PointsEntry,
    rules: ProgramRules,
    *,
    balance: int | None = None,
    spendable_on: datetime | None = None,
) -> LedgerLine:
    """``entry`` with its reason and rule in words (msgids with their values)."""
    details = entry.details or {}
    number = str(details.get("number") or "")
    note = entry.note or ""
    reason = Text(
        texts.ENTRY_REASONS.get(entry.reason, entry.reason),
        {"number": number, "name": note, "note": note},
    )
    return LedgerLine(
        id=entry.id,
        at=entry.created_at,
        kind=entry.kind,
        points=entry.points,
        carried=entry.carried,
        forgiven=entry.forgiven,
        reason=reason,
        rule=_rule_text(entry.rule, rules),
        order_id=entry.order_id,
        by=entry.created_by,
        rule_version=entry.rule_version,
        balance=balance,
        spendable_on=spendable_on,
    )


@dataclass(frozen=True)
class LedgerView:
    customer_id: uuid.UUID
    name: str | None
    status: LoyaltyStatus
    lines: list[LedgerLine]
    next_cursor: str | None


def ledger_view(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    limit: int = 50,
    cursor: str | None = None,
) -> LedgerView:
    """A page of the member's ledger (newest first) with the balance it adds up to."""
    status = service.status(session, settings=settings, customer_id=customer_id)
    entries, nxt = service.ledger_page(
        session, customer_id=status.customer_id, limit=limit, cursor=cursor
    )
    rules = program.rules_at(session, settings).rules
    names = queries.customer_names(session, [status.customer_id])
    return LedgerView(
        customer_id=status.customer_id,
        name=names.get(status.customer_id),
        status=status,
        lines=_lines(session, status.customer_id, entries, rules),
        next_cursor=nxt,
    )


def _lines(
    session: Session, customer_id: uuid.UUID, entries: list[PointsEntry], rules: ProgramRules
) -> list[LedgerLine]:
    balances, spendable = service.ledger_balances(
        session, customer_id=customer_id, entries=entries, now=utcnow()
    )
    return [
        ledger_line(e, rules, balance=balances.get(e.id), spendable_on=spendable.get(e.id))
        for e in entries
    ]


# --------------------------------------------------------------------------- customer profile


@dataclass(frozen=True)
class TierLine:
    at: datetime
    from_name: str | None
    to_name: str | None
    reason: Text
    value: int | None
    note: str | None
    by: str | None


def tier_line(change: TierChange, names: Mapping[str, str]) -> TierLine:
    """A tier change in words (a tier that no longer exists shows its code)."""
    return TierLine(
        at=change.created_at,
        from_name=names.get(change.from_tier, change.from_tier) if change.from_tier else None,
        to_name=names.get(change.to_tier, change.to_tier) if change.to_tier else None,
        reason=Text(texts.TIER_REASONS.get(change.reason, change.reason)),
        value=change.qualifying_value,
        note=change.note,
        by=change.created_by,
    )


@dataclass(frozen=True)
class ReferralView:
    code: str | None
    link: str | None
    stats: ReferralStats
    referred_by: uuid.UUID | None
    referred_by_name: str | None


@dataclass(frozen=True)
class ProfilePanel:
    """The loyalty cards of the customer page."""

    summary: PosSummary
    rules: ProgramRules
    tier_names: dict[str, str]
    ledger: list[LedgerLine]
    more_ledger: bool
    tier_history: list[TierLine]
    redemptions: list[RedemptionRead]
    referral: ReferralView
    leaderboard_opt_in: bool
    rewards: dict[uuid.UUID, Reward]
    products: dict[str, str]

    @property
    def status(self) -> LoyaltyStatus:
        """The member's balance, tier, stamps and badges."""
        return self.summary.status


def profile_panel(session: Session, *, settings: Settings, customer_id: uuid.UUID) -> ProfilePanel:
    """Balance, expiring points, tier and its history, stamps, the latest ledger entries,
    redemptions and referrals of one member (read only: no account or code is created)."""
    summary = pos.summary(session, settings=settings, customer_id=customer_id)
    rules = program.rules_at(session, settings).rules
    catalogue = reward_index(session)
    entries, nxt = service.ledger_page(session, customer_id=summary.id, limit=PANEL_LEDGER)
    names = tier_names(rules)
    code = summary.status.referral_code
    referred_by = queries.referrer_of(session, summary.id)
    referrer_names = queries.customer_names(session, [referred_by] if referred_by else [])
    return ProfilePanel(
        summary=summary,
        rules=rules,
        tier_names=names,
        ledger=_lines(session, summary.id, entries, rules),
        more_ledger=nxt is not None,
        tier_history=[
            tier_line(c, names) for c in tiers.history(session, summary.id, limit=PANEL_HISTORY)
        ],
        redemptions=service.customer_redemptions(session, customer_id=summary.id)[
            :PANEL_REDEMPTIONS
        ],
        referral=ReferralView(
            code=code,
            link=referrals.referral_link(rules, code) if code else None,
            stats=referrals.stats(session, summary.id),
            referred_by=referred_by,
            referred_by_name=referrer_names.get(referred_by) if referred_by else None,
        ),
        leaderboard_opt_in=queries.leaderboard_opt_in(session, summary.id),
        rewards=catalogue,
        products=queries.product_names(session, [r.product_sku for r in catalogue.values()]),
    )


def reward_index(session: Session) -> dict[uuid.UUID, Reward]:
    """Every reward of the catalogue by id (to describe what a reward gives)."""
    return {r.id: r for r in rewards.list_rewards(session)}


# --------------------------------------------------------------------------- point of sale


@dataclass(frozen=True)
class PosRow:
    id: uuid.UUID
    name: str | None
    phone: str | None
    email: str | None
    tier: str | None
    tier_name: str | None
    available: int


def pos_search(session: Session, *, settings: Settings, q: str, limit: int = 8) -> list[PosRow]:
    """Customers matching a phone fragment (any digits) or a name, with tier and points."""
    found = pos.search(session, settings=settings, q=q, limit=limit)
    names = tier_names(program.rules_at(session, settings).rules)
    return [
        PosRow(
            id=c.id,
            name=c.name,
            phone=c.phone,
            email=c.email,
            tier=c.tier,
            tier_name=names.get(c.tier, c.tier) if c.tier else None,
            available=c.available,
        )
        for c in found
    ]


@dataclass(frozen=True)
class PosCard:
    """Everything the cashier sees about one customer."""

    summary: PosSummary
    rewards: dict[uuid.UUID, Reward]
    tier_names: dict[str, str]
    rules: ProgramRules
    products: dict[str, str]
    surprises: list[surprise.PendingSurprise] = field(default_factory=list)

    @property
    def status(self) -> LoyaltyStatus:
        """The member's balance, tier, stamps and badges."""
        return self.summary.status


def pos_card(session: Session, *, settings: Settings, customer_id: uuid.UUID) -> PosCard:
    """The POS summary of a customer with the catalogue entries it offers."""
    summary = pos.summary(session, settings=settings, customer_id=customer_id)
    rules = program.rules_at(session, settings).rules
    catalogue = reward_index(session)
    return PosCard(
        summary=summary,
        rewards=catalogue,
        tier_names=tier_names(rules),
        rules=rules,
        products=queries.product_names(session, [r.product_sku for r in catalogue.values()]),
        surprises=surprise.pending_for(session, customer_id),
    )


# --------------------------------------------------------------------------- referrals


@dataclass(frozen=True)
class ReferralRow:
    referral: Referral
    referrer_name: str | None
    referee_name: str | None
    flags: list[Text]


def referral_rows(
    session: Session,
    *,
    status: str | None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[ReferralRow], str | None]:
    """A page of referrals with both people's names and the fraud checks in words."""
    items, nxt = referrals.list_referrals(session, status=status, limit=limit, cursor=cursor)
    names = queries.customer_names(
        session, [r.referrer_id for r in items] + [r.referee_id for r in items]
    )
    return [
        ReferralRow(
            referral=r,
            referrer_name=names.get(r.referrer_id),
            referee_name=names.get(r.referee_id),
            flags=[Text(texts.REFERRAL_FLAGS.get(f, f)) for f in (r.flags or [])],
        )
        for r in items
    ], nxt


# --------------------------------------------------------------------------- program history

SECTIONS: dict[str, str] = {
    "enabled": N_("Program on or off"),
    "name": N_("Program name"),
    "earning": N_("Earning"),
    "multipliers": N_("Extra points"),
    "bonuses": N_("Bonuses"),
    "pending_days": N_("Pending period"),
    "expiry": N_("Expiry"),
    "refund_policy": N_("Refunds"),
    "imported_history": N_("Imported orders"),
    "tiers": N_("Tiers"),
    "birthday": N_("Birthday reward"),
    "referral": N_("Referrals"),
    "streaks": N_("Streaks"),
    "badges": N_("Badges"),
    "leaderboard": N_("Leaderboard"),
    "point_value": N_("Point value"),
}


@dataclass(frozen=True)
class VersionLine:
    version: int
    effective_from: datetime
    created_at: datetime
    created_by: str | None
    note: str | None
    changed: list[str]
    current: bool


def version_history(session: Session, *, settings: Settings) -> list[VersionLine]:
    """Every saved version of the rules, newest first, with the sections each one changed."""
    versions = service.program_versions(session)
    in_force = program.rules_at(session, settings).version
    defaults = program.default_rules(settings.currency).model_dump(mode="json")
    out: list[VersionLine] = []
    for i, v in enumerate(versions):
        before: dict[str, Any] = (
            versions[i + 1].rules if i + 1 < len(versions) else defaults
        ) or {}
        after: dict[str, Any] = v.rules or {}
        keys = list(SECTIONS) + sorted(set(after) - set(SECTIONS))
        changed = [SECTIONS.get(k, k) for k in keys if before.get(k) != after.get(k)]
        out.append(
            VersionLine(
                version=v.version,
                effective_from=v.effective_from,
                created_at=v.created_at,
                created_by=v.created_by,
                note=v.note,
                changed=changed,
                current=v.version == in_force,
            )
        )
    return out


# --------------------------------------------------------------------------- leaderboard


@dataclass(frozen=True)
class LeaderboardView:
    board: Leaderboard
    enabled: bool
    members: int
    month: date
    previous: str
    following: str | None


def month_label(day: date, calendar: CalendarKind) -> str:
    """``YYYY-MM`` of ``day`` in ``calendar``."""
    y, m, _ = ymd(day, calendar)
    return f"{y:04d}-{m:02d}"


def parse_month(text: str | None, calendar: CalendarKind) -> date | None:
    """The first day of ``YYYY-MM`` in ``calendar`` (Persian digits accepted); ``None`` if bad."""
    if not text:
        return None
    raw = ascii_digits(text.strip())
    year, sep, month = raw.partition("-")
    if not sep or not (year.isdigit() and month.isdigit()):
        return None
    y, m = int(year), int(month)
    if not (1 <= m <= 12 and 1000 <= y <= 3000):
        return None
    try:
        return from_ymd(y, m, 1, calendar)
    except ValueError:
        return None


def leaderboard_view(
    session: Session, *, settings: Settings, month: date | None = None
) -> LeaderboardView:
    """The opt-in leaderboard of a month of the business calendar (this month by default)."""
    cal = settings.calendar
    today = local_date(utcnow(), settings.zone)
    current = month_start(today, cal)
    first = month_start(month, cal) if month is not None else current
    first = min(first, current)
    rules = program.rules_at(session, settings).rules
    board = streaks.leaderboard(session, settings=settings, rules=rules, month=first, staff=True)
    following = add_months(first, 1, cal)
    return LeaderboardView(
        board=board,
        enabled=rules.leaderboard.enabled,
        members=queries.leaderboard_members(session),
        month=first,
        previous=month_label(add_months(first, -1, cal), cal),
        following=month_label(following, cal) if following <= current else None,
    )


def coupon_reason(reason: str | None) -> str | None:
    """The msgid saying why a coupon is refused."""
    return texts.coupon_reason(reason)


def names_for(session: Session, ids: Sequence[uuid.UUID | None]) -> dict[uuid.UUID, str | None]:
    """Display names of customers (for lists that carry customer ids)."""
    return queries.customer_names(session, [i for i in ids if i is not None])
