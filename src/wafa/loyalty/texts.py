"""The words behind loyalty's slugs: coupon refusals, entry reasons, tier changes.

Marked with ``N_`` so that extraction finds them; ``loyalty.po`` (Arabic, Persian)
translates them, and the dashboard's loader merges that catalogue with the others.
The API answers in English alongside the slug; screens translate the slug's text.
"""

from __future__ import annotations

from wafa.core.i18n import N_

COUPON_REASONS: dict[str, str] = {
    "not_found": N_("There is no coupon with this code."),
    "voided": N_("This coupon has been cancelled."),
    "not_yet_valid": N_("This coupon cannot be used yet."),
    "expired": N_("This coupon has expired."),
    "used_up": N_("This coupon has already been used."),
    "customer_limit": N_("This customer has used this coupon as often as allowed."),
    "other_customer": N_("This coupon belongs to another customer."),
    "customer_required": N_("This coupon needs a known customer."),
    "minimum_order": N_("The order is below this coupon's minimum."),
}

ENTRY_REASONS: dict[str, str] = {
    "order": N_("Points for order {number}"),
    "refund": N_("Refund of order {number}"),
    "cancel": N_("Order {number} cancelled"),
    "redemption": N_("Reward redeemed: {name}"),
    "redemption_cancelled": N_("Redemption cancelled: points returned"),
    "adjustment": N_("Adjustment by staff: {note}"),
    "birthday": N_("Happy birthday!"),
    "referral": N_("Referral reward"),
    "bonus": N_("Bonus"),
    "expiry": N_("Points expired"),
    "inactivity": N_("Points expired after a long time without a purchase"),
    "carried_recovery": N_("Taken from new points for an earlier refund"),
    "merge_in": N_("Points moved from a merged duplicate record"),
    "merge_out": N_("Points moved to the merged record"),
    "merge_debt": N_("Balance owed moved with a merged record"),
    "erased": N_("Points removed with the customer's data"),
}

RULES: dict[str, str] = {
    "base": N_("Base points"),
    "bonus:first_order": N_("First order bonus"),
    "bonus:signup": N_("Welcome bonus"),
    "bonus:profile_completed": N_("Profile completed"),
    "bonus:survey_answered": N_("Thanks for your feedback"),
    "tier": N_("Tier bonus ({name})"),
    "promo": N_("Promotion ({name})"),
    "referral:referee": N_("Welcome gift from a friend's referral"),
    "referral:referrer": N_("Thanks for bringing a friend"),
}

TIER_REASONS: dict[str, str] = {
    "upgrade": N_("Upgraded"),
    "downgrade": N_("Moved down at review"),
    "override": N_("Set by staff"),
    "override_removed": N_("Staff setting removed"),
    "override_expired": N_("Staff setting ended"),
    "merge": N_("Merged records"),
}

REFERRAL_FLAGS: dict[str, str] = {
    "same_contact": N_("Same email, phone or address as the referrer"),
    "not_new": N_("Not a new customer"),
    "too_many": N_("Too many referrals in a short time"),
    "refunded": N_("The qualifying order was refunded or cancelled"),
}


def coupon_reason(reason: str | None) -> str | None:
    """The English wording of a coupon refusal slug."""
    return COUPON_REASONS.get(reason or "") if reason else None


def rule_label(rule: str | None) -> str | None:
    """The English label of a rule name (``tier:gold`` → "Tier bonus ({name})")."""
    if rule is None:
        return None
    if rule in RULES:
        return RULES[rule]
    head = rule.split(":", 1)[0]
    return RULES.get(head)


# What each loyalty event says to the customer, for the messaging that sends it;
# the fields come from the event's payload (``points.expiring`` has ``points``,
# ``expires_on`` and ``days_ahead``...).
EVENT_MESSAGES: dict[str, str] = {
    "points.earned": N_("You earned {points} points."),
    "points.expiring": N_("{points} of your points expire on {expires_on}."),
    "tier.changed": N_("Your tier is now {to}."),
    "reward.redeemed": N_("Your reward {reward_name} is ready. Show code {coupon_code}."),
    "coupon.issued": N_("Your coupon {name}: code {code}."),
    "referral.rewarded": N_("Thanks to a referral you received {points} points."),
    "badge.earned": N_("New badge: {name}."),
    "birthday.reward_granted": N_("Happy birthday! {points} points are waiting for you."),
    "loyalty.surprise_granted": N_("A little surprise is waiting for you."),
}

# Why a reward cannot be redeemed (``reward-unavailable`` problems carry the slug).
REWARD_REASONS: dict[str, str] = {
    "inactive": N_("This reward is not offered at the moment."),
    "not_yet_valid": N_("This reward is not available yet."),
    "expired": N_("This reward is no longer available."),
    "out_of_stock": N_("This reward is out of stock."),
    "tier": N_("This reward is for a higher tier."),
    "not_in_catalogue": N_("The program gives this reward; it is not redeemed with points."),
    "limit": N_("This customer has had this reward as often as allowed for now."),
}

# The program's default badges (the owner can rename them).
DEFAULT_BADGES: dict[str, str] = {
    "regular": N_("10 visits"),
    "explorer": N_("5 categories tried"),
    "one-year": N_("1 year a member"),
}


def event_message(topic: str) -> str | None:
    """The English message for a loyalty event (to translate, then fill from the payload)."""
    return EVENT_MESSAGES.get(topic)


# Why an input is refused: each rule's words, raised by the schemas at the field to fix
# (the API's problem names the field; the dashboard shows the words next to it).
NEEDS_AMOUNT = N_("A money-off reward needs the amount it takes off.")
NEEDS_PERCENT = N_("A percentage reward needs the percentage.")
NEEDS_PARTNER = N_("A partner offer needs the partner's name.")
DATE_ORDER = N_("The last day must come after the first day.")
NEEDS_PRODUCTS = N_("Name the products (SKUs) or the categories that earn stamps.")
TIER_ORDER = N_("Each tier needs a higher threshold than the tier before it.")
TIER_UNIQUE = N_("Two tiers have the same short id.")
FREE_NEEDS_LIMIT = N_(
    "A free reward in the catalogue needs a limit per customer, or it can be taken without end."
)
ONE_END = N_("Give the last day or the end instant, not both.")
