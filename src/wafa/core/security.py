"""Security primitives: password hashing, API key tokens, signed values."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_hasher = PasswordHasher()

API_KEY_PREFIX = "wafa_"


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (constant time, never raises)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_secret_key() -> str:
    """A random key for signing sessions and links."""
    return secrets.token_urlsafe(48)


def read_secret_file(path: Path) -> str | None:
    """The key in ``path`` (tightened to mode 0600 if it was readable by others), or None."""
    try:
        value = path.read_text("utf-8").strip()
    except FileNotFoundError:
        return None
    if os.name == "posix" and path.stat().st_mode & 0o077:
        with contextlib.suppress(OSError):
            path.chmod(0o600)
    return value or None


def write_secret_file(path: Path, value: str, *, replace: bool = False) -> bool:
    """Write the key to ``path`` with mode 0600; False if it exists and ``replace`` is off.

    A new file is created exclusively (two processes starting at once agree on one key);
    a replacement is written beside it and renamed over it, so no reader sees half a key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(path.name + ".new") if replace else path
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    try:
        fd = os.open(target, flags, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    if replace:
        os.chmod(target, 0o600)
        os.replace(target, path)
    return True


def new_api_key() -> tuple[str, str, str]:
    """A new API key: ``(token, prefix, sha256 hex digest)``; only the digest is stored.

    API keys carry 256 bits of randomness, so a fast hash is enough: there is nothing
    to brute-force that argon2's cost would protect.
    """
    body = secrets.token_urlsafe(32)
    token = f"{API_KEY_PREFIX}{body}"
    return token, token[: len(API_KEY_PREFIX) + 8], hash_api_key(token)


def hash_api_key(token: str) -> str:
    """The stored digest of an API key."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    """Compare two secrets without leaking where they differ."""
    return hmac.compare_digest(a.encode(), b.encode())


class Signer:
    """Signs and checks small JSON values with an expiry (CSRF tokens, portal links)."""

    def __init__(self, secret_key: str, salt: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=salt)

    def sign(self, value: Any) -> str:
        """Return a URL-safe signed token carrying ``value``."""
        return str(self._serializer.dumps(value))

    def unsign(self, token: str, *, max_age: int) -> Any | None:
        """Return the value in ``token``, or ``None`` when forged or older than ``max_age`` s."""
        try:
            return self._serializer.loads(token, max_age=max_age)
        except (BadSignature, SignatureExpired):
            return None
