"""Take the loyalty screenshots with Playwright and Debian's Chromium.

Against a running server::

    .venv/bin/python scripts/screenshots_loyalty.py --sample sqlite:////tmp/loyalty.db
    WAFA_DATABASE_URL=sqlite:////tmp/loyalty.db WAFA_BUSINESS_NAME="Riverside Roasters" \
        .venv/bin/wafa serve --port 8766 &
    .venv/bin/python scripts/screenshots_loyalty.py --url http://127.0.0.1:8766

``--sample URL`` first fills that (empty) database with a small café through the real
services: a program with tiers, a rewards catalogue, a stamp card, campaign codes,
customers with a few months of purchases, redemptions and a referral held for review.
Its users are ``owner@example.com`` and ``cashier@example.com`` (password
``screenshots-only``).

Writes into ``docs/screenshots/``: the point of sale at tablet size (1024×768 landscape
and 768×1024 portrait) in English and Persian (and Arabic, landscape) — a customer found
by the last digits of their phone, their card and a sale in progress — plus the search,
the rewards tab and the enrolment form; and the owner's pages: program settings, the
tiers editor with its preview, rewards, coupons, the referral queue, the points
liability, the leaderboard and a customer's loyalty panel. The browser may only talk to the server under test; any
other request fails the run.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
PASSWORD = "screenshots-only"
OWNER = "owner@example.com"
CASHIER = "cashier@example.com"
SHOWCASE_PHONE = "+12025550142"

PRODUCTS = [
    ("ESP", "Espresso", "Coffee drinks", 300),
    ("LAT", "Caffè latte", "Coffee drinks", 450),
    ("CAP", "Cappuccino", "Coffee drinks", 420),
    ("SAF", "Saffron latte", "Coffee drinks", 520),
    ("TEA", "Cardamom tea", "Tea", 280),
    ("BAK", "Baklava", "Pastry", 350),
    ("KOL", "Koloocheh", "Pastry", 250),
    ("BNS", "House beans 250g", "Beans", 1400),
]
PEOPLE = [
    ("Sara Karimi", SHOWCASE_PHONE, "sara@example.com", (14, 7)),
    ("مریم رضایی", "+12025550111", "maryam@example.com", (3, 11)),
    ("Omid Haddad", "+12025550123", None, None),
    ("فاطمة الزهراني", "+12025550134", "fatima@example.com", (22, 2)),
    ("Daniel Walker", "+12025550156", "daniel@example.com", None),
    ("علی محمدی", "+12025550167", None, (1, 1)),
    ("Leila Nasser", "+12025550178", "leila@example.com", None),
    ("يوسف الخطيب", "+12025550189", None, None),
    ("Nadia Saleh", "+12025550190", "nadia@example.com", (9, 5)),
    ("رضا احمدی", "+12025550101", "reza@example.com", None),
]


def _at(moment: datetime) -> datetime:
    return moment


def sample(url: str) -> None:
    """Fill the database at ``url`` with a small café's loyalty program and customers."""
    from wafa.auth import service as auth
    from wafa.auth.models import Role
    from wafa.core import migrate, outbox
    from wafa.core.db import session_factory, session_scope
    from wafa.core.settings import Settings
    from wafa.core.time import set_clock
    from wafa.customers import service as customers
    from wafa.customers.schemas import Birthday, ConsentIn, CustomerCreate
    from wafa.loyalty import accrual, coupons, handlers, program, referrals, rewards, stamps
    from wafa.loyalty import streaks as streak_service
    from wafa.loyalty.models import RewardKind
    from wafa.loyalty.schemas.io import CouponCreate, RewardCreate, StampCardCreate
    from wafa.loyalty.schemas.program import ProgramRules
    from wafa.orders import service as orders
    from wafa.orders.schemas import OrderCreate, ProductCreate

    migrate.upgrade(url)
    settings = Settings(database_url=url)
    rng = random.Random(7)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=150)
    set_clock(lambda: start)
    with session_scope(settings) as session:
        auth.create_user(session, email=OWNER, password=PASSWORD, role=Role.owner, name="Parisa")
        auth.create_user(session, email=CASHIER, password=PASSWORD, role=Role.cashier, name="Kian")
        for sku, name, category, price in PRODUCTS:
            orders.create_product(
                session,
                data=ProductCreate(sku=sku, name=name, category=category, price=price * 100 // 100),
                default_currency=settings.currency,
            )
        catalogue = {
            "espresso": rewards.create_reward(
                session,
                settings=settings,
                data=RewardCreate(
                    name="Free espresso",
                    kind=RewardKind.free_product,
                    cost_points=40,
                    product_sku="ESP",
                ),
            ),
            "five": rewards.create_reward(
                session,
                settings=settings,
                data=RewardCreate(
                    name="$5 off your order",
                    kind=RewardKind.discount_fixed,
                    cost_points=90,
                    amount=500,
                    coupon_valid_days=30,
                ),
            ),
            "beans": rewards.create_reward(
                session,
                settings=settings,
                data=RewardCreate(
                    name="10% off a bag of beans",
                    kind=RewardKind.discount_percent,
                    cost_points=120,
                    percent_bp=1000,
                ),
            ),
            "bakery": rewards.create_reward(
                session,
                settings=settings,
                data=RewardCreate(
                    name="Pastry at Golden Crust",
                    kind=RewardKind.partner_offer,
                    cost_points=60,
                    partner_name="Golden Crust Bakery",
                ),
            ),
        }
        program.save_rules(
            session,
            rules=ProgramRules.model_validate(
                {
                    "name": "Riverside Rewards",
                    "earning": {"rate_bp": 100, "excluded_categories": ["Beans"]},
                    "pending_days": 7,
                    "expiry": {"policy": "fixed", "months": 6},
                    "refund_policy": "future_earnings",
                    "bonuses": {"signup": 10, "first_order": 15},
                    "tiers": {
                        "enabled": True,
                        "levels": [
                            {"code": "bronze", "name": "Bronze", "threshold": 0},
                            {
                                "code": "silver",
                                "name": "Silver",
                                "threshold": 120,
                                "earn_multiplier_bp": 12500,
                            },
                            {
                                "code": "gold",
                                "name": "Gold",
                                "threshold": 300,
                                "earn_multiplier_bp": 15000,
                                "flags": ["free_delivery"],
                            },
                        ],
                    },
                    "birthday": {"enabled": True, "points": 30, "mode": "day"},
                    "referral": {
                        "enabled": True,
                        "referee_points": 20,
                        "referrer_points": 40,
                        "max_per_period": 3,
                    },
                }
            ),
            by="sample",
            note="Launch of Riverside Rewards",
        )
        catalogue["class"] = rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(
                name="Latte art class",
                kind=RewardKind.gift,
                cost_points=250,
                min_tier="gold",
                stock=6,
                description="Saturday mornings, with our head barista.",
            ),
        )
        stamps.create_card(
            session,
            data=StampCardCreate(
                name="Coffee card",
                stamps_required=8,
                per="item",
                categories=["Coffee drinks"],
                reward_id=catalogue["espresso"].id,
            ),
        )
        coupons.create_campaign(
            session,
            settings=settings,
            data=CouponCreate(
                name="Spring: 10% off",
                code="SPRING10",
                kind=RewardKind.discount_percent,
                percent_bp=1000,
                max_uses=200,
                per_customer_limit=1,
            ),
            by="sample",
        )
        coupons.create_campaign(
            session,
            settings=settings,
            data=CouponCreate(
                name="Welcome back",
                code="WELCOME5",
                kind=RewardKind.discount_fixed,
                amount=500,
                max_uses=50,
                min_order_amount=1500,
            ),
            by="sample",
        )
        people = []
        for name, phone, email, birthday in PEOPLE:
            consent = [ConsentIn(channel="sms", granted=True, source="sample")]
            people.append(
                customers.create_customer(
                    session,
                    data=CustomerCreate(
                        name=name,
                        phone=phone,
                        email=email,
                        address="12 Rose Street" if name == "Omid Haddad" else None,
                        birthday=Birthday(day=birthday[0], month=birthday[1]) if birthday else None,
                        source="pos",
                        consent=consent,
                    ),
                    region=settings.phone_region,
                    calendar=settings.calendar,
                )
            )
        friend = customers.create_customer(
            session,
            data=CustomerCreate(
                name="Kaveh Haddad", phone="+12025550199", address="12 Rose Street"
            ),
            region=settings.phone_region,
            calendar=settings.calendar,
        )
        code = referrals.referral_code(session, settings=settings, customer_id=people[2].id)
        referrals.apply_code(session, settings=settings, referee_id=friend.id, code=code)
        for person in people[:7]:
            streak_service.set_opt_in(
                session, settings=settings, customer_id=person.id, opt_in=True
            )

    # A few months of visits, each accrued at its own moment (the ledger reads naturally).
    visits: list[tuple[datetime, int]] = []
    for index, _ in enumerate(PEOPLE):
        count = [22, 14, 9, 11, 6, 8, 5, 4, 7, 3][index]
        for _ in range(count):
            visits.append(
                (start + timedelta(days=rng.uniform(1, 148), hours=rng.uniform(0, 6)), index)
            )
    visits.append((now - timedelta(days=3), len(PEOPLE)))  # the referred friend's first visit
    visits.sort()
    n = 1000
    for moment, index in visits:
        set_clock(partial(_at, moment))
        with session_scope(settings) as session:
            who = people[index] if index < len(people) else friend
            picks = rng.sample(PRODUCTS, k=rng.choice([1, 1, 2, 2, 3]))
            n += 1
            order, _ = orders.create_order(
                session,
                data=OrderCreate(
                    source="till",
                    external_id=f"T{n}",
                    number=f"{n}",
                    channel="in_store",
                    placed_at=moment,
                    paid_at=moment,
                    currency=settings.currency,
                    customer={"phone": who.phone, "name": who.name},
                    lines=[
                        {
                            "sku": sku,
                            "name": pname,
                            "category": category,
                            "quantity": rng.choice([1, 1, 1, 2]),
                            "unit_price": price,
                        }
                        for sku, pname, category, price in picks
                    ],
                ),
                region=settings.phone_region,
            )
            accrual.accrue_order(session, settings=settings, order_id=order.id)
    set_clock(lambda: now - timedelta(days=20))
    with session_scope(settings) as session:
        for person, reward in ((people[0], "espresso"), (people[1], "bakery"), (people[3], "five")):
            try:
                rewards.redeem(
                    session,
                    settings=settings,
                    customer_id=person.id,
                    reward_id=catalogue[reward].id,
                    by="staff:cashier@example.com",
                )
            except Exception as exc:  # a sample customer short of points
                print(f"skipped a redemption: {exc}", file=sys.stderr)  # noqa: T201
    set_clock(None)
    outbox.drain(session_factory(settings), handlers.consumers(settings))
    # Two orders on the till not yet claimed by anyone, for the "till order" tab.
    with session_scope(settings) as session:
        for number in ("2001", "2002"):
            orders.create_order(
                session,
                data=OrderCreate(
                    source="till",
                    external_id=f"T{number}",
                    number=number,
                    channel="in_store",
                    placed_at=now - timedelta(minutes=5),
                    currency=settings.currency,
                    lines=[{"sku": "LAT", "name": "Caffè latte", "quantity": 2, "unit_price": 450}],
                ),
                region=settings.phone_region,
            )


def shoot(url: str, out: Path) -> list[Path]:
    """Log in as the cashier and the owner and take every screenshot; returns the files."""
    from playwright.sync_api import Page, Request, sync_playwright

    base = url.rstrip("/")
    host = urlparse(base).netloc
    foreign: list[str] = []
    written: list[Path] = []
    out.mkdir(parents=True, exist_ok=True)

    def watch(request: Request) -> None:
        if urlparse(request.url).netloc != host and not request.url.startswith("data:"):
            foreign.append(request.url)

    def login(page: Page, email: str) -> None:
        page.goto(f"{base}/login")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_load_state("networkidle")

    def language(page: Page, code: str) -> None:
        page.click(".lang-menu summary")
        page.click(f'.lang-menu button[value="{code}"]')
        page.wait_for_selector(f'html[lang="{code}"]')

    def snap(page: Page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(150)
        path = out / f"{name}.png"
        page.screenshot(path=str(path))
        written.append(path)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # The point of sale, as the cashier sees it on a tablet (landscape and portrait).
        for lang, suffix in (
            ("en", "1024"),
            ("fa", "1024"),
            ("en", "768"),
            ("fa", "768"),
            ("ar", "1024"),
        ):
            width, height = (1024, 768) if suffix == "1024" else (768, 1024)
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.on("request", watch)
            login(page, CASHIER)
            page.goto(f"{base}/pos")
            if page.get_attribute("html", "lang") != lang:
                language(page, lang)
            page.fill("#pos-q", {"en": "0142", "fa": "۰۱۴۲", "ar": "٠١٤٢"}[lang])
            page.wait_for_selector(".pos-result")
            if suffix == "1024" and lang != "ar":
                snap(page, f"pos-search-{lang}-{suffix}")
            page.keyboard.press("Enter")
            page.wait_for_selector(".pos-customer")
            page.fill("[data-pos-product]", "lat")
            page.wait_for_selector(".pos-product")
            page.click(".pos-product")
            page.fill("[data-pos-amount]", {"en": "3.50", "fa": "۳٫۵۰", "ar": "٣٫٥٠"}[lang])
            page.click("[data-pos-add-amount]")
            snap(page, f"pos-{lang}-{suffix}")
            if suffix == "1024" and lang != "ar":
                page.click('[data-tab="rewards"]')
                snap(page, f"pos-rewards-{lang}-{suffix}")
                page.keyboard.press("Escape")
                page.click(".pos-top [data-pos-new]")
                snap(page, f"pos-enrol-{lang}-{suffix}")
            context.close()
        # The owner's pages.
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.on("request", watch)
        login(page, OWNER)
        for lang, names in (
            (
                "en",
                (
                    "program",
                    "tiers",
                    "rewards",
                    "coupons",
                    "referrals",
                    "liability",
                    "leaderboard",
                    "profile",
                ),
            ),
            ("fa", ("program", "tiers", "profile")),
            ("ar", ("rewards", "profile")),
        ):
            page.goto(f"{base}/loyalty/program")
            if page.get_attribute("html", "lang") != lang:
                language(page, lang)
            for name in names:
                if name == "profile":
                    page.goto(f"{base}/customers?q={SHOWCASE_PHONE[-4:]}")
                    page.click("table a.row-link")
                    page.wait_for_selector("#loyalty")
                    page.evaluate(
                        "window.scrollTo(0, document.querySelector('.stats')"
                        ".getBoundingClientRect().bottom + window.scrollY - 20)"
                    )
                else:
                    page.goto(f"{base}/loyalty/{name}")
                if name == "tiers":
                    page.fill("#f-threshold_1", "60")
                    page.click("button[value=preview]")
                    page.wait_for_selector("#preview")
                snap(page, f"loyalty-{name}-{lang}")
        context.close()
        browser.close()
    if foreign:
        raise SystemExit(f"the pages requested other hosts: {sorted(set(foreign))}")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="base URL of a running Wafa")
    parser.add_argument("--sample", metavar="DATABASE_URL", help="fill this empty database first")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.sample:
        sample(args.sample)
        print(f"sample café written to {args.sample}")  # noqa: T201
    if args.url:
        for path in shoot(args.url, args.out):
            print(path)  # noqa: T201
    if not (args.url or args.sample):
        parser.error("give --sample DATABASE_URL and/or --url URL")


if __name__ == "__main__":
    main()
