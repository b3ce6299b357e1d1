"""The translation marker every layer may use.

``N_("Points earned")`` marks an English msgid for the catalogues
(``src/wafa/locale/<lang>/LC_MESSAGES/<domain>.po``) without translating it: domain
code (event labels, refusal reasons) has no language; the dashboard, messages and the
portal translate the msgid when they draw it, in the reader's language.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it now (translated when drawn)."""
    return message
