"""What the portal's pages show, composed from the other domains' services.

Nothing here writes or holds a rule of its own: the balance, the tier, what a reward
costs and whether the customer may take it are the loyalty engine's answers
(``loyalty.pos.summary``); consent is messaging's; the export is people's. Every function
takes the signed-in customer's id and reads only that customer's data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from wafa.auth import business
from wafa.core.links import public_link
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.feedback import attachments, complaints, policy
from wafa.feedback import service as surveys
from wafa.feedback.models import ComplaintAttachment
from wafa.loyalty import coupons, pos, program, referrals
from wafa.loyalty import service as loyalty
from wafa.loyalty import versions as loyalty_versions
from wafa.loyalty import views as loyalty_views
from wafa.loyalty.schemas.io import AvailableReward, CouponRead, LoyaltyStatus, ReferralStats
from wafa.loyalty.views import LedgerLine
from wafa.messaging.personalize import first_name
from wafa.orders import service as orders
from wafa.portal import access

JUST_OUT_OF_REACH = 3


@dataclass(frozen=True)
class Home:
    """The home page: greeting, points, tier, cards, badges, rewards now and next."""

    first_name: str
    status: LoyaltyStatus
    tier_name: str | None
    next_tier_name: str | None
    tier_progress: int | None  # percent of the way to the next tier
    badges: list[str]
    rewards_now: list[AvailableReward]
    rewards_next: list[AvailableReward]
    coupons: list[CouponRead]


def _live(session: Session, customer_id: uuid.UUID, known: Customer | None) -> Customer:
    """The live customer; ``known`` (the row the sign-in check just read) is put in the
    session instead of reading it again."""
    if known is not None and known.id == customer_id:
        # Held in a name: the session's identity map keeps only what something refers to.
        held = session.merge(known, load=False)
        return customers.get_live_customer(session, held.id)
    return customers.get_live_customer(session, customer_id)


def home(
    session: Session, *, settings: Settings, customer_id: uuid.UUID, known: Customer | None = None
) -> Home:
    """The signed-in customer's home page. ``known``: the customer as the sign-in check just
    read them (used instead of reading the row again). The program's versions are read
    once for the page (``program.versions_read_once``)."""
    customer = _live(session, customer_id, known)
    with program.versions_read_once(session):
        status = loyalty.status(session, settings=settings, customer_id=customer.id)
        offered = pos.offers(session, settings=settings, customer_id=customer.id, status=status)
        rules = program.rules_at(session, settings).rules
    info = status.tier_info
    names = {t.code: t.name for t in rules.tiers.levels}
    progress = None
    if info is not None and info.to_next is not None and info.qualifying_value is not None:
        goal = info.qualifying_value + info.to_next
        progress = 100 if goal == 0 else min(100, info.qualifying_value * 100 // goal)
    badge_names = {b.code: b.name for b in rules.badges}
    out_of_reach = sorted((r for r in offered if not r.affordable), key=lambda r: r.cost_points)
    return Home(
        first_name=first_name(customer.name),
        status=status,
        tier_name=info.name if info else None,
        next_tier_name=names.get(info.next_tier) if info and info.next_tier else None,
        tier_progress=progress,
        badges=[badge_names.get(code, code) for code in status.badges],
        rewards_now=[r for r in offered if r.affordable],
        rewards_next=out_of_reach[:JUST_OUT_OF_REACH],
        coupons=_coupons(session, customer.id),
    )


@dataclass(frozen=True)
class SignedIn:
    """The signed-in customer with the versions their home page may be kept on
    (``pagecache``): the owner's settings' token, the member's and the catalogue's
    versions (``member`` is ``None`` for a customer with no loyalty account)."""

    customer: Customer
    settings_token: str | None
    member: int | None
    catalogue: int | None


#: Made once: the session check's statement is built once per set of extras.
_VERSIONS = (
    business.version_column(),
    loyalty_versions.member_version(Customer.id),
    loyalty_versions.catalogue_version(),
)


def signed_in(session: Session, secret: str | None) -> SignedIn | None:
    """``access.session_customer`` with the home page's versions, in one statement."""
    found = access.session_customer_with(session, secret, *_VERSIONS)
    if found is None:
        return None
    customer, (token, member, catalogue) = found
    return SignedIn(customer, token, member, catalogue)


#: The kept home page's fast path reads these (``wafa.portal.web.home.KeptHome``).
_KEPT_COLUMNS = (
    Customer.id,
    Customer.name,
    Customer.language,
    Customer.merged_into_id,
    Customer.erased_at,
    *_VERSIONS,
)


@dataclass(frozen=True)
class SignedInRow:
    """What the kept home page needs of the signed-in customer, without an entity: ``live``
    is false for a merged or erased customer (whose page the full path must find)."""

    customer_id: uuid.UUID
    name: str | None
    language: str | None
    live: bool
    settings_token: str | None
    member: int | None
    catalogue: int | None


def signed_in_row(conn: Connection, secret: str | None) -> SignedInRow | None:
    """``signed_in`` in one Core statement on ``conn`` (``access.session_row``)."""
    row = access.session_row(conn, secret, *_KEPT_COLUMNS)
    if row is None:
        return None
    cid, name, language, merged, erased, token, member, catalogue = tuple(row)
    return SignedInRow(
        cid, name, language, merged is None and erased is None, token, member, catalogue
    )


def home_valid_until(session: Session, *, customer_id: uuid.UUID, now: datetime) -> datetime | None:
    """The instant after ``now`` from which the clock alone may change the home page
    (within the local day; ``loyalty.versions.next_change``)."""
    return loyalty_versions.next_change(session, customer_id=customer_id, now=now)


def _coupons(session: Session, customer_id: uuid.UUID) -> list[CouponRead]:
    """The member's unused coupons that can be used now."""
    return [
        CouponRead.model_validate(c) for c in coupons.usable_for(session, customer_id, now=utcnow())
    ]


@dataclass(frozen=True)
class Rewards:
    """The rewards page: the catalogue as this customer may use it, and their coupons."""

    available: int
    rewards: list[AvailableReward]
    coupons: list[CouponRead]


def rewards_page(
    session: Session, *, settings: Settings, customer_id: uuid.UUID, known: Customer | None = None
) -> Rewards:
    """Rewards the customer may take (affordable or not yet) and their unused coupons
    (``known`` as for ``home``)."""
    customer = _live(session, customer_id, known)
    with program.versions_read_once(session):
        status = loyalty.status(session, settings=settings, customer_id=customer.id)
        offered = pos.offers(session, settings=settings, customer_id=customer.id, status=status)
    return Rewards(
        available=status.available,
        rewards=sorted(offered, key=lambda r: (not r.affordable, r.cost_points)),
        coupons=_coupons(session, customer.id),
    )


@dataclass(frozen=True)
class OrderLine:
    id: uuid.UUID
    number: str | None
    placed_at: datetime
    total_amount: int
    currency: str
    points: int


@dataclass(frozen=True)
class History:
    """Orders with the points each earned, and the ledger with a reason on each line."""

    orders: list[OrderLine]
    ledger: list[LedgerLine]
    more: bool


HISTORY_ORDERS = 20
HISTORY_LEDGER = 30


def history(session: Session, *, settings: Settings, customer_id: uuid.UUID) -> History:
    """The customer's latest orders and points, newest first."""
    ledger = loyalty_views.ledger_view(
        session, settings=settings, customer_id=customer_id, limit=HISTORY_LEDGER
    )
    earned: dict[uuid.UUID, int] = {}
    for line in ledger.lines:
        if line.order_id is not None:
            earned[line.order_id] = earned.get(line.order_id, 0) + line.points
    found = orders.customer_orders(session, ledger.customer_id)[:HISTORY_ORDERS]
    return History(
        orders=[
            OrderLine(
                id=o.id,
                number=o.number,
                placed_at=o.placed_at,
                total_amount=o.total_amount,
                currency=o.currency,
                points=earned.get(o.id, 0),
            )
            for o in found
        ],
        ledger=ledger.lines,
        more=ledger.next_cursor is not None,
    )


@dataclass(frozen=True)
class Referral:
    code: str
    link: str
    stats: ReferralStats


def referral(session: Session, *, settings: Settings, customer_id: uuid.UUID) -> Referral:
    """The customer's code and share link (made on first view) and how their invitations went."""
    found = referrals.info(session, settings=settings, customer_id=customer_id)
    link = (
        found.link
        if found.link.startswith("http")
        else public_link(settings.public_url, found.link)
    )
    return Referral(code=found.code, link=link, stats=found.stats)


@dataclass(frozen=True)
class MyComplaint:
    id: uuid.UUID
    category: str
    status: str
    text: str
    created_at: datetime
    replies: list[tuple[datetime, str]]
    #: The files the customer sees: theirs and those the shop showed them.
    files: list[ComplaintAttachment]


@dataclass(frozen=True)
class Feedback:
    """Open survey to answer (a link to feedback's answer page), complaints and their replies,
    and what the complaint form offers (categories, the customer's own latest orders)."""

    survey_url: str | None
    complaints: list[MyComplaint]
    categories: list[str]
    orders: list[OrderLine]


def feedback(session: Session, *, settings: Settings, customer_id: uuid.UUID) -> Feedback:
    """The feedback page. Asking for the survey link records the invitation (feedback's
    fatigue rules decide; the same month's visits share one invitation)."""
    month = utcnow().strftime("%Y-%m")
    link = surveys.survey_link(
        session,
        settings=settings,
        customer_id=customer_id,
        occasion=f"portal:{month}",
        touchpoint="relationship",
    )
    held = complaints.customer_replies(session, customer_id)
    files = attachments.for_complaints(session, [c.id for c, _ in held], customer_view=True)
    mine = [
        MyComplaint(
            id=c.id,
            category=c.category,
            status=c.status,
            text=c.text,
            created_at=c.created_at,
            replies=[(r.at, r.text or "") for r in replies],
            files=files[c.id],
        )
        for c, replies in held
    ]
    recent = orders.customer_orders(session, customer_id)[:10]
    return Feedback(
        survey_url=link.url if link is not None else None,
        complaints=mine,
        categories=policy.load_policy(session).categories,
        orders=[
            OrderLine(
                id=o.id,
                number=o.number,
                placed_at=o.placed_at,
                total_amount=o.total_amount,
                currency=o.currency,
                points=0,
            )
            for o in recent
        ],
    )
