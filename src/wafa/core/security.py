"""Security primitives: password hashing, API key tokens, signed values."""

from __future__ import annotations

import hashlib
import hmac
import secrets
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
