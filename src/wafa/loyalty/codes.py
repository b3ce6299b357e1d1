"""Human codes (coupons, referrals): an alphabet a cashier cannot misread.

No 0/O or 1/I (and so no confusion between them); generated codes are random
(``secrets``), stored without separators and shown in groups of four.
"""

from __future__ import annotations

import re
import secrets

from wafa.core.text import ascii_digits

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_SEPARATORS = re.compile(r"[\s\-_.]+")
_CUSTOM = re.compile(r"^[A-Z0-9]{3,32}$")


def generate(length: int = 8) -> str:
    """A random code of ``length`` characters from the unambiguous alphabet."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalize(raw: str) -> str:
    """The stored form of a typed code: upper case, separators and spaces removed.

    Persian and Arabic-Indic digits are read as ASCII digits, so a code typed on a
    phone keyboard in Persian still matches.
    """
    return _SEPARATORS.sub("", ascii_digits(raw)).upper()


def is_valid_custom(code: str) -> bool:
    """Whether a chosen campaign code (already normalised) is acceptable: 3-32 of A-Z, 0-9."""
    return bool(_CUSTOM.match(code))


def display(code: str) -> str:
    """Group a generated code in fours for reading aloud: ``ABCD-EFGH``."""
    if len(code) <= 4 or not all(ch in ALPHABET for ch in code):
        return code
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
