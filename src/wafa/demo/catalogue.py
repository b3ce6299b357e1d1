"""The demo café-roastery: its shops, its menu and the people who come in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    """A product of the demo catalogue; ``price`` in major units of US dollars."""

    sku: str
    name: str
    category: str
    price: float
    repeatable: bool = True


DRINKS = "coffee drinks"
PASTRIES = "pastries"
BEANS = "beans"
EQUIPMENT = "equipment"

CATALOGUE = (
    Item("DRK-ESP", "Espresso", DRINKS, 2.80),
    Item("DRK-FW", "Flat white", DRINKS, 4.20),
    Item("DRK-CAP", "Cappuccino", DRINKS, 4.00),
    Item("DRK-LAT", "Latte", DRINKS, 4.30),
    Item("DRK-CARD", "Cardamom latte", DRINKS, 4.80),
    Item("DRK-TRK", "Turkish coffee", DRINKS, 3.50),
    Item("DRK-CB", "Cold brew", DRINKS, 4.60),
    Item("DRK-ICL", "Iced latte", DRINKS, 4.70),
    Item("DRK-V60", "V60 pour-over", DRINKS, 5.50),
    Item("PAS-CRO", "Butter croissant", PASTRIES, 3.00),
    Item("PAS-ALM", "Almond croissant", PASTRIES, 3.80),
    Item("PAS-DATE", "Date and walnut cake", PASTRIES, 4.20),
    Item("PAS-KUN", "Kunafa slice", PASTRIES, 5.00),
    Item("PAS-CARD", "Cardamom bun", PASTRIES, 3.60),
    Item("PAS-BRW", "Brownie", PASTRIES, 3.40),
    Item("BEA-HB250", "House blend 250 g", BEANS, 11.00),
    Item("BEA-HB1K", "House blend 1 kg", BEANS, 36.00),
    Item("BEA-ETH", "Ethiopia Yirgacheffe 250 g", BEANS, 15.50),
    Item("BEA-COL", "Colombia Huila 250 g", BEANS, 13.50),
    Item("BEA-DEC", "Decaf Brazil 250 g", BEANS, 12.00),
    Item("EQP-V60", "V60 dripper", EQUIPMENT, 24.00, repeatable=False),
    Item("EQP-KET", "Gooseneck kettle", EQUIPMENT, 65.00, repeatable=False),
    Item("EQP-GRD", "Hand grinder", EQUIPMENT, 89.00, repeatable=False),
    Item("EQP-FP", "French press", EQUIPMENT, 35.00, repeatable=False),
    Item("EQP-ESP", "Home espresso machine", EQUIPMENT, 420.00, repeatable=False),
)

# Shops (code, name, kind); the online shop takes the online orders.
SHOPS = (("downtown", "Downtown café", "shop"), ("old-town", "Old Town café", "shop"))
ONLINE = ("online", "Online shop", "online")

# Given name, family name, Latin spelling for email addresses, language.
ENGLISH = (
    ["Emma", "Olivia", "James", "Liam", "Noah", "Sophia", "Mia", "Lucas", "Amelia", "Ethan",
     "Grace", "Henry", "Chloe", "Daniel", "Ava", "Jack"],
    ["Smith", "Brown", "Taylor", "Wilson", "Clarke", "Hughes", "Walker", "Wright", "Green", "Hall"],
)  # fmt: skip
ARABIC = (
    [("سارة", "sara"), ("محمد", "mohammed"), ("ليلى", "layla"), ("عمر", "omar"), ("نور", "nour"),
     ("يوسف", "youssef"), ("فاطمة", "fatima"), ("خالد", "khaled"), ("مريم", "mariam"),
     ("أحمد", "ahmed"), ("هدى", "huda"), ("علي", "ali")],
    [("الحداد", "haddad"), ("المنصوري", "mansouri"), ("الخطيب", "khatib"), ("النجار", "najjar"),
     ("العلي", "alali"), ("الشامي", "shami"), ("الزين", "zein"), ("حسن", "hassan")],
)  # fmt: skip
PERSIAN = (
    [("مریم", "maryam"), ("علی", "ali"), ("زهرا", "zahra"), ("رضا", "reza"), ("سارا", "sara"),
     ("امیر", "amir"), ("نگار", "negar"), ("حسین", "hossein"), ("پریسا", "parisa"),
     ("کاوه", "kaveh"), ("شیرین", "shirin"), ("آرش", "arash")],
    [("رضایی", "rezaei"), ("محمدی", "mohammadi"), ("احمدی", "ahmadi"), ("کریمی", "karimi"),
     ("حسینی", "hosseini"), ("موسوی", "mousavi"), ("جعفری", "jafari"), ("نوری", "nouri")],
)  # fmt: skip

# Approximate prices in other currencies, relative to US dollars (a demo, not a rate feed).
PRICE_LEVEL = {
    "USD": 1.0, "EUR": 0.95, "GBP": 0.8, "AED": 3.7, "SAR": 3.75, "QAR": 3.6, "KWD": 0.31,
    "BHD": 0.38, "OMR": 0.38, "EGP": 30.0, "TRY": 30.0, "IRR": 400_000.0, "JPY": 150.0,
    "CAD": 1.35, "AUD": 1.5, "CHF": 0.9, "SEK": 10.5, "NOK": 10.5, "INR": 80.0, "PKR": 250.0,
    "MAD": 10.0, "JOD": 0.71, "LBP": 90_000.0, "IQD": 1300.0,
}  # fmt: skip

# A city to go with the business's timezone.
CITIES = {
    "Asia/Tehran": "Tehran", "Asia/Dubai": "Dubai", "Asia/Riyadh": "Riyadh", "Asia/Qatar": "Doha",
    "Asia/Kuwait": "Kuwait City", "Africa/Cairo": "Cairo", "Europe/Istanbul": "Istanbul",
    "Europe/London": "London", "Europe/Berlin": "Berlin", "Europe/Paris": "Paris",
    "America/New_York": "New York", "America/Toronto": "Toronto", "Asia/Amman": "Amman",
    "Asia/Beirut": "Beirut", "Asia/Baghdad": "Baghdad", "Asia/Muscat": "Muscat",
    "Asia/Bahrain": "Manama",
}  # fmt: skip

# Ramadan (approximate Gregorian dates): evenings get busier, mornings quieter.
RAMADAN = (
    ("2023-03-23", "2023-04-20"), ("2024-03-11", "2024-04-09"), ("2025-03-01", "2025-03-29"),
    ("2026-02-18", "2026-03-19"), ("2027-02-08", "2027-03-09"), ("2028-01-28", "2028-02-26"),
)  # fmt: skip
