"""Every loyalty text the customer or staff may read exists in Arabic and Persian."""

from __future__ import annotations

import re

import pytest

from wafa.loyalty import texts
from wafa.web.i18n import load_translations

ALL = sorted(
    {
        *texts.COUPON_REASONS.values(),
        *texts.ENTRY_REASONS.values(),
        *texts.RULES.values(),
        *texts.TIER_REASONS.values(),
        *texts.REFERRAL_FLAGS.values(),
        *texts.EVENT_MESSAGES.values(),
        *texts.REWARD_REASONS.values(),
        *texts.DEFAULT_BADGES.values(),
    }
)
FIELD = re.compile(r"\{\w+\}")


@pytest.mark.parametrize("language", ["ar", "fa"])
def test_every_text_is_translated_with_its_fields(language: str) -> None:
    catalogue = load_translations(language)
    missing = [m for m in ALL if m not in catalogue]
    assert missing == []
    for msgid in ALL:
        translated = catalogue.gettext(msgid)
        assert translated != msgid
        assert sorted(FIELD.findall(translated)) == sorted(FIELD.findall(msgid)), msgid


def test_every_event_has_a_message() -> None:
    from wafa.loyalty import events

    assert set(texts.EVENT_MESSAGES) == {e.topic for e in events.EVENTS}
