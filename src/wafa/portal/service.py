"""What a customer does on the portal: redeem a reward, change preferences, ask for their
data or its erasure. Each rule belongs to its domain; this module calls it for the
signed-in customer only, and adds what the portal itself needs (a form sent twice does the
work once; erasure waits for a second link).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wafa.core.db import insert_new
from wafa.core.errors import Invalid, NotFound
from wafa.core.ids import new_id
from wafa.core.links import public_link
from wafa.core.settings import CalendarKind, Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.schemas import Birthday, CustomerUpdate
from wafa.feedback import attachments, complaints
from wafa.feedback.models import ComplaintChannel
from wafa.feedback.schemas import ComplaintCreate
from wafa.loyalty import service as loyalty
from wafa.loyalty.schemas.io import RedemptionRead
from wafa.messaging import preferences
from wafa.messaging.models import Channel, Topic
from wafa.messaging.queue import Content, queue_message
from wafa.orders import service as orders
from wafa.people import service as people
from wafa.portal.access import signer
from wafa.portal.models import PortalSubmission
from wafa.portal.texts import ERASE_MESSAGE

SOURCE = "portal"
ERASE_PURPOSE = "portal-erase"
ERASE_LINK_TTL = timedelta(hours=24)
LANGUAGES = ("en", "ar", "fa")
#: How long a birthday stays as it is before the customer may change it on the portal.
BIRTHDAY_CHANGE_AFTER = timedelta(days=365)


def _once(
    session: Session, *, customer_id: uuid.UUID, nonce: str, work: Callable[[], uuid.UUID]
) -> uuid.UUID:
    """Do ``work`` once per form ``nonce``: a second send (a double tap, a reload, two at
    once) gets the first result. A failed ``work`` rolls the claim back with it."""
    if not 16 <= len(nonce) <= 64:
        raise Invalid.field(("nonce",), "reload the page and try again")
    claimed = insert_new(
        session,
        PortalSubmission,
        index_elements=["nonce"],
        values={"nonce": nonce, "customer_id": customer_id, "result_id": None, "at": utcnow()},
    )
    if not claimed:
        first = session.scalar(
            select(PortalSubmission).where(
                PortalSubmission.nonce == nonce, PortalSubmission.customer_id == customer_id
            )
        )
        if first is None or first.result_id is None:
            raise NotFound("no such form")
        return first.result_id
    result = work()
    session.execute(
        update(PortalSubmission).where(PortalSubmission.nonce == nonce).values(result_id=result)
    )
    return result


def redeem_once(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    reward_id: uuid.UUID,
    nonce: str,
) -> uuid.UUID:
    """Redeem a reward for the customer through the loyalty engine (its limits, never
    overdrawn); the redemption's id. The same ``nonce`` sent again returns the first
    redemption and spends nothing more."""

    def work() -> uuid.UUID:
        return loyalty.redeem_reward(
            session, settings=settings, customer_id=customer_id, reward_id=reward_id, by=SOURCE
        ).id

    return _once(session, customer_id=customer_id, nonce=nonce, work=work)


def file_complaint(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    category: str,
    text: str,
    order_id: uuid.UUID | None,
    nonce: str,
    files: Sequence[attachments.Prepared] = (),
) -> uuid.UUID:
    """File a complaint from the portal (feedback's complaint log, channel ``portal``) with
    the photos or PDFs sent (checked before); the order named must be the customer's own.
    Sent twice, it is filed once."""
    if order_id is not None and order_id not in {
        o.id for o in orders.customer_orders(session, customer_id)
    }:
        raise Invalid.field(("order_id",), "choose one of your orders")

    def work() -> uuid.UUID:
        filed = complaints.file_complaint(
            session,
            settings=settings,
            data=ComplaintCreate(
                customer_id=customer_id, category=category, text=text, order_id=order_id
            ),
            channel=ComplaintChannel.portal,
            by="customer",
        )
        attachments.attach(
            session, complaint_id=filed.id, files=list(files), from_customer=True, by="customer"
        )
        return filed.id

    return _once(session, customer_id=customer_id, nonce=nonce, work=work)


def add_files(
    session: Session,
    *,
    customer_id: uuid.UUID,
    complaint_id: uuid.UUID,
    files: Sequence[attachments.Prepared],
) -> None:
    """Add photos or PDFs to one of the customer's own complaints (another's: ``NotFound``)."""
    complaint = complaints.get_complaint(session, complaint_id)
    if complaint.customer_id != customer_id or complaint.kind != "complaint":
        raise NotFound("no such complaint")
    attachments.attach(
        session, complaint_id=complaint_id, files=list(files), from_customer=True, by="customer"
    )


def redemption_of(
    session: Session, *, customer_id: uuid.UUID, redemption_id: uuid.UUID
) -> RedemptionRead:
    """One of the customer's own redemptions; another customer's is ``NotFound``."""
    for redemption in loyalty.customer_redemptions(session, customer_id=customer_id):
        if redemption.id == redemption_id:
            return redemption
    raise NotFound("no such redemption")


def save_preferences(
    session: Session,
    *,
    customer_id: uuid.UUID,
    consent: dict[str, bool],
    topics: dict[str, dict[str, bool]],
    language: str | None,
    settings: Settings,
) -> None:
    """Record what changed as consent with source ``portal`` (messaging's rules), and the
    language of pages and messages."""
    current = preferences.read_preferences(session, customer_id=customer_id)
    held = {c.channel: c for c in current.channels if c.address}
    change = preferences.PreferencesUpdate(
        consent={
            Channel(ch): granted
            for ch, granted in consent.items()
            if ch in held and held[ch].consent != granted
        },
        topics={
            Channel(ch): {
                Topic(t): granted
                for t, granted in chosen.items()
                if held[ch].topics.get(t, True) != granted
            }
            for ch, chosen in topics.items()
            if ch in held
        },
        source=SOURCE,
    )
    change.topics = {ch: t for ch, t in change.topics.items() if t}
    preferences.update_preferences(session, customer_id=customer_id, data=change, by=SOURCE)
    if language is not None:
        if language not in LANGUAGES:
            raise Invalid.field(("language",), "choose English, Arabic or Persian")
        customers.update_customer(
            session,
            customer_id=customer_id,
            data=CustomerUpdate(language=language),
            region=settings.phone_region,
            calendar=settings.calendar,
        )


class BirthdayLocked(Invalid):
    """The birthday was set or changed less than ``BIRTHDAY_CHANGE_AFTER`` ago."""

    code = "birthday-locked"

    def __init__(self, until: datetime) -> None:
        super().__init__(
            f"birthday: set less than a year ago; it can change from {until.date()}",
            [(("birthday",), "set less than a year ago")],
        )
        self.until = until


@dataclass(frozen=True)
class BirthdayRule:
    """What the portal lets the customer do with their birthday right now."""

    may_change: bool
    change_from: datetime | None  # when the birthday held may change again


def birthday_rule(session: Session, *, customer_id: uuid.UUID) -> BirthdayRule:
    """A customer with no birthday may give one; a birthday held may change once it has
    stood for a year (staff can correct it sooner)."""
    customer = customers.get_live_customer(session, customer_id)
    if customer.birthday is None or customer.birthday_set_at is None:
        return BirthdayRule(may_change=True, change_from=None)
    until = customer.birthday_set_at + BIRTHDAY_CHANGE_AFTER
    return BirthdayRule(may_change=utcnow() >= until, change_from=until)


def set_birthday(
    session: Session, *, settings: Settings, customer_id: uuid.UUID, birthday: Birthday
) -> bool:
    """Give or change the customer's birthday from the portal; whether it changed.

    The loyalty engine's birthday reward cannot be gamed from here: a birthday given or
    changed earns nothing for the program's cool-off (``birthday_set_at`` restarts, the
    customers service's rule), one held may change only after a year (``BirthdayLocked``),
    and it cannot be removed here (removing then giving one would skip that year). The
    same birthday sent again changes nothing and restarts nothing.
    """
    if birthday.calendar is None:
        birthday = birthday.model_copy(update={"calendar": settings.calendar})
    customer = customers.get_live_customer(session, customer_id)
    held = customer.birthday
    same = (
        held is not None
        and (held.day, held.month, held.calendar)
        == (birthday.day, birthday.month, birthday.calendar)
        and birthday.year in (None, held.year)
    )
    if same:
        return False
    rule = birthday_rule(session, customer_id=customer.id)
    if not rule.may_change and rule.change_from is not None:
        raise BirthdayLocked(rule.change_from)
    customers.update_customer(
        session,
        customer_id=customer.id,
        data=CustomerUpdate(birthday=birthday),
        region=settings.phone_region,
        calendar=CalendarKind(settings.calendar),
    )
    return True


def request_erasure(session: Session, *, settings: Settings, customer_id: uuid.UUID) -> str:
    """Send the customer a second link that confirms erasure (24 hours); the channel used."""
    customer = customers.get_live_customer(session, customer_id)
    channel = "email" if customer.email else "sms"
    now = utcnow()
    token = signer(session, settings).sign(
        ERASE_PURPOSE, customer.id, expires_at=now + ERASE_LINK_TTL
    )
    queue_message(
        session,
        customer_id=customer.id,
        channel=channel,
        kind="transactional",
        reason="portal-erase",
        occasion=new_id().hex,
        content=Content.model_validate(ERASE_MESSAGE),
        context={"link": public_link(settings.public_url, f"portal/erase/{token}")},
    )
    return channel


def erasure_target(session: Session, *, settings: Settings, token: str) -> uuid.UUID | None:
    """The live customer an erasure link is for, or ``None`` (altered, expired, done)."""
    found = signer(session, settings).verify(ERASE_PURPOSE, token)
    if found is None:
        return None
    try:
        return customers.get_live_customer(session, found.customer_id).id
    except NotFound:
        return None


def confirm_erasure(
    session: Session, *, settings: Settings, token: str, hooks: people.Hooks
) -> bool:
    """Erase the customer of a genuine erasure link (people's erase, every domain's share)."""
    customer_id = erasure_target(session, settings=settings, token=token)
    if customer_id is None:
        return False
    people.erase_customer(
        session, settings=settings, customer_id=customer_id, erased_by=SOURCE, hooks=hooks
    )
    return True
