"""A seeded generator of two years of a café-roastery's customers and orders.

Customers arrive over the two years before now. Each one buys following the
buy-till-you-die story of the BG/NBD model (Fader, Hardie & Lee, 2005): while alive,
purchases come as a Poisson process whose rate is drawn from a gamma distribution
across customers, and after every purchase the customer drops out with a probability
drawn from a beta distribution. Most people buy once or twice, a loyal minority
often, and some stop. Purchase times are thinned by a seasonal profile: busier at the
weekend and in December, quieter in the summer, and during Ramadan the visits move
to the evening.

In-store customers are known by phone, online ones by email, and some use both (their
online checkout gives the phone too, which is how ``resolve_contacts`` finds the same
person). Names are English, Arabic and Persian; some birthdays are written in the
Jalali calendar. Online orders carry a promised delivery time and most are delivered,
some late. A few orders are refunded, fully or in part; walk-in guests leave no
contact at all. Everything is drawn from one ``numpy.random.Generator`` seeded with
``seed``, so the same seed gives the same people, orders and amounts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import phonenumbers

from wafa.core.money import minor_digits, prorate
from wafa.customers.service import Contact
from wafa.demo import catalogue as cat
from wafa.orders.importing.records import LineRecord, OrderRecord, RefundRecord

DAYS = 730
WEEKDAY = (0.9, 0.9, 0.95, 1.05, 1.2, 1.25, 1.0)  # Monday first
MONTH = {1: 0.9, 7: 0.8, 8: 0.75, 11: 1.1, 12: 1.35}
PEAK = max(WEEKDAY) * max(MONTH.values())


@dataclass(frozen=True)
class Product:
    """A catalogue item priced in the business's currency (minor units)."""

    sku: str
    name: str
    category: str
    price: int
    repeatable: bool


@dataclass
class Person:
    """One demo customer and how they are known."""

    index: int
    name: str
    language: str
    email: str | None
    phone: str | None
    kind: str  # "phone" (in store), "email" (online) or "both"
    city: str
    home_shop: str
    birthday: tuple[int, int, int | None, str] | None
    email_opt_in: bool | None
    sms_opt_in: bool | None
    tags: list[str] = field(default_factory=list)
    orders: int = 0


@dataclass
class DemoData:
    """Everything the demo store is built from."""

    products: list[Product]
    people: list[Person]
    orders: list[OrderRecord]
    city: str


def _nice_price(major: float, digits: int) -> int:
    if major >= 100:
        step = 10 ** (int(math.log10(major)) - 1)
        major = round(major / step) * step
    else:
        major = round(major * 20) / 20
    scale: int = 10**digits
    return round(major * scale)


def price_list(currency: str) -> list[Product]:
    """The catalogue in ``currency`` at a plausible local price level."""
    level = cat.PRICE_LEVEL.get(currency, 1.0)
    digits = minor_digits(currency)
    return [
        Product(i.sku, i.name, i.category, _nice_price(i.price * level, digits), i.repeatable)
        for i in cat.CATALOGUE
    ]


def _ramadan_days() -> list[tuple[date, date]]:
    return [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in cat.RAMADAN]


class _Builder:
    def __init__(
        self, rng: np.random.Generator, now: datetime, zone: ZoneInfo, currency: str, region: str
    ) -> None:
        self.rng = rng
        self.now = now
        self.zone = zone
        self.currency = currency
        self.region = region
        self.start_day = (now.astimezone(zone) - timedelta(days=DAYS)).date()
        self.products = price_list(currency)
        level, digits = cat.PRICE_LEVEL.get(currency, 1.0), minor_digits(currency)
        self.free_shipping_from = _nice_price(30 * level, digits)
        self.shipping_fee = _nice_price(3 * level, digits)
        self.by_category: dict[str, list[Product]] = {}
        for product in self.products:
            self.by_category.setdefault(product.category, []).append(product)
        self.ramadan = _ramadan_days()
        self.city = cat.CITIES.get(zone.key, "Riverside")
        self.order_no = 0
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if example is None:
            example = phonenumbers.parse("+12015550123")
        self.phone_prefix = f"+{example.country_code}"
        self.phone_national = str(example.national_number)

    # -------------------------------------------------------------- people

    def person(self, index: int) -> Person:
        rng = self.rng
        pick = rng.random()
        if pick < 0.35:
            language = "en"
            given = str(rng.choice(cat.ENGLISH[0]))
            family = str(rng.choice(cat.ENGLISH[1]))
            name, latin = f"{given} {family}", f"{given}.{family}".lower()
        else:
            pool = cat.ARABIC if pick < 0.7 else cat.PERSIAN
            language = "ar" if pool is cat.ARABIC else "fa"
            g = pool[0][int(rng.integers(len(pool[0])))]
            f = pool[1][int(rng.integers(len(pool[1])))]
            name, latin = f"{g[0]} {f[0]}", f"{g[1]}.{f[1]}"
        roll = rng.random()
        kind = "phone" if roll < 0.45 else "email" if roll < 0.8 else "both"
        email = f"{latin}{index}@example.com" if kind != "phone" else None
        national = self.phone_national[:-6] + f"{(index * 7919 + 104729) % 1_000_000:06d}"
        phone = f"{self.phone_prefix}{national}" if kind != "email" else None
        birthday: tuple[int, int, int | None, str] | None = None
        if rng.random() < 0.45:
            year = int(rng.integers(1962, 2006)) if rng.random() < 0.7 else None
            if language == "fa" and rng.random() < 0.6:
                month = int(rng.integers(1, 13))
                day = int(rng.integers(1, 31 if month <= 6 else 30))
                birthday = (day, month, None, "jalali")
            else:
                birthday = (int(rng.integers(1, 29)), int(rng.integers(1, 13)), year, "gregorian")
        return Person(
            index=index,
            name=name,
            language=language,
            email=email,
            phone=phone,
            kind=kind,
            city=self.city if rng.random() < 0.85 else str(rng.choice(list(cat.CITIES.values()))),
            home_shop=cat.SHOPS[int(rng.random() < 0.4)][0],
            birthday=birthday,
            email_opt_in=(rng.random() < 0.55) if email else None,
            sms_opt_in=(rng.random() < 0.45) if phone else None,
        )

    # -------------------------------------------------------------- time

    def season(self, day: date) -> float:
        return WEEKDAY[day.weekday()] * MONTH.get(day.month, 1.0)

    def in_ramadan(self, day: date) -> bool:
        return any(a <= day <= b for a, b in self.ramadan)

    def instant(self, t: float) -> datetime | None:
        """A placed-at instant on day ``t`` (days since the start), at a plausible hour."""
        day = self.start_day + timedelta(days=int(t))
        rng = self.rng
        if self.in_ramadan(day):
            hour = rng.normal(20.5, 1.8)  # after iftar, into the night
        else:
            mode = rng.random()
            hour = (
                rng.normal(8.7, 1.1)
                if mode < 0.45
                else rng.normal(13.0, 1.0)
                if mode < 0.7
                else rng.normal(16.8, 1.6)
            )
        hour = min(max(hour, 6.5), 23.9)
        minutes = int(hour * 60)
        local = datetime.combine(
            day, time(minutes // 60, minutes % 60, int(rng.integers(60))), tzinfo=self.zone
        )
        placed = local.astimezone(UTC)
        return placed if placed <= self.now else None

    def purchase_days(self) -> list[float]:
        """Purchase days of one customer: BG/NBD with seasonal thinning."""
        rng = self.rng
        rate = rng.gamma(shape=0.75, scale=1 / 14)  # purchases per day while alive
        dropout = rng.beta(0.9, 2.6)
        first = DAYS * (1 - rng.random() ** 1.3)  # more customers recently (the shop grows)
        days = [first]
        t = first
        while rng.random() >= dropout:
            # Thinning: candidate times at the peak rate, kept with the season's share.
            while True:
                t += rng.exponential(1 / (rate * PEAK))
                if (
                    t >= DAYS
                    or rng.random() < self.season(self.start_day + timedelta(days=int(t))) / PEAK
                ):
                    break
            if t >= DAYS:
                break
            days.append(t)
        return days

    # -------------------------------------------------------------- orders

    def basket(self, online: bool, owned: set[str]) -> list[LineRecord]:
        rng = self.rng
        lines: list[LineRecord] = []

        def add(product: Product, qty: int = 1) -> None:
            lines.append(
                LineRecord(product.name, qty, product.price, product.sku, 0, product.category)
            )

        drinks, pastries, beans = (
            self.by_category[c] for c in (cat.DRINKS, cat.PASTRIES, cat.BEANS)
        )
        if online:
            add(beans[int(rng.integers(len(beans)))], 1 + int(rng.random() < 0.25))
            if rng.random() < 0.25:
                other = beans[int(rng.integers(len(beans)))]
                if other.sku != lines[0].sku:
                    add(other)
            if rng.random() < 0.1:
                choices = [p for p in self.by_category[cat.EQUIPMENT] if p.sku not in owned]
                if choices:
                    item = choices[int(rng.integers(len(choices)))]
                    owned.add(item.sku)
                    add(item)
        else:
            add(drinks[int(rng.integers(len(drinks)))], 1 + int(rng.random() < 0.15))
            if rng.random() < 0.2:
                second = drinks[int(rng.integers(len(drinks)))]
                if second.sku != lines[0].sku:
                    add(second)
            if rng.random() < 0.45:
                add(pastries[int(rng.integers(len(pastries)))])
            if rng.random() < 0.06:
                add(beans[int(rng.integers(len(beans)))])
        return lines

    def order(
        self, placed_at: datetime, person: Person | None, online: bool, owned: set[str], first: bool
    ) -> OrderRecord:
        rng = self.rng
        self.order_no += 1
        lines = self.basket(online, owned)
        subtotal = sum(line.total for line in lines)
        shipping = 0
        discount = 0
        coupons: list[str] = []
        if online:
            if subtotal < self.free_shipping_from:
                shipping = self.shipping_fee
            if first and rng.random() < 0.3:
                discount = subtotal // 10
                coupons = ["WELCOME10"]
        total = subtotal - discount + shipping
        contact = Contact()
        if person is not None:
            email = person.email if (online or person.kind == "email") else None
            phone = person.phone if (not online or person.kind == "both") else None
            contact = Contact(
                email=email,
                phone=phone,
                name=person.name,
                city=person.city,
                email_opt_in=person.email_opt_in if first and email else None,
                sms_opt_in=person.sms_opt_in if first and phone else None,
                consent_source="demo: newsletter box at checkout"
                if online
                else "demo: signed up at the till",
                seen_at=placed_at,
            )
        record = OrderRecord(
            external_id=f"D{self.order_no:07d}",
            number=f"#{10000 + self.order_no}",
            placed_at=placed_at,
            currency=self.currency,
            lines=lines,
            channel="online" if online else "in_store",
            status="fulfilled",
            contact=contact,
            discount=discount,
            shipping=shipping,
            total=total,
            paid_at=placed_at,
            fulfilled_at=placed_at if not online else None,
            location=cat.ONLINE[0]
            if online
            else (
                person.home_shop
                if person and rng.random() < 0.85
                else cat.SHOPS[int(rng.integers(2))][0]
            ),
            coupon_codes=coupons,
        )
        if online:
            record.status = "paid"
            record.promised_at = placed_at + timedelta(hours=48)
            shipped = placed_at + timedelta(hours=float(rng.uniform(3, 20)))
            if shipped <= self.now:
                record.fulfilled_at = shipped
                record.status = "fulfilled"
            late = rng.random() < 0.15
            hours = rng.uniform(50, 120) if late else rng.uniform(18, 47)
            delivered = placed_at + timedelta(hours=float(hours))
            if delivered <= self.now and rng.random() < 0.96:
                record.delivered_at = delivered
                record.status = "delivered"
        if rng.random() < 0.03:
            refunded_at = placed_at + timedelta(days=float(rng.uniform(0.2, 5)))
            if refunded_at <= self.now:
                if rng.random() < 0.55:
                    record.refunds.append(
                        RefundRecord("demo-refund", total, refunded_at, reason="order refunded")
                    )
                else:
                    index = int(rng.integers(len(lines)))
                    amount = prorate(lines[index].total, 1, lines[index].quantity)
                    if 0 < amount <= total:
                        record.refunds.append(
                            RefundRecord(
                                "demo-refund",
                                amount,
                                refunded_at,
                                reason="item returned",
                                lines=[(index, 1)],
                            )
                        )
        return record


def generate(
    *, customers: int, seed: int, now: datetime, zone: ZoneInfo, currency: str, region: str
) -> DemoData:
    """Draw the demo store: ``customers`` people and their orders up to ``now``."""
    rng = np.random.default_rng(seed)
    builder = _Builder(rng, now, zone, currency, region)
    people: list[Person] = []
    orders: list[OrderRecord] = []
    for index in range(1, customers + 1):
        person = builder.person(index)
        people.append(person)
        owned: set[str] = set()
        first = True
        for t in builder.purchase_days():
            placed = builder.instant(t)
            if placed is None:
                continue
            if person.kind == "phone":
                online = False
            elif person.kind == "email":
                online = True
            else:
                online = rng.random() < 0.45
            orders.append(builder.order(placed, person, online, owned, first))
            person.orders += 1
            first = False
        if person.orders >= 12:
            person.tags.append("regular")
    # Walk-in guests who leave no contact: about one in ten in-store orders.
    walk_ins = max(1, sum(1 for o in orders if o.channel == "in_store") // 10)
    for _ in range(walk_ins):
        placed = builder.instant(float(rng.uniform(0, DAYS)))
        if placed is not None:
            orders.append(builder.order(placed, None, False, set(), False))
    orders.sort(key=lambda o: o.placed_at)
    return DemoData(builder.products, people, orders, builder.city)
