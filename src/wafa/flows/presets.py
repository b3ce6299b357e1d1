"""Ready flows a shop owner switches on: each with its steps and its templates in
English, Arabic and Persian (saved as messaging templates ``flow.<flow>.<step>``, which
the owner edits like any other template).

``ensure_presets`` adds the presets a database does not have yet (never changing one
the owner edited). Every preset starts switched off except the order confirmation,
which a new store sends from the first order (the issue's contract), the surprise
message, which says nothing until the owner sets a surprise rule, and the members-only
event messages, which say nothing until the owner invites a segment to an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wafa.flows.models import Flow
from wafa.flows.service import create_flow
from wafa.messaging.models import Channel, Kind, MessageTemplate, Topic
from wafa.messaging.queue import Content
from wafa.messaging.templates import save_template

__all__ = ["PRESETS", "Preset", "ensure_presets"]

Texts = dict[str, tuple[str, str]]  # locale -> (subject, text)


@dataclass(frozen=True)
class Preset:
    key: str
    name: str
    description: str
    kind: str
    definition: dict[str, Any]
    templates: dict[str, Texts]  # step key -> texts
    enabled: bool = False
    holdout_percent: int = 0
    conversion_days: int = 14


def _send(key: str, flow: str, *, fallback: str | None = "sms", **extra: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"key": key, "type": "send", "template": f"flow.{flow}.{key}"}
    if fallback:
        step["fallback"] = fallback
    step.update(extra)
    return step


ORDER_LINES_EN = (
    "{% for line in order.lines %}- {{ line.quantity }} x {{ line.name }}: {{ line.total }}\n"
    "{% endfor %}"
)
ORDER_LINES = (
    "{% for line in order.lines %}- {{ line.quantity|digits(locale) }} × {{ line.name }}: "
    "{{ line.total|digits(locale) }}\n{% endfor %}"
)

# The next visit's coupon, when the order earned one (bounce-back offers).
BOUNCE_BACK_EN = (
    "{% if order.bounce_back %}\nFor your next visit: {{ order.bounce_back.name }}"
    "{% if order.bounce_back.value %} ({{ order.bounce_back.value }} off){% endif %}, code "
    "{{ order.bounce_back.code }}, valid from {{ order.bounce_back.valid_from }} to "
    "{{ order.bounce_back.valid_until }}.\n{% endif %}"
)
BOUNCE_BACK_AR = (
    "{% if order.bounce_back %}\nلزيارتك القادمة: {{ order.bounce_back.name }}"
    "{% if order.bounce_back.value %} (خصم {{ order.bounce_back.value|digits(locale) }})"
    "{% endif %}، الرمز {{ order.bounce_back.code }}، صالح من "
    "{{ order.bounce_back.valid_from|digits(locale) }} إلى "
    "{{ order.bounce_back.valid_until|digits(locale) }}.\n{% endif %}"
)
BOUNCE_BACK_FA = (
    "{% if order.bounce_back %}\nبرای خرید بعدی شما: {{ order.bounce_back.name }}"
    "{% if order.bounce_back.value %} ({{ order.bounce_back.value|digits(locale) }} تخفیف)"
    "{% endif %}، کد {{ order.bounce_back.code }}، معتبر از "
    "{{ order.bounce_back.valid_from|digits(locale) }} تا "
    "{{ order.bounce_back.valid_until|digits(locale) }}.\n{% endif %}"
)

#: A surprise's message reads ``gift`` and ``coupon_code`` from its event; empty in a preview.
SURPRISE_DEFAULTS = (
    "{% set gift = gift|default('') %}{% set coupon_code = coupon_code|default('') %}"
)

PRESETS: tuple[Preset, ...] = (
    Preset(
        key="order_confirmation",
        name="Order confirmation",
        description="At once when an order is placed: its lines and total.",
        kind="transactional",
        enabled=True,
        definition={
            "trigger": {"type": "event", "topic": "order.placed"},
            "steps": [_send("confirm", "order_confirmation")],
        },
        templates={
            "confirm": {
                "en": (
                    "Your order {{ order.number }}",
                    "Hello {{ customer.first_name }},\n\nThank you for your order "
                    "{{ order.number }} ({{ order.external_id }}).\n\n"
                    + ORDER_LINES_EN
                    + "\nTotal: {{ order.total }}\n{% if order.points_earned %}Points earned: "
                    "{{ order.points_earned }} (balance: {{ points.available }} available, "
                    "{{ points.pending }} pending)\n{% endif %}"
                    + BOUNCE_BACK_EN
                    + "\n{{ business.name }}",
                ),
                "ar": (
                    "طلبك {{ order.number }}",
                    "مرحباً {{ customer.first_name }}،\n\nشكراً لطلبك {{ order.number }} "
                    "({{ order.external_id }}).\n\n"
                    + ORDER_LINES
                    + "\nالمجموع: {{ order.total|digits(locale) }}\n{% if order.points_earned %}"
                    "النقاط المكتسبة: {{ order.points_earned|digits(locale) }}\n{% endif %}"
                    + BOUNCE_BACK_AR
                    + "\n{{ business.name }}",
                ),
                "fa": (
                    "سفارش شما {{ order.number }}",
                    "سلام {{ customer.first_name }}،\n\nاز سفارش {{ order.number }} "
                    "({{ order.external_id }}) سپاسگزاریم.\n\n"
                    + ORDER_LINES
                    + "\nجمع کل: {{ order.total|digits(locale) }}\n{% if order.points_earned %}"
                    "امتیاز کسب‌شده: {{ order.points_earned|digits(locale) }}\n{% endif %}"
                    + BOUNCE_BACK_FA
                    + "\n{{ business.name }}",
                ),
            }
        },
    ),
    Preset(
        key="shipping_update",
        name="Shipping and delivery updates",
        description=(
            "When an order is sent out (fulfilled) and when it is delivered: one message "
            "for each move of its status."
        ),
        kind="transactional",
        definition={
            "trigger": {
                "type": "event",
                "topic": "order.status_changed",
                "to": ["fulfilled", "delivered"],
            },
            "steps": [_send("update", "shipping_update")],
        },
        templates={
            "update": {
                "en": (
                    "{% if to_status == 'delivered' %}Your order {{ order.number }} has "
                    "arrived{% else %}Your order {{ order.number }} is on its way{% endif %}",
                    "Hello {{ customer.first_name }},\n\n{% if to_status == 'delivered' %}"
                    "Your order {{ order.number }} ({{ order.external_id }}) has been "
                    "delivered. We hope you enjoy it.{% else %}Your order {{ order.number }} "
                    "({{ order.external_id }}) has left us and is on its way."
                    "{% if order.promised_on %} It should reach you by {{ order.promised_on }}."
                    "{% endif %}{% endif %}\n\n{{ business.name }}",
                ),
                "ar": (
                    "{% if to_status == 'delivered' %}وصل طلبك {{ order.number }}"
                    "{% else %}طلبك {{ order.number }} في الطريق إليك{% endif %}",
                    "مرحباً {{ customer.first_name }}،\n\n{% if to_status == 'delivered' %}"
                    "تم تسليم طلبك {{ order.number }} ({{ order.external_id }}). نتمنى أن "
                    "ينال إعجابك.{% else %}خرج طلبك {{ order.number }} "
                    "({{ order.external_id }}) من عندنا وهو في الطريق إليك."
                    "{% if order.promised_on %} يُتوقع وصوله بحلول "
                    "{{ order.promised_on|digits(locale) }}.{% endif %}{% endif %}"
                    "\n\n{{ business.name }}",
                ),
                "fa": (
                    "{% if to_status == 'delivered' %}سفارش {{ order.number }} به دستتان رسید"
                    "{% else %}سفارش {{ order.number }} در راه است{% endif %}",
                    "سلام {{ customer.first_name }}،\n\n{% if to_status == 'delivered' %}"
                    "سفارش {{ order.number }} ({{ order.external_id }}) تحویل داده شد. "
                    "امیدواریم از آن لذت ببرید.{% else %}سفارش {{ order.number }} "
                    "({{ order.external_id }}) ارسال شد و در راه است."
                    "{% if order.promised_on %} تا {{ order.promised_on|digits(locale) }} "
                    "به دستتان می‌رسد.{% endif %}{% endif %}\n\n{{ business.name }}",
                ),
            }
        },
    ),
    Preset(
        key="delay_notice",
        name="Delay notice",
        description=(
            "When an order's promised time passes and it is not delivered: tell the "
            "customer before they ask, with an apology coupon."
        ),
        kind="transactional",
        definition={
            "trigger": {"type": "event", "topic": "order.placed"},
            "steps": [
                {"key": "promise", "type": "wait", "until": "order_promised", "days": 3},
                {
                    "key": "delivered",
                    "type": "branch",
                    "condition": "order_delivered",
                    "then": "exit",
                },
                {
                    "key": "sorry",
                    "type": "coupon",
                    "name": "Sorry for the wait",
                    "percent": 10,
                    "valid_days": 30,
                },
                _send("notice", "delay_notice"),
            ],
        },
        templates={
            "notice": {
                "en": (
                    "Your order {{ order.number }} is running late",
                    "Hello {{ customer.first_name }},\n\nYour order {{ order.number }} has "
                    "not reached you when we promised. We are on it and will let you know "
                    "when it is on its way. As an apology, {{ coupon.code }} takes {{ coupon.value }} off "
                    "your next order.\n\n{{ business.name }}",
                ),
                "ar": (
                    "تأخر طلبك {{ order.number }}",
                    "مرحباً {{ customer.first_name }}،\n\nلم يصلك طلبك {{ order.number }} في "
                    "الموعد الذي وعدنا به. نحن نتابعه وسنخبرك عند شحنه. اعتذاراً منا، "
                    "الرمز {{ coupon.code }} يمنحك خصم {{ coupon.value|digits(locale) }} على طلبك القادم.\n\n"
                    "{{ business.name }}",
                ),
                "fa": (
                    "سفارش {{ order.number }} با تأخیر همراه است",
                    "سلام {{ customer.first_name }}،\n\nسفارش {{ order.number }} در زمانی که "
                    "قول داده بودیم به دستتان نرسیده است. پیگیر آن هستیم و خبرتان می‌کنیم. "
                    "برای عذرخواهی، کد {{ coupon.code }} {{ coupon.value|digits(locale) }} از خرید بعدی شما کم می‌کند.\n\n"
                    "{{ business.name }}",
                ),
            }
        },
    ),
    Preset(
        key="thank_you",
        name="Thank-you and next-day check-in",
        description="After delivery: thank the customer, and a day later ask if all is well.",
        kind="marketing",
        holdout_percent=10,
        definition={
            "trigger": {"type": "event", "topic": "order.status_changed", "to": "delivered"},
            "steps": [
                _send("thanks", "thank_you"),
                {"key": "day", "type": "wait", "days": 1, "at": "10:00"},
                _send("check", "thank_you"),
            ],
            "cooldown_days": 7,
        },
        templates={
            "thanks": {
                "en": (
                    "Thank you, {{ customer.first_name }}",
                    "Your order {{ order.number }} has arrived. Thank you for choosing "
                    "{{ business.name }}.",
                ),
                "ar": (
                    "شكراً لك يا {{ customer.first_name }}",
                    "وصل طلبك {{ order.number }}. شكراً لاختيارك {{ business.name }}.",
                ),
                "fa": (
                    "سپاس، {{ customer.first_name }}",
                    "سفارش {{ order.number }} به دستتان رسید. از اینکه {{ business.name }} را "
                    "انتخاب کردید سپاسگزاریم.",
                ),
            },
            "check": {
                "en": (
                    "Is everything all right?",
                    "Hello {{ customer.first_name }}, is everything well with your order "
                    "{{ order.number }}? Just reply to this message if anything is not.",
                ),
                "ar": (
                    "هل كل شيء على ما يرام؟",
                    "مرحباً {{ customer.first_name }}، هل كل شيء على ما يرام مع طلبك "
                    "{{ order.number }}؟ ردّ على هذه الرسالة إن كان هناك ما يزعجك.",
                ),
                "fa": (
                    "همه‌چیز خوب است؟",
                    "سلام {{ customer.first_name }}، همه‌چیز درباره سفارش {{ order.number }} "
                    "خوب است؟ اگر نه، به همین پیام پاسخ دهید.",
                ),
            },
        },
    ),
    Preset(
        key="post_purchase",
        name="Post-purchase follow-up",
        description=(
            "A few days after delivery: how was it, with a link to a short survey and "
            "products that go with what they bought."
        ),
        kind="marketing",
        holdout_percent=10,
        definition={
            "trigger": {"type": "event", "topic": "order.status_changed", "to": "delivered"},
            "steps": [
                {"key": "days", "type": "wait", "days": 4, "at": "11:00"},
                _send("follow", "post_purchase", survey="delivery", recommend=3),
            ],
            "exit": {"on_order": False},
            "cooldown_days": 14,
        },
        templates={
            "follow": {
                "en": (
                    "How was your order?",
                    "Hello {{ customer.first_name }}, how are you finding what you bought "
                    "(order {{ order.number }})?{% if survey_url %} Tell us in a minute: "
                    "{{ survey_url }}{% endif %}"
                    "{% if recommendations %}\n\nYou may also like:\n{% for p in recommendations %}"
                    "- {{ p.name }} ({{ p.price }})\n{% endfor %}{% endif %}",
                ),
                "ar": (
                    "كيف كان طلبك؟",
                    "مرحباً {{ customer.first_name }}، ما رأيك فيما اشتريت (الطلب "
                    "{{ order.number }})؟{% if survey_url %} أخبرنا في دقيقة: "
                    "{{ survey_url }}{% endif %}"
                    "{% if recommendations %}\n\nقد يعجبك أيضاً:\n{% for p in recommendations %}"
                    "- {{ p.name }} ({{ p.price }})\n{% endfor %}{% endif %}",
                ),
                "fa": (
                    "خریدتان چطور بود؟",
                    "سلام {{ customer.first_name }}، از خرید خود (سفارش {{ order.number }}) "
                    "راضی هستید؟{% if survey_url %} در یک دقیقه به ما بگویید: "
                    "{{ survey_url }}{% endif %}"
                    "{% if recommendations %}\n\nشاید این‌ها را هم بپسندید:\n{% for p in recommendations %}"
                    "- {{ p.name }} ({{ p.price }})\n{% endfor %}{% endif %}",
                ),
            }
        },
    ),
    Preset(
        key="welcome",
        name="Welcome",
        description=(
            "A new customer: how the programme works, their referral link and their portal link."
        ),
        kind="marketing",
        holdout_percent=10,
        definition={
            "trigger": {"type": "event", "topic": "customer.created"},
            "steps": [_send("hello", "welcome", referral=True)],
        },
        templates={
            "hello": {
                "en": (
                    "Welcome to {{ business.name }}",
                    "Hello {{ customer.first_name }}, welcome! Every purchase earns points "
                    "you can spend on rewards. Your page: {{ portal_url }}"
                    "{% if referral_link %}\n\nBring a friend: when they first order with your "
                    "link, you both earn points. {{ referral_link }}{% endif %}",
                ),
                "ar": (
                    "أهلاً بك في {{ business.name }}",
                    "مرحباً {{ customer.first_name }}، أهلاً بك! كل شراء يمنحك نقاطاً "
                    "تستبدلها بمكافآت. صفحتك: {{ portal_url }}"
                    "{% if referral_link %}\n\nادعُ صديقاً: عندما يطلب أول مرة عبر رابطك "
                    "تكسبان كلاكما نقاطاً. {{ referral_link }}{% endif %}",
                ),
                "fa": (
                    "به {{ business.name }} خوش آمدید",
                    "سلام {{ customer.first_name }}، خوش آمدید! هر خرید برایتان امتیاز "
                    "می‌آورد که می‌توانید با جایزه عوض کنید. صفحه شما: {{ portal_url }}"
                    "{% if referral_link %}\n\nدوستی را دعوت کنید: وقتی با پیوند شما نخستین "
                    "خریدش را انجام دهد، هر دو امتیاز می‌گیرید. {{ referral_link }}{% endif %}",
                ),
            }
        },
    ),
    Preset(
        key="birthday",
        name="Birthday gift",
        description=(
            "On the customer's birthday in their own calendar (a Jalali birthday on its "
            "Jalali day), at 10:00 their time (else the business's): wishes and a gift coupon."
        ),
        kind="marketing",
        holdout_percent=10,
        definition={
            "trigger": {"type": "date", "rule": "birthday"},
            "steps": [
                {"key": "morning", "type": "wait", "minutes": 1, "at": "10:00"},
                {
                    "key": "gift",
                    "type": "coupon",
                    "name": "Birthday gift",
                    "percent": 15,
                    "valid_days": 14,
                },
                _send("wish", "birthday"),
            ],
            "cooldown_days": 300,
        },
        templates={
            "wish": {
                "en": (
                    "Happy birthday, {{ customer.first_name }}!",
                    "Happy birthday from all of us at {{ business.name }}. Your gift: "
                    "{{ coupon.code }} for {{ coupon.value }} off, until {{ coupon.expires_on }}.",
                ),
                "ar": (
                    "عيد ميلاد سعيد يا {{ customer.first_name }}!",
                    "كل عام وأنت بخير من فريق {{ business.name }}. هديتك: الرمز "
                    "{{ coupon.code }} بخصم {{ coupon.value|digits(locale) }} حتى {{ coupon.expires_on|digits(locale) }}.",
                ),
                "fa": (
                    "تولدتان مبارک، {{ customer.first_name }}!",
                    "تولدتان مبارک از طرف همه ما در {{ business.name }}. هدیه شما: کد "
                    "{{ coupon.code }} با {{ coupon.value|digits(locale) }} تخفیف تا {{ coupon.expires_on|digits(locale) }}.",
                ),
            }
        },
    ),
    Preset(
        key="points_expiring",
        name="Points expiring",
        description="When points are about to expire (30 and 7 days ahead): a reminder.",
        kind="marketing",
        holdout_percent=10,
        definition={
            "trigger": {"type": "event", "topic": "points.expiring"},
            "steps": [_send("remind", "points_expiring")],
        },
        templates={
            "remind": {
                "en": (
                    "{{ points }} points expire on {{ expires_on }}",
                    "Hello {{ customer.first_name }}, {{ points }} of your points expire on "
                    "{{ expires_on }}. Spend them before then: {{ portal_url }}",
                ),
                "ar": (
                    "تنتهي {{ points|digits(locale) }} نقطة في {{ expires_on|digits(locale) }}",
                    "مرحباً {{ customer.first_name }}، تنتهي صلاحية "
                    "{{ points|digits(locale) }} من نقاطك في {{ expires_on|digits(locale) }}. "
                    "استخدمها قبل ذلك: {{ portal_url }}",
                ),
                "fa": (
                    "{{ points|digits(locale) }} امتیاز در {{ expires_on|digits(locale) }} "
                    "منقضی می‌شود",
                    "سلام {{ customer.first_name }}، {{ points|digits(locale) }} امتیاز شما در "
                    "{{ expires_on|digits(locale) }} منقضی می‌شود. پیش از آن استفاده کنید: "
                    "{{ portal_url }}",
                ),
            }
        },
    ),
    Preset(
        key="win_back",
        name="Win-back: we miss you",
        description=(
            "Daily: regulars at high churn risk (from the stored predictions) or 90 days "
            "without an order get a personal offer; a second, stronger one two weeks "
            "later if they have not come back. Ends at their next order."
        ),
        kind="marketing",
        holdout_percent=10,
        conversion_days=30,
        definition={
            "trigger": {
                "type": "daily",
                "rules": {
                    "all": [
                        {"field": "orders_count", "op": ">=", "value": 2},
                        {
                            "any": [
                                {"field": "churn_risk", "op": "=", "value": "high"},
                                {"field": "days_since_last_order", "op": ">=", "value": 90},
                            ]
                        },
                    ]
                },
            },
            "steps": [
                {"key": "offer", "type": "coupon", "name": "We miss you", "percent": 10},
                _send("miss", "win_back"),
                {"key": "later", "type": "wait", "days": 14, "at": "11:00"},
                {
                    "key": "back",
                    "type": "branch",
                    "condition": "ordered_since_entry",
                    "then": "exit",
                },
                {"key": "stronger", "type": "coupon", "name": "Come back", "percent": 20},
                _send("again", "win_back"),
            ],
            "exit": {"on_order": True},
            "cooldown_days": 90,
        },
        templates={
            "miss": {
                "en": (
                    "We miss you, {{ customer.first_name }}",
                    "It has been a while. Come back and take {{ coupon.value }} off with {{ coupon.code }} "
                    "(until {{ coupon.expires_on }}).",
                ),
                "ar": (
                    "اشتقنا إليك يا {{ customer.first_name }}",
                    "مضى وقت طويل. عد إلينا واحصل على خصم {{ coupon.value|digits(locale) }} بالرمز {{ coupon.code }} "
                    "(حتى {{ coupon.expires_on|digits(locale) }}).",
                ),
                "fa": (
                    "دلمان برایتان تنگ شده، {{ customer.first_name }}",
                    "مدتی است سری به ما نزده‌اید. با کد {{ coupon.code }} {{ coupon.value|digits(locale) }} تخفیف بگیرید "
                    "(تا {{ coupon.expires_on|digits(locale) }}).",
                ),
            },
            "again": {
                "en": (
                    "A discount just for you",
                    "Hello {{ customer.first_name }}, we would love to see you again: "
                    "{{ coupon.code }} takes {{ coupon.value }} off until {{ coupon.expires_on }}.",
                ),
                "ar": (
                    "خصم لك وحدك",
                    "مرحباً {{ customer.first_name }}، يسعدنا أن نراك مجدداً: الرمز "
                    "{{ coupon.code }} يمنحك خصم {{ coupon.value|digits(locale) }} حتى {{ coupon.expires_on|digits(locale) }}.",
                ),
                "fa": (
                    "تخفیفی فقط برای شما",
                    "سلام {{ customer.first_name }}، خوشحال می‌شویم دوباره ببینیمتان: کد "
                    "{{ coupon.code }} تا {{ coupon.expires_on|digits(locale) }} {{ coupon.value|digits(locale) }} تخفیف "
                    "می‌دهد.",
                ),
            },
        },
    ),
    Preset(
        key="tier_changed",
        name="Tier changed",
        description="When a member moves up or down a tier: what their tier is now.",
        kind="marketing",
        holdout_percent=10,
        definition={
            "trigger": {"type": "event", "topic": "tier.changed"},
            "steps": [_send("tell", "tier_changed")],
        },
        templates={
            "tell": {
                "en": (
                    "Your tier is now {{ to_tier }}",
                    "Hello {{ customer.first_name }}, your tier at {{ business.name }} is now "
                    "{{ to_tier }}. See what it brings: {{ portal_url }}",
                ),
                "ar": (
                    "مستواك الآن {{ to_tier }}",
                    "مرحباً {{ customer.first_name }}، مستواك في {{ business.name }} الآن "
                    "{{ to_tier }}. اطّلع على مزاياه: {{ portal_url }}",
                ),
                "fa": (
                    "سطح شما اکنون {{ to_tier }} است",
                    "سلام {{ customer.first_name }}، سطح شما در {{ business.name }} اکنون "
                    "{{ to_tier }} است. مزایایش را ببینید: {{ portal_url }}",
                ),
            }
        },
    ),
    Preset(
        key="reward_within_reach",
        name="Reward now within reach",
        description=(
            "Checked daily: a member's available points now cover a reward (once per "
            "reward, the costliest they can afford)."
        ),
        kind="marketing",
        holdout_percent=10,
        definition={
            "trigger": {"type": "reach"},
            "steps": [
                {"key": "morning", "type": "wait", "minutes": 1, "at": "11:00"},
                _send("tell", "reward_within_reach"),
            ],
        },
        templates={
            "tell": {
                "en": (
                    "{{ reward.name }} is yours for the taking",
                    "Hello {{ customer.first_name }}, you have {{ available }} points: enough "
                    "for {{ reward.name }}. Redeem it at the counter or here: {{ portal_url }}",
                ),
                "ar": (
                    "{{ reward.name }} في متناولك",
                    "مرحباً {{ customer.first_name }}، لديك {{ available|digits(locale) }} نقطة: "
                    "تكفي لـ {{ reward.name }}. استبدلها عند الصندوق أو هنا: {{ portal_url }}",
                ),
                "fa": (
                    "{{ reward.name }} در دسترس شماست",
                    "سلام {{ customer.first_name }}، {{ available|digits(locale) }} امتیاز دارید: "
                    "برای {{ reward.name }} کافی است. در صندوق یا اینجا بگیرید: {{ portal_url }}",
                ),
            }
        },
    ),
    Preset(
        key="replenishment",
        name="Replenishment reminder",
        description=(
            "Checked daily: a customer who buys a product on a rhythm (three purchase "
            "days or more, every 7 to 120 days) hears three days before their own "
            "interval says they will run out. Ends at their next order."
        ),
        kind="marketing",
        holdout_percent=10,
        conversion_days=14,
        definition={
            "trigger": {"type": "replenish", "min_purchases": 3, "days_before": 3},
            "steps": [
                {"key": "morning", "type": "wait", "minutes": 1, "at": "10:00"},
                _send("remind", "replenishment"),
            ],
            "exit": {"on_order": True},
        },
        templates={
            "remind": {
                "en": (
                    "Running low on {{ product.name }}?",
                    "Hello {{ customer.first_name }}, you usually buy {{ product.name }} "
                    "every {{ interval_days }} days, so you may run out around "
                    "{{ expected_on }}. Order again before then: {{ portal_url }}\n\n"
                    "{{ business.name }}",
                ),
                "ar": (
                    "هل أوشك {{ product.name }} على النفاد؟",
                    "مرحباً {{ customer.first_name }}، عادةً ما تشتري {{ product.name }} كل "
                    "{{ interval_days|digits(locale) }} يوماً، لذا قد ينفد لديك نحو "
                    "{{ expected_on|digits(locale) }}. اطلبه مجدداً قبل ذلك: {{ portal_url }}"
                    "\n\n{{ business.name }}",
                ),
                "fa": (
                    "{{ product.name }} رو به اتمام است؟",
                    "سلام {{ customer.first_name }}، شما معمولاً هر "
                    "{{ interval_days|digits(locale) }} روز {{ product.name }} می‌خرید، پس "
                    "احتمالاً حدود {{ expected_on|digits(locale) }} تمام می‌شود. پیش از آن "
                    "دوباره سفارش دهید: {{ portal_url }}\n\n{{ business.name }}",
                ),
            }
        },
    ),
    # Members-only events (wafa.gatherings): the owner invites a segment to an event; each
    # message carries the event's name, time and place in the reader's language and the
    # signed yes/no links. On from the start: nothing is sent until an event invites.
    Preset(
        key="event_invitation",
        name="Members-only event invitation",
        description=(
            "When a members-only event invites its segment (Events): the invitation, with "
            "yes and no links. Not held out: the invitation is the event."
        ),
        kind="marketing",
        enabled=True,
        definition={
            "trigger": {"type": "event", "topic": "gathering.invited"},
            "steps": [_send("invite", "event_invitation")],
        },
        templates={
            "invite": {
                "en": (
                    "You are invited: {{ gathering.name_en }}",
                    "Hello {{ customer.first_name }},\n\nYou are invited to "
                    "{{ gathering.name_en }}, for members only.\n\nWhen: {{ gathering.when_en }}"
                    "\nWhere: {{ gathering.place }}\n{% if gathering.points %}Points for "
                    "coming: {{ gathering.points }}\n{% endif %}\nI will come: "
                    "{{ gathering.yes_url }}\nI cannot come: {{ gathering.no_url }}\n\n"
                    "Seats are limited; when they are taken you join the waiting list.\n\n"
                    "{{ business.name }}",
                ),
                "ar": (
                    "دعوة خاصة: {{ gathering.name_ar }}",
                    "مرحباً {{ customer.first_name }}،\n\nندعوك إلى {{ gathering.name_ar }}، "
                    "وهي خاصة بالأعضاء.\n\nالموعد: {{ gathering.when_ar|digits(locale) }}\n"
                    "المكان: {{ gathering.place }}\n{% if gathering.points %}نقاط الحضور: "
                    "{{ gathering.points|digits(locale) }}\n{% endif %}\nسأحضر: "
                    "{{ gathering.yes_url }}\nلن أتمكن من الحضور: {{ gathering.no_url }}\n\n"
                    "المقاعد محدودة؛ إذا امتلأت تنضم إلى قائمة الانتظار.\n\n{{ business.name }}",
                ),
                "fa": (
                    "دعوت‌نامه: {{ gathering.name_fa }}",
                    "سلام {{ customer.first_name }}،\n\nشما به {{ gathering.name_fa }} دعوت "
                    "شده‌اید؛ ویژه اعضا.\n\nزمان: {{ gathering.when_fa|digits(locale) }}\n"
                    "مکان: {{ gathering.place }}\n{% if gathering.points %}امتیاز حضور: "
                    "{{ gathering.points|digits(locale) }}\n{% endif %}\nمی‌آیم: "
                    "{{ gathering.yes_url }}\nنمی‌توانم بیایم: {{ gathering.no_url }}\n\n"
                    "ظرفیت محدود است؛ اگر پر شود در فهرست انتظار قرار می‌گیرید.\n\n"
                    "{{ business.name }}",
                ),
            }
        },
    ),
    Preset(
        key="event_seat_given",
        name="Members-only event: a seat for you",
        description=(
            "When someone gives up a seat at a full event: the first on the waiting list "
            "has it now, and hears so at once."
        ),
        kind="transactional",
        enabled=True,
        definition={
            "trigger": {"type": "event", "topic": "gathering.seat_given"},
            "steps": [_send("tell", "event_seat_given")],
        },
        templates={
            "tell": {
                "en": (
                    "A seat for you: {{ gathering.name_en }}",
                    "Hello {{ customer.first_name }},\n\nA seat has freed up at "
                    "{{ gathering.name_en }} and it is yours.\n\nWhen: {{ gathering.when_en }}"
                    "\nWhere: {{ gathering.place }}\n\nIf you can no longer come, please "
                    "let us know so the next person can: {{ gathering.no_url }}\n\n"
                    "{{ business.name }}",
                ),
                "ar": (
                    "مقعد لك: {{ gathering.name_ar }}",
                    "مرحباً {{ customer.first_name }}،\n\nتحرر مقعد في {{ gathering.name_ar }} "
                    "وهو لك الآن.\n\nالموعد: {{ gathering.when_ar|digits(locale) }}\n"
                    "المكان: {{ gathering.place }}\n\nإن لم تعد تستطيع الحضور فأخبرنا ليأخذه "
                    "غيرك: {{ gathering.no_url }}\n\n{{ business.name }}",
                ),
                "fa": (
                    "جایی برای شما: {{ gathering.name_fa }}",
                    "سلام {{ customer.first_name }}،\n\nیک جا در {{ gathering.name_fa }} خالی "
                    "شد و اکنون از آن شماست.\n\nزمان: {{ gathering.when_fa|digits(locale) }}\n"
                    "مکان: {{ gathering.place }}\n\nاگر نمی‌توانید بیایید خبر دهید تا نفر "
                    "بعدی بیاید: {{ gathering.no_url }}\n\n{{ business.name }}",
                ),
            }
        },
    ),
    Preset(
        key="event_reminder",
        name="Members-only event reminder",
        description=(
            "At 10:00 the day before an event (your calendar and timezone): a reminder to "
            "those with a seat. Missed (the worker was down), it goes as soon as it can, "
            "never once the event has started."
        ),
        kind="transactional",
        enabled=True,
        definition={
            "trigger": {"type": "event", "topic": "gathering.reminder"},
            "steps": [_send("remind", "event_reminder")],
        },
        templates={
            "remind": {
                "en": (
                    "{% if gathering.today %}Today{% else %}Tomorrow{% endif %}: "
                    "{{ gathering.name_en }}",
                    "Hello {{ customer.first_name }},\n\nSee you "
                    "{% if gathering.today %}today{% else %}tomorrow{% endif %} at "
                    "{{ gathering.name_en }}.\n\nWhen: {{ gathering.when_en }}\nWhere: "
                    "{{ gathering.place }}\n\nCannot come after all? Tell us, and your seat "
                    "goes to the waiting list: {{ gathering.no_url }}\n\n{{ business.name }}",
                ),
                "ar": (
                    "{% if gathering.today %}اليوم{% else %}غداً{% endif %}: "
                    "{{ gathering.name_ar }}",
                    "مرحباً {{ customer.first_name }}،\n\nنراك "
                    "{% if gathering.today %}اليوم{% else %}غداً{% endif %} في "
                    "{{ gathering.name_ar }}.\n\nالموعد: {{ gathering.when_ar|digits(locale) }}\n"
                    "المكان: {{ gathering.place }}\n\nلن تستطيع الحضور؟ أخبرنا ليذهب مقعدك إلى "
                    "قائمة الانتظار: {{ gathering.no_url }}\n\n{{ business.name }}",
                ),
                "fa": (
                    "{% if gathering.today %}امروز{% else %}فردا{% endif %}: "
                    "{{ gathering.name_fa }}",
                    "سلام {{ customer.first_name }}،\n\n"
                    "{% if gathering.today %}امروز{% else %}فردا{% endif %} در "
                    "{{ gathering.name_fa }} می‌بینیمتان.\n\nزمان: "
                    "{{ gathering.when_fa|digits(locale) }}\nمکان: {{ gathering.place }}\n\n"
                    "نمی‌توانید بیایید؟ خبر دهید تا جایتان به فهرست انتظار برسد: "
                    "{{ gathering.no_url }}\n\n{{ business.name }}",
                ),
            }
        },
    ),
    Preset(
        key="event_cancelled",
        name="Members-only event cancelled",
        description="When an event is cancelled: those with a seat or on the waiting list are told.",
        kind="transactional",
        enabled=True,
        definition={
            "trigger": {"type": "event", "topic": "gathering.cancelled"},
            "steps": [_send("tell", "event_cancelled")],
        },
        templates={
            "tell": {
                "en": (
                    "Cancelled: {{ gathering.name_en }}",
                    "Hello {{ customer.first_name }},\n\nWe are sorry: {{ gathering.name_en }} "
                    "({{ gathering.when_en }}) will not take place.\n\n{{ business.name }}",
                ),
                "ar": (
                    "أُلغيت: {{ gathering.name_ar }}",
                    "مرحباً {{ customer.first_name }}،\n\nنأسف: لن تُقام {{ gathering.name_ar }} "
                    "({{ gathering.when_ar|digits(locale) }}).\n\n{{ business.name }}",
                ),
                "fa": (
                    "لغو شد: {{ gathering.name_fa }}",
                    "سلام {{ customer.first_name }}،\n\nمتأسفیم: {{ gathering.name_fa }} "
                    "({{ gathering.when_fa|digits(locale) }}) برگزار نمی‌شود.\n\n"
                    "{{ business.name }}",
                ),
            }
        },
    ),
    Preset(
        key="surprise",
        name="Surprise reward",
        description=(
            "When a surprise rule gives a customer something (Loyalty > Surprises): "
            "tell them, with the coupon code of a gift. On from the start; a surprise "
            "is not held out."
        ),
        kind="marketing",
        enabled=True,
        definition={
            "trigger": {"type": "event", "topic": "loyalty.surprise_granted"},
            "steps": [_send("tell", "surprise")],
        },
        templates={
            "tell": {
                "en": (
                    "A little surprise for you, {{ customer.first_name }}",
                    SURPRISE_DEFAULTS + "Hello {{ customer.first_name }}, thank you for choosing "
                    "{{ business.name }}. {% if gift %}A gift for you: {{ gift }}. Show the "
                    "code {{ coupon_code }} on your next visit.{% else %}We have added "
                    "{{ points }} points to your balance.{% endif %}",
                ),
                "ar": (
                    "مفاجأة صغيرة لك يا {{ customer.first_name }}",
                    SURPRISE_DEFAULTS
                    + "مرحباً {{ customer.first_name }}، شكراً لاختيارك {{ business.name }}. "
                    "{% if gift %}هدية لك: {{ gift }}. أظهر الرمز {{ coupon_code }} في زيارتك "
                    "القادمة.{% else %}أضفنا {{ points|digits(locale) }} نقطة إلى رصيدك."
                    "{% endif %}",
                ),
                "fa": (
                    "یک غافلگیری کوچک برای شما، {{ customer.first_name }}",
                    SURPRISE_DEFAULTS
                    + "سلام {{ customer.first_name }}، از اینکه {{ business.name }} را انتخاب "
                    "کردید سپاسگزاریم. {% if gift %}هدیه شما: {{ gift }}. کد {{ coupon_code }} "
                    "را در مراجعه بعدی نشان دهید.{% else %}{{ points|digits(locale) }} امتیاز "
                    "به موجودی شما اضافه کردیم.{% endif %}",
                ),
            }
        },
    ),
)

#: What a flow's message may read besides messaging's standard variables: each is set
#: to an empty value when absent, so a template previews (and a preview of a customer
#: who has no order or coupon yet reads) without an error.
FLOW_VARIABLES = (
    "order",
    "coupon",
    "points",
    "expires_on",
    "reward",
    "available",
    "to_tier",
    "product",
    "expected_on",
    "interval_days",
    "to_status",
    "gathering",
)


def _defaults(source: str) -> str:
    used = [v for v in FLOW_VARIABLES if v in source]
    return "".join(f"{{% set {v} = {v}|default({{}}) %}}" for v in used) + source


def _content(texts: Texts) -> Content:
    return Content(
        subject={loc: _defaults(subject) for loc, (subject, _) in texts.items()},
        text={loc: _defaults(text) for loc, (_, text) in texts.items()},
    )


def ensure_presets(session: Session) -> int:
    """Add the presets (and their templates) this database lacks; how many were added.
    A preset the owner changed or switched is left as it is."""
    have = set(session.scalars(select(Flow.key)))
    templates = set(session.scalars(select(MessageTemplate.key)))
    added = 0
    for preset in PRESETS:
        if preset.key in have:
            continue
        for step, texts in preset.templates.items():
            template_key = f"flow.{preset.key}.{step}"
            if template_key in templates:
                continue
            save_template(
                session,
                key=template_key,
                name=f"{preset.name}: {step}",
                channel=Channel.email,
                kind=Kind(preset.kind),
                topic=Topic.offers if preset.kind == "marketing" else None,
                content=_content(texts),
                by="preset",
            )
        create_flow(
            session,
            key=preset.key,
            name=preset.name,
            description=preset.description,
            kind=preset.kind,
            enabled=preset.enabled,
            holdout_percent=preset.holdout_percent,
            conversion_days=preset.conversion_days,
            definition=preset.definition,
            preset=True,
            by="preset",
        )
        added += 1
    if added:
        session.flush()
    return added
