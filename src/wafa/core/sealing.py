"""Secrets sealed at rest: values Wafa must read back (signing secrets), encrypted.

A sealed value is ``enc1:<key id>:<Fernet token>`` — ``enc1`` is the format, the key id
the first 8 hex digits of the SHA-256 of the key that sealed it. Fernet (the
``cryptography`` package: AES-128-CBC with an HMAC-SHA256, a random IV each time)
authenticates as it encrypts, so a changed or truncated value never opens.

**Keys** (the *key ring*, newest first; the newest seals, every one opens):

* ``WAFA_DATA_KEYS``: Fernet keys, comma-separated (for installations that hand their
  secrets in by environment); else
* the key file ``WAFA_DATA_KEYS_FILE``, by default the secret key file's name with
  ``.keys`` (``wafa.db.keys`` beside SQLite, ``./wafa.keys`` with PostgreSQL), one key a
  line, made with one key on first use, mode 0600. It is deliberately not the app's
  secret key: ``wafa secret rotate`` must never make the stored secrets unreadable.

**Rotation** (``wafa integration keys rotate``): a new key goes first in the file, the
old ones stay, and every sealed value is sealed again with the new key; ``--prune``
then drops the keys no stored value uses. Because each value names its key, rows
sealed with an older key still open after a rotation. The file is read again whenever
its size or modification time changes (one ``stat`` per use), so a running server or
worker seals with the new key and opens the values resealed with it at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from wafa.core.errors import Conflict
from wafa.core.security import read_secret_file, write_secret_file
from wafa.core.settings import Settings

__all__ = [
    "PREFIX",
    "KeyRing",
    "SealError",
    "is_sealed",
    "key_id",
    "key_id_of",
    "key_ring",
    "prune_keys",
    "rotate_key",
    "seal",
    "unseal",
]

#: The format of a sealed value: ``enc1:<key id>:<token>``.
PREFIX = "enc1:"


class SealError(Conflict):
    """A stored value cannot be opened: not sealed, damaged, or its key is not in the ring."""

    code = "sealed-value"


def key_id(key: str) -> str:
    """The id a key is named by in the values it seals (not secret: a digest)."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The keys, newest first, and where they come from (``env`` or the file's path)."""

    keys: tuple[str, ...]
    source: str

    @property
    def ids(self) -> tuple[str, ...]:
        """The keys' ids, newest first."""
        return tuple(key_id(k) for k in self.keys)

    def fernet(self, kid: str) -> Fernet | None:
        """The Fernet of key ``kid``, or None when it is not in the ring."""
        return _fernets(self).get(kid)


_rings: dict[tuple[object, ...], KeyRing] = {}
_fernet_cache: dict[KeyRing, dict[str, Fernet]] = {}


def _fernets(ring: KeyRing) -> dict[str, Fernet]:
    found = _fernet_cache.get(ring)
    if found is None:
        found = {key_id(k): Fernet(k.encode()) for k in ring.keys}
        _fernet_cache[ring] = found
    return found


def _parse(text: str, where: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in text.replace(",", "\n").splitlines() if k.strip())
    for key in keys:
        try:
            Fernet(key.encode())
        except ValueError:
            raise SealError(
                f"{where} holds a value that is not a Fernet key (32 bytes, url-safe base64); "
                "make one with: wafa integration keys rotate"
            ) from None
    if not keys:
        raise SealError(f"{where} holds no key")
    return keys


def _file_state(path: Path) -> tuple[object, ...] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return ("file", str(path), st.st_ino, st.st_size, st.st_mtime_ns)


def key_ring(settings: Settings, *, create: bool = True) -> KeyRing:
    """The key ring in force (see the module docstring); the key file is made on first use."""
    if settings.data_keys:
        state: tuple[object, ...] = ("env", settings.data_keys)
        ring = _rings.get(state)
        if ring is None:
            ring = KeyRing(_parse(settings.data_keys, "WAFA_DATA_KEYS"), "env")
            _rings[state] = ring
        return ring
    path = settings.data_keys_path
    found_state = _file_state(path)
    if found_state is None:
        if not create:
            raise SealError(f"the key file {path} does not exist")
        # Made exclusively: two processes starting at once agree on one key.
        write_secret_file(path, Fernet.generate_key().decode())
        found_state = _file_state(path)
        assert found_state is not None
    ring = _rings.get(found_state)
    if ring is None:
        ring = KeyRing(_parse(read_secret_file(path) or "", str(path)), str(path))
        _rings[found_state] = ring
    return ring


def is_sealed(value: str | None) -> bool:
    """Whether a stored value is sealed (as every stored secret must be)."""
    return value is not None and value.startswith(PREFIX)


def key_id_of(value: str) -> str | None:
    """The id of the key that sealed ``value`` (None when it is not sealed)."""
    if not is_sealed(value):
        return None
    return value[len(PREFIX) :].split(":", 1)[0]


def seal(settings: Settings, plain: str) -> str:
    """``plain`` sealed with the newest key of the ring."""
    ring = key_ring(settings)
    kid = ring.ids[0]
    fernet = ring.fernet(kid)
    assert fernet is not None
    return f"{PREFIX}{kid}:{fernet.encrypt(plain.encode()).decode()}"


def unseal(settings: Settings, stored: str) -> str:
    """The plain value of a sealed one; ``SealError`` when it cannot be opened.

    A value that is not sealed is refused, not passed through: a secret stored in plain
    text is a fault to fix (``wafa db upgrade`` seals what older versions stored).
    """
    if not is_sealed(stored):
        raise SealError("a stored secret is not sealed: run `wafa db upgrade`")
    kid, _, token = stored[len(PREFIX) :].partition(":")
    ring = key_ring(settings)
    fernet = ring.fernet(kid)
    if fernet is None:
        raise SealError(
            f"the key {kid} that sealed a stored secret is not in the key ring ({ring.source})",
            key_id=kid,
        )
    try:
        return fernet.decrypt(token.encode()).decode()
    except InvalidToken:
        raise SealError(f"a stored secret sealed with key {kid} is damaged", key_id=kid) from None


def rotate_key(settings: Settings) -> KeyRing:
    """Put a new key first in the key file (the old ones stay, so every value still opens).

    Refused when the keys come from ``WAFA_DATA_KEYS``: put a new key first there.
    """
    if settings.data_keys:
        raise Conflict(
            "the keys come from WAFA_DATA_KEYS: put a new key first there "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key()"
            ".decode())'), restart, then run `wafa integration keys reseal`"
        )
    old = key_ring(settings)
    new = Fernet.generate_key().decode()
    write_secret_file(settings.data_keys_path, "\n".join((new, *old.keys)), replace=True)
    return key_ring(settings)


def prune_keys(settings: Settings, used: set[str]) -> list[str]:
    """Drop from the key file the keys whose ids are not in ``used`` (never the newest).

    Returns the ids dropped. Refused with ``WAFA_DATA_KEYS`` (edit it there).
    """
    if settings.data_keys:
        raise Conflict("the keys come from WAFA_DATA_KEYS: remove old keys there")
    ring = key_ring(settings)
    kept = [k for i, k in enumerate(ring.keys) if i == 0 or key_id(k) in used]
    dropped = [key_id(k) for k in ring.keys if k not in kept]
    if dropped:
        write_secret_file(settings.data_keys_path, "\n".join(kept), replace=True)
    return dropped


def generate_key() -> str:
    """A new Fernet key (for ``WAFA_DATA_KEYS``)."""
    return Fernet.generate_key().decode()
