"""The business's own settings, kept in the database and edited by the owner.

Name, colour, currency, timezone, language, calendar and phone region are fields of
``wafa.core.settings.Settings``. The owner sets them on the dashboard's Settings page; they
are kept as ``business:<field>`` rows of ``system_settings``. A ``WAFA_*`` environment
variable (or ``.env``) still wins over the stored value, so a deployment can pin a field:
the page shows such a field as set by the environment and does not offer to change it.
The logo is an image kept the same way (PNG, JPEG or WebP, at most 256 KiB).

Every save (fields or logo) also writes a new ``business:version`` token in the same
transaction. Each server process compares it with the one it applied, once per request
(one primary-key read), and reloads the settings when another process changed them: a
change reaches every process at its next request, with no restart.

The currency of a store that has orders cannot be changed here: every amount is stored in
minor units of that currency, and loyalty rules, coupons and analytics read them so. The
caller says whether orders exist (orders live in a layer above this one).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import ScalarSelect, select
from sqlalchemy.orm import Session

from wafa.auth.models import SystemSetting
from wafa.core.errors import Conflict, Invalid, Loc
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow

__all__ = [
    "FIELDS",
    "LOGO_TYPES",
    "MAX_LOGO_BYTES",
    "CurrencyLocked",
    "Logo",
    "effective",
    "from_environment",
    "logo",
    "remove_logo",
    "save",
    "save_logo",
    "stored",
    "version",
]

#: The fields the owner may set, in the order of the page.
FIELDS = (
    "business_name",
    "brand_colour",
    "currency",
    "timezone",
    "locale",
    "calendar",
    "phone_region",
)
PREFIX = "business:"
LOGO_KEY = "business:logo"
VERSION_KEY = "business:version"
MAX_LOGO_BYTES = 256 * 1024
#: Image types a logo may have, by their first bytes (SVG is refused: it can carry script).
LOGO_TYPES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"RIFF": "image/webp",
}


def stored(session: Session) -> dict[str, str]:
    """The values the owner saved (only the fields that were saved)."""
    rows = session.execute(
        select(SystemSetting.key, SystemSetting.value).where(
            SystemSetting.key.in_([PREFIX + name for name in FIELDS])
        )
    )
    return {key.removeprefix(PREFIX): value for key, value in rows}


def version(session: Session) -> str | None:
    """The token of the last saved change (``None`` before the first save)."""
    value: str | None = session.execute(
        select(SystemSetting.value).where(SystemSetting.key == VERSION_KEY)
    ).scalar_one_or_none()
    return value


def version_column() -> ScalarSelect[str | None]:
    """``version`` as a scalar subquery, for a reader that asks in its own first statement
    (``app.live_settings.settings_for`` then applies what it read)."""
    return select(SystemSetting.value).where(SystemSetting.key == VERSION_KEY).scalar_subquery()


def _changed(session: Session) -> None:
    """Write a new version token: other server processes reload at their next request.

    An upsert, so that two first saves at once from two processes both succeed.
    """
    token = new_id().hex
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    now = utcnow()
    session.execute(
        insert(SystemSetting)
        .values(key=VERSION_KEY, value=token, updated_at=now)
        .on_conflict_do_update(
            index_elements=[SystemSetting.key], set_={"value": token, "updated_at": now}
        )
    )


def from_environment(base: Settings) -> frozenset[str]:
    """The fields the environment set: they win over stored values."""
    return frozenset(base.model_fields_set) & frozenset(FIELDS)


def effective(base: Settings, values: Mapping[str, str]) -> Settings:
    """``base`` (read from the environment) with the stored values of the fields it left unset.

    A stored value that no longer validates (say a timezone removed from the system's
    database) is ignored rather than stopping the shop.
    """
    pinned = from_environment(base)
    update = {k: v for k, v in values.items() if k in FIELDS and k not in pinned}
    if not update:
        return base
    try:
        merged = Settings.model_validate({**base.model_dump(), **update})
    except ValidationError:
        return base
    return base.model_copy(update={k: getattr(merged, k) for k in update})


#: What the owner reads when a value is refused (sentences the dashboard translates).
PINNED = "This is set by the server's environment, which wins over this page."
REQUIRED = "This is required."
INVALID = {
    "business_name": "Enter the shop's name (at most 200 characters).",
    "brand_colour": "Enter a colour as # and six hexadecimal digits, like #0d7a68.",
    "currency": "Enter a currency code, like USD, EUR or IRR.",
    "timezone": "Enter a timezone, like Asia/Tehran or Europe/London.",
    "locale": "Choose one of the options.",
    "calendar": "Choose one of the options.",
    "phone_region": "Enter a two-letter country code, like IR or US.",
}

LOGO_MISSING = "Choose an image file."
LOGO_TOO_LARGE = "The image is too large: at most 256 KB."
LOGO_KIND = "The logo must be a PNG, JPEG or WebP image."


class CurrencyLocked(Conflict):
    """The store has orders: its currency stays."""

    code = "currency-locked"


def save(
    session: Session, *, base: Settings, values: Mapping[str, str | None], orders_exist: bool
) -> Settings:
    """Validate and store the owner's values; return the settings now in force.

    A field the environment sets may only be sent unchanged (the environment would win).
    A blank brand colour removes it. Raises ``Invalid`` naming each bad field, or
    ``CurrencyLocked`` when the store has orders and the currency would change; nothing is
    written then.
    """
    pinned = from_environment(base)
    current = effective(base, stored(session))
    clean: dict[str, str | None] = {}
    errors: list[tuple[Loc, str]] = []
    for name, raw in values.items():
        if name not in FIELDS:
            continue
        value = raw.strip() if isinstance(raw, str) else raw
        if name in pinned:
            if value and value != _text(getattr(current, name)):
                errors.append(((name,), PINNED))
            continue
        if name == "brand_colour" and not value:
            value = None
        elif not value:
            errors.append(((name,), REQUIRED))
            continue
        elif name in ("currency", "phone_region"):
            value = value.upper()
        clean[name] = value
    checked = current
    if not errors:
        try:
            checked = Settings.model_validate({**current.model_dump(), **clean})
        except ValidationError as exc:
            errors.extend(
                ((str(e["loc"][0]),), INVALID.get(str(e["loc"][0]), REQUIRED)) for e in exc.errors()
            )
    if len(clean.get("business_name") or "") > 200:
        errors.append((("business_name",), INVALID["business_name"]))
    if errors:
        raise Invalid("the settings were not saved", errors=errors)
    if orders_exist and checked.currency != current.currency:
        raise CurrencyLocked(
            f"the store has orders in {current.currency}: its currency stays "
            f"(asked for {checked.currency})",
            currency=current.currency,
            asked=checked.currency,
        )
    for name in clean:
        value = _text(getattr(checked, name))
        row = session.get(SystemSetting, PREFIX + name)
        if value is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(SystemSetting(key=PREFIX + name, value=value))
        else:
            row.value = value
    session.flush()
    _changed(session)
    return effective(base, stored(session))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Logo:
    content_type: str
    data: bytes

    @property
    def version(self) -> str:
        """A short digest: the logo's URL changes when the image does."""
        return hashlib.sha256(self.data).hexdigest()[:10]


def logo(session: Session) -> Logo | None:
    """The stored logo, if any."""
    row = session.get(SystemSetting, LOGO_KEY)
    if row is None:
        return None
    content_type, _, encoded = row.value.partition(";")
    return Logo(content_type=content_type, data=base64.b64decode(encoded))


def save_logo(session: Session, *, data: bytes) -> Logo:
    """Keep ``data`` as the logo after checking it is a small PNG, JPEG or WebP image."""
    if not data:
        raise Invalid.field(("logo",), LOGO_MISSING)
    if len(data) > MAX_LOGO_BYTES:
        raise Invalid.field(("logo",), LOGO_TOO_LARGE)
    content_type = next(
        (kind for magic, kind in LOGO_TYPES.items() if data.startswith(magic)), None
    )
    if content_type == "image/webp" and data[8:12] != b"WEBP":
        content_type = None
    if content_type is None:
        raise Invalid.field(("logo",), LOGO_KIND)
    value = f"{content_type};{base64.b64encode(data).decode()}"
    row = session.get(SystemSetting, LOGO_KEY)
    if row is None:
        session.add(SystemSetting(key=LOGO_KEY, value=value))
    else:
        row.value = value
    session.flush()
    _changed(session)
    return Logo(content_type=content_type, data=data)


def remove_logo(session: Session) -> None:
    """Forget the logo (the dashboard shows Wafa's mark again)."""
    row = session.get(SystemSetting, LOGO_KEY)
    if row is not None:
        session.delete(row)
        session.flush()
        _changed(session)
