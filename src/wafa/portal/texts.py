"""What the portal writes to customers in messages: the sign-in link and the SMS code.

Messages are queued with their content in each language (``messaging.queue.Content``), so
the worker sends each customer their own; ``{{ link }}`` and ``{{ code }}`` come from the
message's context. The portal's pages are translated by ``locale/<lang>/portal.po``.
"""

from __future__ import annotations

from typing import Any

LINK_MESSAGE: dict[str, Any] = {
    "subject": {
        "en": "Your link to {{ business.name }}",
        "ar": "رابط الدخول إلى {{ business.name }}",
        "fa": "پیوند ورود به {{ business.name }}",
    },
    "text": {
        "en": (
            "Hello {{ customer.first_name }},\n\nOpen your points, rewards and preferences "
            "at {{ business.name }} with this link (valid for one hour, once):\n\n{{ link }}\n\n"
            "If you did not ask for it, ignore this message."
        ),
        "ar": (
            "مرحبًا {{ customer.first_name }}،\n\nافتح نقاطك ومكافآتك وتفضيلاتك لدى "
            "{{ business.name }} بهذا الرابط (صالح لساعة واحدة ولمرة واحدة):\n\n{{ link }}\n\n"
            "إذا لم تطلبه فتجاهل هذه الرسالة."
        ),
        "fa": (
            "سلام {{ customer.first_name }}،\n\nامتیازها، جایزه‌ها و تنظیمات خود در "
            "{{ business.name }} را با این پیوند باز کنید (یک ساعت و یک بار معتبر است):\n\n"
            "{{ link }}\n\nاگر آن را نخواسته‌اید، این پیام را نادیده بگیرید."
        ),
    },
}

_CODE_TEXT = {
    "en": "{{ code }} is your {{ business.name }} code. It works once, for 10 minutes.",
    "ar": "{{ code }} هو رمز {{ business.name }} الخاص بك. يعمل مرة واحدة لمدة ١٠ دقائق.",
    "fa": "{{ code }} کد ورود شما به {{ business.name }} است. یک بار و تا ۱۰ دقیقه معتبر است.",
}


def code_message() -> dict[str, Any]:
    """The SMS that carries a one-time code."""
    return {"text": dict(_CODE_TEXT)}


ERASE_MESSAGE: dict[str, Any] = {
    "subject": {
        "en": "Confirm: erase your data at {{ business.name }}",
        "ar": "تأكيد: حذف بياناتك لدى {{ business.name }}",
        "fa": "تأیید: پاک کردن اطلاعات شما در {{ business.name }}",
    },
    "text": {
        "en": (
            "You asked {{ business.name }} to erase your data, points included. To confirm, "
            "open this link within 24 hours:\n\n{{ link }}\n\nIf you did not ask, ignore this "
            "message: nothing changes."
        ),
        "ar": (
            "طلبت من {{ business.name }} حذف بياناتك بما فيها النقاط. للتأكيد افتح هذا الرابط "
            "خلال ٢٤ ساعة:\n\n{{ link }}\n\nإذا لم تطلب ذلك فتجاهل هذه الرسالة: لن يتغير شيء."
        ),
        "fa": (
            "از {{ business.name }} خواسته‌اید اطلاعات شما، از جمله امتیازها، پاک شود. برای تأیید "
            "این پیوند را تا ۲۴ ساعت باز کنید:\n\n{{ link }}\n\nاگر نخواسته‌اید، این پیام را "
            "نادیده بگیرید؛ چیزی تغییر نمی‌کند."
        ),
    },
}
