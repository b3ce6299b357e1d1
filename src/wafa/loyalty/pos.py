"""The point of sale's services: find, greet, record a purchase, claim a till's order, enrol.

Each is one call for the screen. A purchase recorded here is accrued at once, in
the same transaction (the cashier sees the points), through the same idempotent
``accrue_order`` the outbox handler uses, so the later ``order.placed`` event
changes nothing.
"""

from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from wafa.core.calendars import local_date
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.models import ConsentChannel, Customer
from wafa.customers.schemas import ConsentIn, CustomerCreate
from wafa.loyalty import (
    accrual,
    birthday,
    coupons,
    ledger,
    queries,
    referrals,
    rewards,
    service,
    tiers,
)
from wafa.loyalty.models import LoyaltyAccount, Purchase
from wafa.loyalty.program import rules_at
from wafa.loyalty.schemas.io import (
    AvailableReward,
    CouponRead,
    FavouriteProduct,
    LoyaltyStatus,
    PosAttach,
    PosCustomer,
    PosEnrol,
    PosPurchase,
    PosResult,
    PosSummary,
)
from wafa.orders import service as orders
from wafa.orders.models import Channel
from wafa.orders.schemas import ContactIn, LineIn, OrderCreate


def search(session: Session, *, settings: Settings, q: str, limit: int = 10) -> list[PosCustomer]:
    """Customers matching what the cashier typed, best match first, with tier and points.

    Whole and trailing phone numbers come before names, names before emails, and
    digits from the middle of a number last (``queries.counter_matches``).
    """
    found = [
        c
        for c, _ in session.execute(
            queries.counter_matches(q, region=settings.phone_region).limit(limit)
        )
    ]
    if not found:
        return []
    now = utcnow()
    today = local_date(now, settings.zone)
    rules = rules_at(session, settings, now).rules
    accounts = {
        a.customer_id: a
        for a in session.scalars(
            select(LoyaltyAccount).where(LoyaltyAccount.customer_id.in_([c.id for c in found]))
        )
    }
    out = []
    for c in found:
        acct = accounts.get(c.id)
        available = ledger.balance_of(session, c.id, now=now)[0] if acct else 0
        out.append(
            PosCustomer(
                id=c.id,
                name=c.name,
                phone=c.phone,
                email=c.email,
                tier=tiers.effective_tier(rules, acct, today=today) if acct else None,
                available=available,
            )
        )
    return out


def favourites(
    session: Session, customer_id: uuid.UUID, *, limit: int = 5
) -> list[FavouriteProduct]:
    """What the customer buys most often: products by the number of orders they are in."""
    counts: Counter[tuple[str | None, str]] = Counter()
    named: dict[tuple[str | None, str], str] = {}
    for order in orders.customer_orders(session, customer_id)[:200]:
        keys = {(ln.sku, "" if ln.sku else ln.name): ln.name for ln in order.lines}
        for key, name in keys.items():
            counts[key] += 1
            named.setdefault(key, name)
    return [
        FavouriteProduct(sku=key[0], name=named[key], times=n)
        for key, n in counts.most_common(limit)
    ]


def offers(
    session: Session, *, settings: Settings, customer_id: uuid.UUID, status: LoyaltyStatus
) -> list[AvailableReward]:
    """The catalogue's rewards this member may take now (tier, dates, stock, their limit),
    each marked affordable or not with their ``status``'s available points."""
    now = utcnow()
    rules = rules_at(session, settings, now).rules
    held_rank = tiers.rank(rules.tiers, status.tier)
    found = []
    for reward in rewards.list_rewards(session, active_only=True, now=now):
        if rewards.unavailable_reason(
            reward,
            tier_rank=held_rank,
            min_tier_rank=tiers.rank(rules.tiers, reward.min_tier),
            now=now,
        ):
            continue
        left = rewards.limit_left(
            session, reward, customer_id, rules=rules, settings=settings, now=now
        )
        if left == 0:
            continue  # taken as often as allowed this period
        found.append(
            AvailableReward(
                id=reward.id,
                name=reward.name,
                kind=reward.kind,
                cost_points=reward.cost_points,
                affordable=status.available >= reward.cost_points,
            )
        )
    return found


def summary(session: Session, *, settings: Settings, customer_id: uuid.UUID) -> PosSummary:
    """Everything the cashier sees about a customer: greeting, points, tier, stamps,
    favourites, the rewards they can take and the coupons they hold."""
    customer = customers.get_live_customer(session, customer_id)
    now = utcnow()
    status = service.status(session, settings=settings, customer_id=customer.id)
    offered = offers(session, settings=settings, customer_id=customer.id, status=status)
    first = (customer.name or "").split()
    return PosSummary(
        id=customer.id,
        name=customer.name,
        greeting_name=first[0] if first else None,
        phone=customer.phone,
        email=customer.email,
        status=status,
        favourites=favourites(session, customer.id),
        rewards=offered,
        coupons=[
            CouponRead.model_validate(c) for c in coupons.usable_for(session, customer.id, now=now)
        ],
        birthday_today=birthday.is_birthday(customer, local_date(now, settings.zone)),
    )


def _contact(customer: Customer) -> ContactIn:
    if customer.phone:
        return ContactIn(phone=customer.phone, name=customer.name)
    if customer.email:
        return ContactIn(email=customer.email, name=customer.name)
    raise Invalid.field(
        ("customer_id",),
        "add a phone number or an email to this customer before recording purchases",
    )


def _result(
    session: Session,
    settings: Settings,
    order_id: uuid.UUID,
    created: bool,
    acc: accrual.Accrual | None,
    customer_id: uuid.UUID,
) -> PosResult:
    return PosResult(
        order_id=order_id,
        created=created,
        points=acc.total if acc else accrual.earned_by_order(session, order_id),
        stamps=acc.stamps if acc else 0,
        coupons_issued=list(acc.coupons_issued) if acc else [],
        status=service.status(session, settings=settings, customer_id=customer_id),
    )


def record_purchase(
    session: Session,
    *,
    settings: Settings,
    data: PosPurchase,
    by: str | None,
    staff_id: uuid.UUID | None = None,
) -> PosResult:
    """Record a counter purchase for a customer and award its points at once.

    ``reference`` (the till's receipt number or a client-made id) makes it
    idempotent: a retry returns the same order and awards nothing more. ``staff_id``
    (the staff member at the till) is kept on the order as ``attributes["staff_id"]``:
    feedback measures complaints about a staff member against the orders they took.
    """
    customer = customers.get_live_customer(session, data.customer_id)
    now = utcnow()
    order, created = orders.create_order(
        session,
        data=OrderCreate(
            source="pos",
            external_id=data.reference,
            number=data.reference,
            channel=Channel.in_store,
            location=data.location,
            placed_at=now,
            paid_at=now,
            currency=settings.currency,
            customer=_contact(customer),
            lines=[
                LineIn(
                    sku=ln.sku,
                    name=ln.name,
                    quantity=ln.quantity,
                    unit_price=ln.unit_price,
                    category=ln.category,
                )
                for ln in data.lines
            ],
            discount=data.discount,
            coupon_codes=[c for c in data.coupon_codes if c.strip()],
            attributes={"staff_id": str(staff_id)} if staff_id else {},
        ),
        region=settings.phone_region,
    )
    owner = accrual.live_customer_id(session, order.customer_id)
    if owner != customer.id:
        raise Conflict(
            f"purchase {data.reference} was recorded for another customer", order_id=order.id
        )
    acc = accrual.accrue_order(session, settings=settings, order_id=order.id)
    return _result(session, settings, order.id, created, acc, customer.id)


def _find_by_number(session: Session, number: str) -> uuid.UUID:
    found, _ = orders.list_orders(session, q=number, limit=50)
    exact = [o for o in found if number in (o.number, o.external_id)]
    if not exact:
        raise NotFound(f"no order numbered {number!r}", number=number)
    if len(exact) > 1:
        raise Conflict(
            f"{len(exact)} orders are numbered {number!r}; attach it from the order's page"
        )
    return exact[0].id


def attach_order(
    session: Session, *, settings: Settings, data: PosAttach, by: str | None
) -> PosResult:
    """Claim a till's order (by its number) for a customer and award its points at once."""
    customer = customers.get_live_customer(session, data.customer_id)
    order_id = _find_by_number(session, data.number)
    already = session.get(Purchase, order_id)
    if already is not None and already.customer_id != customer.id:
        raise Conflict(f"order {data.number} already earned points for another customer")
    orders.attach_customer(session, order_id=order_id, customer_id=customer.id)
    acc = accrual.accrue_order(session, settings=settings, order_id=order_id)
    return _result(session, settings, order_id, False, acc, customer.id)


def enrol(session: Session, *, settings: Settings, data: PosEnrol, by: str | None) -> PosSummary:
    """Enrol a customer at the counter (name and phone, consent as answered) and greet them.

    Consent is recorded per channel with its source (``pos:<who>``); a referral code
    given at enrolment links the friend to the referrer. An email or phone already
    on file is a conflict naming the existing customer, never a duplicate.
    """
    source = f"pos:{by or 'cashier'}"
    consent = []
    if data.phone:
        consent.append(
            ConsentIn(channel=ConsentChannel.sms, granted=data.sms_consent, source=source)
        )
    if data.email:
        consent.append(
            ConsentIn(channel=ConsentChannel.email, granted=data.email_consent, source=source)
        )
    customer = customers.create_customer(
        session,
        data=CustomerCreate(
            name=data.name,
            phone=data.phone,
            email=data.email,
            birthday=data.birthday,
            source="pos",
            consent=consent,
        ),
        region=settings.phone_region,
        calendar=settings.calendar,
    )
    ledger.ensure_account(session, customer.id, zone=settings.zone, now=utcnow())
    if data.referral_code:
        referrals.apply_code(
            session, settings=settings, referee_id=customer.id, code=data.referral_code
        )
    return summary(session, settings=settings, customer_id=customer.id)
