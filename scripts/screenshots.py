"""Take the README's dashboard screenshots with Playwright and Debian's Chromium.

Against a running server (the demo store is the intended data)::

    WAFA_DATABASE_URL=sqlite:////tmp/demo.db .venv/bin/wafa demo --no-serve
    WAFA_DATABASE_URL=sqlite:////tmp/demo.db WAFA_BUSINESS_NAME="Riverside Roasters" \
        .venv/bin/wafa serve --port 8765 &
    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:8765 \
        --email owner@demo.wafa --password '<printed by wafa demo>'

Without the demo builder, ``--sample sqlite:////tmp/shots.db`` first fills that
database with a small sample shop (and an owner ``owner@example.com`` /
``screenshots-only``) through the real services, then serve it as above.

Writes ``docs/screenshots/<page>-<width>.png`` for a laptop (1366×768) and a tablet
(1024×768): the overview, the customer and order lists, a customer's profile in
English, the same profile in Persian and Arabic (right to left), and the overview in
Arabic. The browser may only talk
to the server under test; any other request fails the run.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from datetime import UTC, timedelta
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import Page, Request, sync_playwright

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
VIEWPORTS = {"1366": (1366, 768), "1024": (1024, 768)}
ASCII_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def switch_language(page: Page, code: str) -> None:
    """Use the language menu of the current page."""
    page.click(".topbar .lang-menu summary")
    page.click(f'.topbar .lang-menu button[value="{code}"]')
    page.wait_for_selector(f'html[lang="{code}"]')


def busiest_customer(page: Page, base: str, pages: int = 10, candidates: int = 12) -> str:
    """A regular: among the customers of the latest orders, the one with the most orders."""
    seen: Counter[str] = Counter()
    url = f"{base}/orders"
    for _ in range(pages):
        page.goto(url)
        for link in page.query_selector_all("table.table tbody a[href^='/customers/']"):
            seen[str(link.get_attribute("href"))] += 1
        following = page.query_selector("a[rel=next]")
        if following is None:
            break
        url = base + str(following.get_attribute("href"))
    if not seen:
        raise SystemExit("no customers to photograph: build the demo store first")
    best, best_orders = "", -1
    for href, _ in seen.most_common(candidates):
        page.goto(base + href)
        text = page.inner_text(".stats .stat-value").translate(ASCII_DIGITS)
        orders = int("".join(ch for ch in text if ch.isdigit()) or 0)
        if orders > best_orders:
            best, best_orders = href, orders
    return base + best


def shoot(url: str, email: str, password: str, out: Path, customer: str | None) -> list[Path]:
    """Log in and take every screenshot; returns the files written."""
    base = url.rstrip("/")
    host = urlparse(base).netloc
    foreign: list[str] = []
    written: list[Path] = []
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for suffix, (width, height) in VIEWPORTS.items():
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()

            def watch(request: Request) -> None:
                if urlparse(request.url).netloc != host and not request.url.startswith("data:"):
                    foreign.append(request.url)

            page.on("request", watch)
            page.goto(f"{base}/login")
            page.fill("#email", email)
            page.fill("#password", password)
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_selector(".sidebar")
            if page.get_attribute("html", "lang") != "en":
                switch_language(page, "en")

            def snap(name: str, page: Page = page, suffix: str = suffix) -> None:
                page.wait_for_load_state("networkidle")
                path = out / f"{name}-{suffix}.png"
                page.screenshot(path=str(path))
                written.append(path)

            page.goto(f"{base}/")
            snap("overview")
            profile = customer or busiest_customer(page, base)
            page.goto(f"{base}/customers")
            snap("customers")
            page.goto(f"{base}/orders")
            snap("orders")
            page.goto(f"{base}/analytics")
            snap("analytics")
            page.goto(profile)
            snap("profile-en")
            switch_language(page, "fa")
            snap("profile-fa")
            switch_language(page, "ar")
            snap("profile-ar")
            page.goto(f"{base}/")
            snap("overview-ar")
            switch_language(page, "fa")
            page.goto(f"{base}/analytics")
            snap("analytics-fa")
            switch_language(page, "en")
            context.close()
        browser.close()
    if foreign:
        raise SystemExit(f"the dashboard requested other hosts: {sorted(set(foreign))}")
    return written


# --------------------------------------------------------------------------- sample data

FIRST = ["Sara", "Omid", "Leila", "Daniel", "Maryam", "Ali", "Nadia", "James", "Fatemeh", "Yusuf"]
LAST = ["Karimi", "Haddad", "Rahimi", "Walker", "Nasser", "Moradi", "Saleh", "Bennett"]
FA = ["مریم رضایی", "علی محمدی", "زهرا حسینی", "رضا احمدی", "نرگس کاظمی", "حسین کریمی"]
AR = ["فاطمة الزهراني", "أحمد العلي", "ليلى حداد", "يوسف الخطيب", "مريم سالم"]
PRODUCTS = [
    ("CAF-ESP", "Espresso beans 250g", "Coffee", 1290),
    ("CAF-HOU", "House blend 1kg", "Coffee", 3450),
    ("TEA-SAF", "Saffron tea", "Tea", 890),
    ("PAS-BAK", "Baklava box", "Pastry", 1650),
    ("CUP-CER", "Ceramic cup", "Homeware", 1200),
    ("PAS-KOL", "Koloocheh (6)", "Pastry", 720),
]


def build_sample(database_url: str, *, seed: int = 7) -> None:
    """A small shop through the real services: customers in three scripts, six months of orders."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from wafa.auth import service as auth
    from wafa.auth.models import Role
    from wafa.core import migrate
    from wafa.core.db import session_scope
    from wafa.core.settings import Settings
    from wafa.core.time import utcnow
    from wafa.orders import service as orders
    from wafa.orders.schemas import OrderCreate

    migrate.upgrade(database_url)
    settings = Settings(_env_file=None, database_url=database_url)
    rng = random.Random(seed)
    people: list[dict[str, str]] = []
    for i in range(48):
        if i % 3 == 0:
            name = FA[i // 3 % len(FA)] if i < 18 else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        elif i % 3 == 1:
            name = AR[i // 3 % len(AR)] if i < 15 else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        else:
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        person = {"name": name, "email": f"customer{i}@example.com"}
        if i % 2 == 0:
            person["phone"] = f"+9891{rng.randrange(10_000_000, 99_999_999)}"
        people.append(person)
    now = utcnow()
    with session_scope(settings) as session:
        auth.create_user(
            session,
            email="owner@example.com",
            password="screenshots-only",
            role=Role.owner,
            name="Shop owner",
        )
        n = 0
        for index, person in enumerate(people):
            visits = 1 + (index % 5 == 0) * rng.randrange(3, 9) + (index % 3 == 0)
            for _ in range(visits):
                n += 1
                lines = [
                    {"sku": sku, "name": name, "quantity": rng.randrange(1, 3), "unit_price": price}
                    for sku, name, _, price in rng.sample(PRODUCTS, rng.randrange(1, 4))
                ]
                placed = now - timedelta(days=rng.randrange(0, 180), hours=rng.randrange(0, 10))
                orders.create_order(
                    session,
                    data=OrderCreate.model_validate(
                        {
                            "source": "sample",
                            "external_id": f"S-{n:05d}",
                            "number": f"#{1000 + n}",
                            "channel": rng.choice(["in_store", "in_store", "online", "phone"]),
                            "placed_at": placed.astimezone(UTC).isoformat(),
                            "currency": settings.currency,
                            "status": rng.choice(["paid", "fulfilled", "delivered", "delivered"]),
                            "customer": person,
                            "lines": lines,
                        }
                    ),
                    region=settings.phone_region,
                )
    print(f"sample shop in {database_url}: {len(people)} customers, {n} orders")  # noqa: T201
    print("owner login: owner@example.com / screenshots-only")  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="base URL of a running Wafa (http://127.0.0.1:8765)")
    parser.add_argument("--email", default="owner@example.com")
    parser.add_argument("--password", default="screenshots-only")
    parser.add_argument("--customer", help="profile URL to photograph (default: the busiest)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--sample", metavar="DATABASE_URL", help="build a sample shop there and stop"
    )
    args = parser.parse_args()
    if args.sample:
        build_sample(args.sample)
        return
    if not args.url:
        parser.error("--url is required (or --sample DATABASE_URL)")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not found: apt-get install chromium")
    for path in shoot(args.url, args.email, args.password, args.out, args.customer):
        print(path)  # noqa: T201


if __name__ == "__main__":
    main()
