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


def _read(path: Path, language: str) -> dict[str, str]:
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=path.stem)
    return {
        m.id: m.string
        for m in catalog
        if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string and not m.fuzzy
    }


@lru_cache(maxsize=64)
def catalogue(domain: str, language: str) -> dict[str, str]:
    """``<domain>.po`` of ``language`` as msgid -> translation (fuzzy and empty entries
    left out; ``{}`` when there is no such file)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"
    return _read(path, language) if path.exists() else {}


@lru_cache(maxsize=8)
def every_catalogue(language: str) -> dict[str, str]:
    """Every ``.po`` of ``language`` merged in name order (a later file wins), as the
    dashboard merges them: for output that draws words from several domains (the report)."""
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    merged: dict[str, str] = {}
    for path in sorted(folder.glob("*.po")) if folder.is_dir() else []:
        merged.update(catalogue(path.stem, language))
    return merged


def translate(domain: str, language: str, message: str, **params: object) -> str:
    """``message`` from ``<domain>.po`` in ``language`` (English when untranslated), with
    ``%(name)s`` parameters filled: for what a domain writes outside a page (emails to staff
    and customers).
    """
    found = catalogue(domain, language).get(message, message) if language != "en" else message
    return found % params if params else found
