"""Text as people type it: Persian and Arabic-Indic digits, letter forms, spacing.

Shop staff and customers type on Persian, Arabic and Latin keyboards. Every reader of
typed numbers, codes and search terms folds them here, so "۰۹۱۲", "٠٩١٢" and "0912"
are the same number everywhere (the search box, a coupon code, a form's amount).
"""

from __future__ import annotations

import re
import unicodedata

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
# Digits plus the Arabic decimal and thousands separators and the Arabic comma.
_NUMBER = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٫٬،", "01234567890123456789.,,")
_FOLD = str.maketrans(
    {
        "ي": "ی",
        "ى": "ی",
        "ئ": "ی",
        "ك": "ک",
        "ة": "ه",
        "ۀ": "ه",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ؤ": "و",
        "ـ": None,  # tatweel
        "\u200c": " ",  # zero-width non-joiner, common in Persian names
    }
)
_MARKS = re.compile(r"[\u064B-\u065F\u0670\u06D6-\u06ED]")
_SPACES = re.compile(r"\s+")


def ascii_digits(text: str) -> str:
    """Replace Persian and Arabic-Indic digits with ASCII ones."""
    return text.translate(_DIGITS)


def ascii_number(text: str) -> str:
    """Digits as ``ascii_digits``, and the Arabic separators ``٫ ٬ ،`` as ``. , ,``."""
    return text.translate(_NUMBER)


def search_key(text: str | None) -> str | None:
    """Fold ``text`` for search: case, Arabic/Persian letter forms, diacritics, digits, spaces.

    Arabic ي and Persian ی, ك and ک, optional diacritics and the zero-width non-joiner
    vary with the keyboard, not the name: "علي" finds "علی".
    """
    if text is None:
        return None
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
    folded = _MARKS.sub("", ascii_digits(folded))
    return _SPACES.sub(" ", folded).strip() or None
