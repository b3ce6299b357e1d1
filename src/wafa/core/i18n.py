"""The translation marker every layer may use.

``N_("Points earned")`` marks an English msgid for the catalogues
(``src/wafa/locale/<lang>/LC_MESSAGES/<domain>.po``) without translating it: domain
code (event labels, refusal reasons) has no language; the dashboard, messages and the
portal translate the msgid when they draw it, in the reader's language.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it now (translated when drawn)."""
    return message


LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


@lru_cache(maxsize=64)
def _catalogue(domain: str, language: str) -> dict[str, str]:
    from babel.messages.pofile import read_po

    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=domain)
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string and not m.fuzzy
    }


def translate(domain: str, language: str, message: str, **params: object) -> str:
    """``message`` from ``<domain>.po`` in ``language`` (English when untranslated), with
    ``%(name)s`` parameters filled: for what a domain writes outside a page (emails to staff).
    """
    found = _catalogue(domain, language).get(message, message) if language != "en" else message
    return found % params if params else found
