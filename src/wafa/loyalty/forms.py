"""The dashboard's loyalty forms: posted text to the engine's schemas, and back.

A form field left empty means "no value". Amounts are typed in major units
(``12.50``), dates as year-month-day in the calendar the user reads (Jalali for
Persian), digits in any script. Every problem is collected per field and raised
once as ``Invalid`` whose locations are the form's field names and whose messages
are English msgids the page translates (``N_`` below).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from wafa.core.calendars import from_ymd, local_date, start_of_day, ymd
from wafa.core.errors import Invalid
from wafa.core.money import minor_digits, parse_amount
from wafa.core.settings import CalendarKind
from wafa.loyalty.models import Coupon, Reward, RewardKind, StampCard, StampPer
from wafa.loyalty.schemas.io import (
    CouponCreate,
    RewardCreate,
    RewardUpdate,
    StampCardCreate,
    StampCardUpdate,
)
from wafa.loyalty.schemas.program import (
    BirthdayMode,
    DowngradePolicy,
    ExpiryPolicy,
    ProgramRules,
    RefundPolicy,
    StreakPeriod,
    Tier,
    TierBasis,
    Tiers,
    TierWindow,
)


def N_(message: str) -> str:
    """Mark ``message`` for translation (the page translates it)."""
    return message


REQUIRED = N_("This is required.")
WHOLE = N_("Enter a whole number.")
TOO_SMALL = N_("This number is too small.")
TOO_LARGE = N_("This number is too large.")
AMOUNT = N_("Enter an amount, like 12.50.")
AMOUNT_PLACES = N_("This amount has more decimal places than the currency has.")
DATE = N_("Enter a date as year-month-day.")
DATE_ORDER = N_("The last day must come after the first day.")
CHOICE = N_("Choose one of the options.")
INVALID = N_("This value is not valid.")
TOO_LONG = N_("This is too long.")
RATE = N_("Choose an amount that gives a whole rate, like 1, 10 or 100.")
CODE = N_("Use 3 to 32 letters A–Z and digits.")
SLUG = N_("Use lowercase letters a–z, digits, “-” and “_” (no spaces).")
TIER_ORDER = N_("Each tier needs a higher threshold than the tier before it.")
TIER_UNIQUE = N_("Two tiers have the same short id.")
NEEDS_AMOUNT = N_("A money-off reward needs the amount it takes off.")
NEEDS_PERCENT = N_("A percentage reward needs the percentage.")
NEEDS_SKU = N_("A free product needs the product's SKU.")
NEEDS_PARTNER = N_("A partner offer needs the partner's name.")
NEEDS_PRODUCTS = N_("Name the products (SKUs) or the categories that earn stamps.")
NOT_ZERO = N_("Enter a number of points other than zero, like 50 or -20.")
PERCENT = N_("Enter a percentage between 0.01 and 100.")
MULTIPLIER = N_("Enter a multiplier like 1, 1.25 or 2.")

DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٫٬،", "01234567890123456789.,,")
_SLUG = re.compile(r"^[a-z0-9_-]{1,32}$")
_DAY = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")

# Pydantic error types and the message shown for them.
TYPE_MESSAGES = {
    "missing": REQUIRED,
    "string_too_short": REQUIRED,
    "string_too_long": TOO_LONG,
    "int_parsing": WHOLE,
    "int_type": WHOLE,
    "greater_than_equal": TOO_SMALL,
    "greater_than": TOO_SMALL,
    "less_than_equal": TOO_LARGE,
    "less_than": TOO_LARGE,
    "enum": CHOICE,
    "literal_error": CHOICE,
    "string_pattern_mismatch": SLUG,
    "uuid_parsing": CHOICE,
}


def ascii_text(value: str) -> str:
    """``value`` with Persian/Arabic digits and separators written in ASCII."""
    return value.translate(DIGITS)


class FormReader:
    """Read typed values from posted form text, collecting one message per field."""

    def __init__(
        self,
        form: Mapping[str, Any],
        *,
        currency: str = "USD",
        calendar: CalendarKind = CalendarKind.gregorian,
        zone: ZoneInfo | None = None,
    ) -> None:
        self.form = form
        self.currency = currency
        self.calendar = calendar
        self.zone = zone or ZoneInfo("UTC")
        self.errors: dict[str, str] = {}

    def error(self, name: str, message: str) -> None:
        """Record ``message`` for field ``name`` (the first message of a field wins)."""
        self.errors.setdefault(name, message)

    def raw(self, name: str) -> str:
        """The stripped text of ``name`` ("" when absent)."""
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else ""

    def text(self, name: str, *, required: bool = False, max_length: int = 200) -> str | None:
        """Text, or ``None`` when empty."""
        value = self.raw(name)
        if not value:
            if required:
                self.error(name, REQUIRED)
            return None
        if len(value) > max_length:
            self.error(name, TOO_LONG)
            return None
        return value

    def flag(self, name: str) -> bool:
        """A checkbox: ticked when present with any value but ``false``/``0``."""
        return self.raw(name).lower() not in ("", "false", "0", "no", "off")

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        minimum: int | None = 0,
        maximum: int | None = 10**9,
        default: int | None = None,
    ) -> int | None:
        """A whole number (sign and digits in any script)."""
        value = ascii_text(self.raw(name)).replace(",", "").replace(" ", "")
        if not value:
            if required:
                self.error(name, REQUIRED)
            return default
        body = value[1:] if value[:1] in "+-" else value
        if not body.isdigit():
            self.error(name, WHOLE)
            return default
        number = int(value)
        if minimum is not None and number < minimum:
            self.error(name, TOO_SMALL)
        elif maximum is not None and number > maximum:
            self.error(name, TOO_LARGE)
        return number

    def money(self, name: str, *, required: bool = False, default: int | None = None) -> int | None:
        """An amount in major units (``12.50``) as minor units, exactly; never negative."""
        value = ascii_text(self.raw(name)).replace(" ", "")
        if not value:
            if required:
                self.error(name, REQUIRED)
            return default
        if value.count(",") and not value.count("."):
            value = value.replace(",", "")
        try:
            amount = parse_amount(value, self.currency)
        except ValueError as exc:
            self.error(name, AMOUNT_PLACES if "decimal places" in str(exc) else AMOUNT)
            return default
        if amount < 0:
            self.error(name, TOO_SMALL)
            return default
        if amount > 10**15:
            self.error(name, TOO_LARGE)
            return default
        return amount

    def decimal(self, name: str, *, required: bool = False) -> Decimal | None:
        """A plain decimal number (``1.25``)."""
        value = ascii_text(self.raw(name)).replace(" ", "").replace(",", "")
        if not value:
            if required:
                self.error(name, REQUIRED)
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            self.error(name, INVALID)
            return None
        if not number.is_finite():
            self.error(name, INVALID)
            return None
        return number

    def choice(self, name: str, options: Mapping[str, Any] | list[str]) -> str | None:
        """One of ``options`` (its key), or ``None`` when empty."""
        value = self.raw(name)
        if not value:
            return None
        if value not in options:
            self.error(name, CHOICE)
            return None
        return value

    def day(self, name: str) -> date | None:
        """A day typed as year-month-day in the reader's calendar."""
        value = ascii_text(self.raw(name)).replace(" ", "")
        if not value:
            return None
        found = _DAY.match(value)
        if not found:
            self.error(name, DATE)
            return None
        y, m, d = (int(g) for g in found.groups())
        try:
            return from_ymd(y, m, d, self.calendar)
        except ValueError:
            self.error(name, DATE)
            return None

    def start(self, name: str) -> datetime | None:
        """The first instant of the typed day, in the business's zone."""
        day = self.day(name)
        return start_of_day(day, self.zone) if day is not None else None

    def end(self, name: str) -> datetime | None:
        """The end of the typed (last, inclusive) day: the first instant of the next day."""
        day = self.day(name)
        return start_of_day(day + timedelta(days=1), self.zone) if day is not None else None

    def words(self, name: str, *, max_length: int = 120) -> list[str]:
        """Comma-separated words (Arabic and Persian commas too), without blanks or repeats."""
        raw = self.raw(name).replace("،", ",").replace("؛", ",").replace("\n", ",")
        seen: dict[str, None] = {}
        for part in raw.split(","):
            word = part.strip()
            if word:
                if len(word) > max_length:
                    self.error(name, TOO_LONG)
                    continue
                seen.setdefault(word, None)
        return list(seen)

    def reference(self, name: str) -> uuid.UUID | None:
        """A UUID picked in a select box, or ``None``."""
        value = self.raw(name)
        if not value:
            return None
        try:
            return uuid.UUID(value)
        except ValueError:
            self.error(name, CHOICE)
            return None

    def check(self) -> None:
        """Raise the collected problems, if any."""
        if self.errors:
            raise Invalid(
                "some fields are not valid", [((name,), msg) for name, msg in self.errors.items()]
            )


def from_validation(
    exc: ValidationError, field_for: Callable[[tuple[str | int, ...]], str]
) -> Invalid:
    """A schema's ``ValidationError`` as ``Invalid`` with form field names and msgids."""
    found: dict[str, str] = {}
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        name = field_for(loc)
        kind = str(err.get("type", ""))
        message = TYPE_MESSAGES.get(kind, INVALID)
        if kind == "value_error":
            message = _value_error_message(str(err.get("msg", "")))
        found.setdefault(name, message)
    return Invalid("some fields are not valid", [((k,), v) for k, v in found.items()])


def _value_error_message(text: str) -> str:
    for needle, message in (
        ("thresholds must increase", TIER_ORDER),
        ("codes must be unique", TIER_UNIQUE),
        ("fixed discount needs", NEEDS_AMOUNT),
        ("percentage discount needs", NEEDS_PERCENT),
        ("free product needs", NEEDS_SKU),
        ("partner offer needs", NEEDS_PARTNER),
        ("valid_until must be after", DATE_ORDER),
        ("ends_on is before", DATE_ORDER),
        ("skus) or categories", NEEDS_PRODUCTS),
    ):
        if needle in text:
            return message
    return INVALID


def _plain(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return text


def amount_text(amount: int | None, currency: str) -> str:
    """Minor units as the plain decimal a form shows (``1250`` → ``12.50``)."""
    if amount is None:
        return ""
    digits = minor_digits(currency)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f}"


def day_text(value: datetime | date | None, *, calendar: CalendarKind, zone: ZoneInfo) -> str:
    """A day as a form shows it: ``2026-04-30``, or ``1405/02/10`` in Jalali."""
    if value is None:
        return ""
    day = local_date(value, zone) if isinstance(value, datetime) else value
    y, m, d = ymd(day, calendar)
    sep = "/" if calendar is CalendarKind.jalali else "-"
    return f"{y:04d}{sep}{m:02d}{sep}{d:02d}"


def last_day_text(value: datetime | None, *, calendar: CalendarKind, zone: ZoneInfo) -> str:
    """An exclusive end instant as the inclusive last day a form shows."""
    if value is None:
        return ""
    return day_text(value - timedelta(microseconds=1), calendar=calendar, zone=zone)


# --------------------------------------------------------------------------- earning rate


def rate_parts(rate_bp: int, currency: str) -> tuple[int, int]:
    """A rate in basis points as "``points`` for every ``amount``" (minor units), in whole numbers.

    ``100`` bp in USD is 1 point for every 100 cents ($1.00); ``150`` is 15 for every $10.
    """
    unit = 10 ** minor_digits(currency)
    per = unit
    for _ in range(8):
        if rate_bp * per % 10_000 == 0:
            return rate_bp * per // 10_000, per
        per *= 10
    return rate_bp, 10_000


def point_value_text(point_value_bp: int, currency: str) -> str:
    """What one point is worth, in major units (``10000`` bp of a cent → ``0.01``)."""
    value = Decimal(point_value_bp).scaleb(-4 - minor_digits(currency))
    return _plain(value)


# --------------------------------------------------------------------------- program settings

# Form field → where it lives in the rules.
PROGRAM_FIELDS: dict[str, tuple[str, ...]] = {
    "enabled": ("enabled",),
    "name": ("name",),
    "earn_points": ("earning", "rate_bp"),
    "after_discounts": ("earning", "after_discounts"),
    "include_shipping": ("earning", "include_shipping"),
    "include_tax": ("earning", "include_tax"),
    "excluded_categories": ("earning", "excluded_categories"),
    "excluded_skus": ("earning", "excluded_skus"),
    "min_order_amount": ("earning", "min_order_amount"),
    "pending_days": ("pending_days",),
    "expiry_policy": ("expiry", "policy"),
    "expiry_months": ("expiry", "months"),
    "refund_policy": ("refund_policy",),
    "bonus_signup": ("bonuses", "signup"),
    "bonus_first_order": ("bonuses", "first_order"),
    "bonus_profile_completed": ("bonuses", "profile_completed"),
    "bonus_survey_answered": ("bonuses", "survey_answered"),
    "birthday_enabled": ("birthday", "enabled"),
    "birthday_mode": ("birthday", "mode"),
    "birthday_points": ("birthday", "points"),
    "birthday_reward": ("birthday", "reward_id"),
    "birthday_cooloff_days": ("birthday", "cooloff_days"),
    "referral_enabled": ("referral", "enabled"),
    "referee_points": ("referral", "referee_points"),
    "referee_reward": ("referral", "referee_reward_id"),
    "referrer_points": ("referral", "referrer_points"),
    "referrer_reward": ("referral", "referrer_reward_id"),
    "referral_max_per_period": ("referral", "max_per_period"),
    "referral_period_days": ("referral", "period_days"),
    "referral_link_base": ("referral", "link_base"),
    "streak_period": ("streaks", "period"),
    "leaderboard_enabled": ("leaderboard", "enabled"),
    "leaderboard_size": ("leaderboard", "size"),
    "point_value": ("point_value_bp",),
}


def _program_field(loc: tuple[str | int, ...]) -> str:
    path = tuple(str(p) for p in loc if p not in ("body", "rules"))
    if len(path) == 1 and (path[0] in PROGRAM_FIELDS or path[0] in ("earn_per", "note")):
        return path[0]  # already a form field (the reader's own errors)
    best, size = "__all__", 0
    for name, where in PROGRAM_FIELDS.items():
        if path[: len(where)] == where and len(where) > size:
            best, size = name, len(where)
    return best


def program_values(rules: ProgramRules, currency: str) -> dict[str, str]:
    """The settings form filled with ``rules``."""
    points, per = rate_parts(rules.earning.rate_bp, currency)
    b, r = rules.birthday, rules.referral
    return {
        "enabled": "yes" if rules.enabled else "",
        "name": rules.name,
        "earn_points": str(points),
        "earn_per": amount_text(per, currency),
        "after_discounts": "yes" if rules.earning.after_discounts else "",
        "include_shipping": "yes" if rules.earning.include_shipping else "",
        "include_tax": "yes" if rules.earning.include_tax else "",
        "excluded_categories": ", ".join(rules.earning.excluded_categories),
        "excluded_skus": ", ".join(rules.earning.excluded_skus),
        "min_order_amount": amount_text(rules.earning.min_order_amount, currency)
        if rules.earning.min_order_amount
        else "",
        "pending_days": str(rules.pending_days),
        "expiry_policy": str(rules.expiry.policy),
        "expiry_months": str(rules.expiry.months),
        "refund_policy": str(rules.refund_policy),
        "bonus_signup": str(rules.bonuses.signup),
        "bonus_first_order": str(rules.bonuses.first_order),
        "bonus_profile_completed": str(rules.bonuses.profile_completed),
        "bonus_survey_answered": str(rules.bonuses.survey_answered),
        "birthday_enabled": "yes" if b.enabled else "",
        "birthday_mode": str(b.mode),
        "birthday_points": str(b.points),
        "birthday_reward": str(b.reward_id or ""),
        "birthday_cooloff_days": str(b.cooloff_days),
        "referral_enabled": "yes" if r.enabled else "",
        "referee_points": str(r.referee_points),
        "referee_reward": str(r.referee_reward_id or ""),
        "referrer_points": str(r.referrer_points),
        "referrer_reward": str(r.referrer_reward_id or ""),
        "referral_max_per_period": str(r.max_per_period),
        "referral_period_days": str(r.period_days),
        "referral_link_base": r.link_base or "",
        "streak_period": str(rules.streaks.period),
        "leaderboard_enabled": "yes" if rules.leaderboard.enabled else "",
        "leaderboard_size": str(rules.leaderboard.size),
        "point_value": point_value_text(rules.point_value_bp, currency),
    }


def read_program(form: Mapping[str, Any], *, current: ProgramRules, currency: str) -> ProgramRules:
    """The rules in force with the settings form's changes (what the form does not show stays)."""
    f = FormReader(form, currency=currency)
    data = current.model_dump(mode="json")
    data["enabled"] = f.flag("enabled")
    data["name"] = f.text("name", required=True, max_length=120) or current.name
    earning = data["earning"]
    points = f.integer("earn_points", required=True)
    per = f.money("earn_per", required=True)
    if per == 0:
        f.error("earn_per", TOO_SMALL)
    elif points is not None and per:
        if points * 10_000 % per:
            f.error("earn_per", RATE)
        else:
            earning["rate_bp"] = points * 10_000 // per
    earning["after_discounts"] = f.flag("after_discounts")
    earning["include_shipping"] = f.flag("include_shipping")
    earning["include_tax"] = f.flag("include_tax")
    earning["excluded_categories"] = f.words("excluded_categories")
    earning["excluded_skus"] = f.words("excluded_skus", max_length=100)
    earning["min_order_amount"] = f.money("min_order_amount", default=0)
    data["pending_days"] = f.integer("pending_days", required=True, maximum=365)
    data["expiry"]["policy"] = f.choice("expiry_policy", [p.value for p in ExpiryPolicy]) or (
        ExpiryPolicy.never.value
    )
    data["expiry"]["months"] = f.integer("expiry_months", required=True, minimum=1, maximum=120)
    data["refund_policy"] = f.choice("refund_policy", [p.value for p in RefundPolicy]) or (
        current.refund_policy.value
    )
    for key in ("signup", "first_order", "profile_completed", "survey_answered"):
        data["bonuses"][key] = f.integer(f"bonus_{key}", default=0)
    birthday = data["birthday"]
    birthday["enabled"] = f.flag("birthday_enabled")
    birthday["mode"] = f.choice("birthday_mode", [m.value for m in BirthdayMode]) or "day"
    birthday["points"] = f.integer("birthday_points", default=0)
    birthday["reward_id"] = _uuid_text(f.reference("birthday_reward"))
    birthday["cooloff_days"] = f.integer("birthday_cooloff_days", default=0, maximum=366)
    referral = data["referral"]
    referral["enabled"] = f.flag("referral_enabled")
    referral["referee_points"] = f.integer("referee_points", default=0)
    referral["referee_reward_id"] = _uuid_text(f.reference("referee_reward"))
    referral["referrer_points"] = f.integer("referrer_points", default=0)
    referral["referrer_reward_id"] = _uuid_text(f.reference("referrer_reward"))
    referral["max_per_period"] = f.integer("referral_max_per_period", required=True, minimum=1)
    referral["period_days"] = f.integer(
        "referral_period_days", required=True, minimum=1, maximum=366
    )
    referral["link_base"] = f.text("referral_link_base", max_length=300)
    data["streaks"]["period"] = f.choice("streak_period", [p.value for p in StreakPeriod]) or (
        current.streaks.period.value
    )
    data["leaderboard"]["enabled"] = f.flag("leaderboard_enabled")
    data["leaderboard"]["size"] = f.integer(
        "leaderboard_size", required=True, minimum=1, maximum=100
    )
    value = f.decimal("point_value", required=True)
    if value is not None:
        bp = value.scaleb(4 + minor_digits(currency))
        if value < 0:
            f.error("point_value", TOO_SMALL)
        elif bp != bp.to_integral_value():
            f.error("point_value", AMOUNT_PLACES)
        elif bp > 10**7:
            f.error("point_value", TOO_LARGE)
        else:
            data["point_value_bp"] = int(bp)
    f.check()
    try:
        return ProgramRules.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc, _program_field) from None


def program_field(loc: tuple[str | int, ...]) -> str:
    """The settings form's field for a location in the rules (``__all__`` when none)."""
    return _program_field(loc)


def _uuid_text(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


# --------------------------------------------------------------------------- tiers

TIER_ROWS_EXTRA = 2


def multiplier_text(bp: int) -> str:
    """An earning multiplier in basis points as the form shows it (``15000`` → ``1.5``)."""
    return _plain(Decimal(bp).scaleb(-4))


def tier_values(tiers: Tiers, currency: str) -> dict[str, str]:
    """The tiers form filled with ``tiers`` (plus empty rows for new tiers)."""
    values: dict[str, str] = {
        "enabled": "yes" if tiers.enabled else "",
        "basis": str(tiers.basis),
        "window": str(tiers.window),
        "window_months": str(tiers.window_months),
        "hold_months": str(tiers.hold_months),
        "grace_days": str(tiers.grace_days),
        "downgrade": str(tiers.downgrade),
        "rows": str(len(tiers.levels) + TIER_ROWS_EXTRA),
    }
    for i, level in enumerate(tiers.levels):
        values[f"name_{i}"] = level.name
        values[f"code_{i}"] = level.code
        values[f"threshold_{i}"] = (
            amount_text(level.threshold, currency)
            if tiers.basis is TierBasis.spend
            else str(level.threshold)
        )
        values[f"multiplier_{i}"] = multiplier_text(level.earn_multiplier_bp)
        values[f"flags_{i}"] = ", ".join(level.flags)
    return values


def _slug_from(name: str, index: int) -> str:
    ascii_name = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:32]
    return ascii_name or f"tier-{index + 1}"


def read_tiers(form: Mapping[str, Any], *, currency: str) -> Tiers:
    """The tier definitions posted by the tiers form; empty or removed rows are dropped."""
    f = FormReader(form, currency=currency)
    basis = f.choice("basis", [b.value for b in TierBasis]) or TierBasis.points.value
    rows = f.integer("rows", default=0, maximum=60) or 0
    levels: list[dict[str, Any]] = []
    for i in range(rows):
        name = f.text(f"name_{i}", max_length=120)
        code = f.raw(f"code_{i}").lower()
        if f.flag(f"remove_{i}") or not (name or code or f.raw(f"threshold_{i}")):
            continue
        if not name:
            f.error(f"name_{i}", REQUIRED)
        code = code or _slug_from(name or "", i)
        if not _SLUG.match(code):
            f.error(f"code_{i}", SLUG)
        threshold = (
            f.money(f"threshold_{i}", required=True)
            if basis == TierBasis.spend.value
            else f.integer(f"threshold_{i}", required=True)
        )
        multiplier = f.decimal(f"multiplier_{i}") or Decimal(1)
        bp = multiplier.scaleb(4)
        if bp < 0 or bp > 10**7 or bp != bp.to_integral_value():
            f.error(f"multiplier_{i}", MULTIPLIER)
            bp = Decimal(10_000)
        flags = [w.lower().replace(" ", "_") for w in f.words(f"flags_{i}", max_length=32)]
        if any(not _SLUG.match(flag) for flag in flags):
            f.error(f"flags_{i}", SLUG)
        levels.append(
            {
                "index": i,
                "code": code,
                "name": name or code,
                "threshold": threshold or 0,
                "earn_multiplier_bp": int(bp),
                "flags": flags,
            }
        )
    previous: int | None = None
    for level in levels:
        if previous is not None and level["threshold"] <= previous:
            f.error(f"threshold_{level['index']}", TIER_ORDER)
        previous = level["threshold"]
    codes = [lv["code"] for lv in levels]
    for level in levels:
        if codes.count(level["code"]) > 1:
            f.error(f"code_{level['index']}", TIER_UNIQUE)
    data = {
        "enabled": f.flag("enabled"),
        "basis": basis,
        "window": f.choice("window", [w.value for w in TierWindow]) or TierWindow.rolling.value,
        "window_months": f.integer("window_months", required=True, minimum=1, maximum=60),
        "hold_months": f.integer("hold_months", required=True, minimum=1, maximum=60),
        "grace_days": f.integer("grace_days", required=True, maximum=365),
        "downgrade": f.choice("downgrade", [d.value for d in DowngradePolicy])
        or DowngradePolicy.one_down.value,
        "levels": [{k: v for k, v in lv.items() if k != "index"} for lv in levels],
    }
    f.check()
    try:
        return Tiers.model_validate(data)
    except ValidationError as exc:

        def where(loc: tuple[str | int, ...]) -> str:
            if len(loc) >= 2 and loc[0] == "levels" and isinstance(loc[1], int):
                index = levels[loc[1]]["index"] if loc[1] < len(levels) else 0
                column = {"earn_multiplier_bp": "multiplier"}.get(str(loc[2]), str(loc[2]))
                return f"{column}_{index}" if len(loc) > 2 else f"name_{index}"
            return str(loc[0]) if loc else "__all__"

        raise from_validation(exc, where) from None


def tier_rows(values: Mapping[str, str]) -> range:
    """The row indexes the tiers form draws."""
    try:
        return range(max(int(values.get("rows", "0") or 0), TIER_ROWS_EXTRA))
    except ValueError:
        return range(TIER_ROWS_EXTRA)


def tier_level(tiers: Tiers, code: str | None) -> Tier | None:
    """The tier ``code`` of ``tiers``."""
    return next((t for t in tiers.levels if t.code == code), None)


# --------------------------------------------------------------------------- rewards

REWARD_FIELDS = (
    "name",
    "description",
    "kind",
    "cost_points",
    "amount",
    "percent",
    "product_sku",
    "partner_name",
    "min_tier",
    "stock",
    "min_order_amount",
    "coupon_valid_days",
    "valid_from",
    "valid_until",
)


def percent_text(bp: int | None) -> str:
    """Basis points as the percentage a form shows (``1250`` → ``12.5``)."""
    return _plain(Decimal(bp).scaleb(-2)) if bp else ""


def reward_values(reward: Reward, *, calendar: CalendarKind, zone: ZoneInfo) -> dict[str, str]:
    """The reward form filled with ``reward``."""
    return {
        "name": reward.name,
        "description": reward.description or "",
        "kind": reward.kind,
        "cost_points": str(reward.cost_points),
        "amount": amount_text(reward.amount, reward.currency) if reward.amount else "",
        "percent": percent_text(reward.percent_bp),
        "product_sku": reward.product_sku or "",
        "partner_name": reward.partner_name or "",
        "min_tier": reward.min_tier or "",
        "stock": "" if reward.stock is None else str(reward.stock),
        "min_order_amount": amount_text(reward.min_order_amount, reward.currency)
        if reward.min_order_amount
        else "",
        "coupon_valid_days": str(reward.coupon_valid_days or ""),
        "valid_from": day_text(reward.valid_from, calendar=calendar, zone=zone),
        "valid_until": last_day_text(reward.valid_until, calendar=calendar, zone=zone),
        "active": "yes" if reward.active else "",
    }


def _percent_bp(f: FormReader, name: str) -> int | None:
    value = f.decimal(name)
    if value is None:
        return None
    bp = value.scaleb(2)
    if bp <= 0 or bp > 10_000 or bp != bp.to_integral_value():
        f.error(name, PERCENT)
        return None
    return int(bp)


def _reward_fields(f: FormReader, kind: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {
        "description": f.text("description", max_length=2000),
        "cost_points": f.integer("cost_points", required=True),
        "amount": f.money("amount"),
        "percent_bp": _percent_bp(f, "percent"),
        "product_sku": f.text("product_sku", max_length=100),
        "partner_name": f.text("partner_name", max_length=200),
        "min_tier": f.text("min_tier", max_length=32),
        "stock": f.integer("stock"),
        "min_order_amount": f.money("min_order_amount", default=0),
        "coupon_valid_days": f.integer("coupon_valid_days", minimum=1, maximum=3650),
        "valid_from": f.start("valid_from"),
        "valid_until": f.end("valid_until"),
    }
    # Only what the kind of reward uses is kept: a percentage on a free coffee means nothing.
    needs = {
        RewardKind.discount_fixed.value: ("amount", NEEDS_AMOUNT, "amount"),
        RewardKind.discount_percent.value: ("percent_bp", NEEDS_PERCENT, "percent"),
        RewardKind.free_product.value: ("product_sku", NEEDS_SKU, "product_sku"),
        RewardKind.partner_offer.value: ("partner_name", NEEDS_PARTNER, "partner_name"),
    }
    for k, (key, message, name) in needs.items():
        if kind == k:
            if not values[key] and name not in f.errors:
                f.error(name, message)
        elif key != "product_sku" or kind != RewardKind.gift.value:
            values[key] = None
    if (
        values["valid_from"]
        and values["valid_until"]
        and values["valid_until"] <= values["valid_from"]
    ):
        f.error("valid_until", DATE_ORDER)
    return values


def _reward_field(loc: tuple[str | int, ...]) -> str:
    name = str(loc[0]) if loc else "__all__"
    return {"percent_bp": "percent"}.get(name, name)


def read_reward_create(
    form: Mapping[str, Any], *, currency: str, calendar: CalendarKind, zone: ZoneInfo
) -> RewardCreate:
    """A new reward from the reward form."""
    f = FormReader(form, currency=currency, calendar=calendar, zone=zone)
    name = f.text("name", required=True)
    kind = f.choice("kind", [k.value for k in RewardKind])
    if kind is None and "kind" not in f.errors:
        f.error("kind", REQUIRED)
    values = _reward_fields(f, kind)
    f.check()
    try:
        return RewardCreate(name=name or "", kind=RewardKind(kind or ""), active=True, **values)
    except ValidationError as exc:
        raise from_validation(exc, _reward_field) from None


def read_reward_update(
    form: Mapping[str, Any], *, reward: Reward, calendar: CalendarKind, zone: ZoneInfo
) -> RewardUpdate:
    """The changes the reward form makes to ``reward`` (its kind stays)."""
    f = FormReader(form, currency=reward.currency, calendar=calendar, zone=zone)
    name = f.text("name", required=True)
    values = _reward_fields(f, reward.kind)
    f.check()
    try:
        return RewardUpdate(name=name, **values)
    except ValidationError as exc:
        raise from_validation(exc, _reward_field) from None


# --------------------------------------------------------------------------- coupons


def read_coupon(
    form: Mapping[str, Any], *, currency: str, calendar: CalendarKind, zone: ZoneInfo
) -> CouponCreate:
    """A campaign code from the coupon form."""
    f = FormReader(form, currency=currency, calendar=calendar, zone=zone)
    name = f.text("name", required=True)
    kind = f.choice("kind", [k.value for k in RewardKind]) or RewardKind.discount_fixed.value
    code = f.text("code", max_length=40)
    if code is not None:
        code = re.sub(r"[\s\-_.]+", "", ascii_text(code)).upper()
        if not re.match(r"^[A-Z0-9]{3,32}$", code):
            f.error("code", CODE)
    values = _reward_fields_for_coupon(f, kind)
    unlimited = f.flag("unlimited")
    max_uses = None if unlimited else f.integer("max_uses", required=True, minimum=1)
    values.update(
        max_uses=max_uses,
        per_customer_limit=f.integer("per_customer_limit", minimum=1),
        min_order_amount=f.money("min_order_amount", default=0),
        valid_from=f.start("valid_from"),
        expires_at=f.end("expires_at"),
    )
    if (
        values["valid_from"]
        and values["expires_at"]
        and values["expires_at"] <= values["valid_from"]
    ):
        f.error("expires_at", DATE_ORDER)
    f.check()
    try:
        return CouponCreate(name=name or "", kind=RewardKind(kind), code=code, **values)
    except ValidationError as exc:
        raise from_validation(exc, _reward_field) from None


def _reward_fields_for_coupon(f: FormReader, kind: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "amount": f.money("amount"),
        "percent_bp": _percent_bp(f, "percent"),
        "product_sku": f.text("product_sku", max_length=100),
        "partner_name": f.text("partner_name", max_length=200),
    }
    needs = {
        RewardKind.discount_fixed.value: ("amount", NEEDS_AMOUNT, "amount"),
        RewardKind.discount_percent.value: ("percent_bp", NEEDS_PERCENT, "percent"),
        RewardKind.free_product.value: ("product_sku", NEEDS_SKU, "product_sku"),
        RewardKind.partner_offer.value: ("partner_name", NEEDS_PARTNER, "partner_name"),
    }
    for k, (key, message, name) in needs.items():
        if kind == k:
            if not values[key] and name not in f.errors:
                f.error(name, message)
        else:
            values[key] = None
    return values


def coupon_is_reward(coupon: Coupon) -> bool:
    """Whether the coupon came from a redemption (voided by cancelling the redemption)."""
    return coupon.source == "reward"


# --------------------------------------------------------------------------- stamp cards


def card_values(card: StampCard) -> dict[str, str]:
    """The stamp card form filled with ``card``."""
    return {
        "name": card.name,
        "stamps_required": str(card.stamps_required),
        "per": card.per,
        "skus": ", ".join(card.skus or []),
        "categories": ", ".join(card.categories or []),
        "reward_id": str(card.reward_id),
        "active": "yes" if card.active else "",
    }


def _card_fields(f: FormReader) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": f.text("name", required=True),
        "stamps_required": f.integer("stamps_required", required=True, minimum=1, maximum=1000),
        "per": f.choice("per", [p.value for p in StampPer]) or StampPer.visit.value,
        "skus": f.words("skus", max_length=100),
        "categories": f.words("categories"),
        "reward_id": f.reference("reward_id"),
        "active": f.flag("active"),
    }
    if values["reward_id"] is None and "reward_id" not in f.errors:
        f.error("reward_id", REQUIRED)
    if not values["skus"] and not values["categories"]:
        f.error("skus", NEEDS_PRODUCTS)
    return values


def read_card_create(form: Mapping[str, Any]) -> StampCardCreate:
    """A new stamp card from the stamp card form."""
    f = FormReader(form)
    values = _card_fields(f)
    f.check()
    try:
        return StampCardCreate(**values)
    except ValidationError as exc:
        raise from_validation(exc, _reward_field) from None


def read_card_update(form: Mapping[str, Any]) -> StampCardUpdate:
    """The changes the stamp card form makes."""
    f = FormReader(form)
    values = _card_fields(f)
    f.check()
    try:
        return StampCardUpdate(**values)
    except ValidationError as exc:
        raise from_validation(exc, _reward_field) from None


# --------------------------------------------------------------------------- adjustments


def read_override(
    form: Mapping[str, Any], *, tiers: list[str], calendar: CalendarKind
) -> tuple[str | None, date | None, str]:
    """A tier kept by staff as a floor (empty: remove it), its last day, and the reason."""
    f = FormReader(form, calendar=calendar)
    tier = f.choice("tier", tiers)
    until = f.day("until")
    reason = f.text("override_reason", required=True, max_length=500)
    f.check()
    assert reason is not None
    return tier, until, reason


def read_adjustment(form: Mapping[str, Any]) -> tuple[int, str]:
    """Points (signed, not zero) and the required reason of a staff adjustment."""
    f = FormReader(form)
    points = f.integer("points", required=True, minimum=-(10**9), maximum=10**9)
    if points == 0:
        f.error("points", NOT_ZERO)
    reason = f.text("reason", required=True, max_length=500)
    f.check()
    assert points is not None
    assert reason is not None
    return points, reason
