"""Staff accounts, API keys and the installation's secret key."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta
from functools import cache

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from wafa.auth.models import ROLE_RANK, ApiKey, Role, Scope, StaffUser, SystemSetting
from wafa.core.contacts import ContactError, normalize_email
from wafa.core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from wafa.core.security import (
    API_KEY_PREFIX,
    hash_api_key,
    hash_password,
    new_api_key,
    new_secret_key,
    read_secret_file,
    verify_password,
    write_secret_file,
)
from wafa.core.settings import Settings
from wafa.core.time import utcnow

SECRET_KEY = "secret_key"
MIN_PASSWORD = 10


class InsufficientScope(Forbidden):
    code = "insufficient-scope"


# --------------------------------------------------------------------------- staff


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role,
    name: str | None = None,
    locale: str | None = None,
) -> StaffUser:
    """Add a staff user; passwords shorter than ten characters are refused."""
    try:
        address = normalize_email(email, public=False)
    except ContactError as exc:
        raise Invalid.field(("email",), str(exc)) from None
    if len(password) < MIN_PASSWORD:
        raise Invalid.field(("password",), f"must be at least {MIN_PASSWORD} characters")
    digest = hash_password(password)  # before any write: no lock held across argon2
    if session.scalar(select(StaffUser.id).where(StaffUser.email == address)) is not None:
        raise Conflict(f"a staff user with email {address} exists")
    user = StaffUser(
        email=address,
        name=name,
        role=role,
        password_hash=digest,
        locale=locale,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, email: str, password: str) -> StaffUser:
    """The active user with these credentials; any mismatch is the same ``Unauthorized``.

    Only reads: the password is checked (argon2) with no write lock held. An unknown email
    is checked against a dummy hash, so the time taken says nothing. Throttling is the
    caller's (``wafa.auth.throttle``, claimed in its own transaction before this).
    """
    try:
        address = normalize_email(email, public=False)
    except ContactError:
        address = email.strip().lower()
    user = session.scalar(select(StaffUser).where(StaffUser.email == address))
    valid = verify_password(user.password_hash if user else _dummy_hash(), password)
    if user is None or not valid or not user.active:
        raise Unauthorized("wrong email or password")
    return user


def record_login(session: Session, *, user_id: uuid.UUID) -> None:
    """Remember when a user last logged in."""
    session.execute(
        update(StaffUser)
        .where(StaffUser.id == user_id)
        .values(last_login_at=utcnow())
        .execution_options(synchronize_session=False)
    )


@cache
def _dummy_hash() -> str:
    """What an unknown address's password is checked against (as long as a real check).
    Made on first use: argon2 takes about a second, which every ``wafa`` command and every
    worker start paid when it was made at import."""
    return hash_password("not-a-real-password-0000")


def get_user(session: Session, user_id: uuid.UUID) -> StaffUser:
    """The staff user with ``user_id``."""
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(f"staff user {user_id} not found")
    return user


def set_user_locale(session: Session, *, user_id: uuid.UUID, locale: str) -> StaffUser:
    """Remember the user's dashboard language."""
    user = get_user(session, user_id)
    user.locale = locale
    session.flush()
    return user


def list_users(session: Session) -> list[StaffUser]:
    """Every staff user by email."""
    return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))


# --------------------------------------------------------------------------- API keys


def parse_scopes(raw: Iterable[str]) -> list[str]:
    """Validate scope names (read, write, admin); ``write`` implies ``read``."""
    scopes: set[str] = set()
    for item in raw:
        name = item.strip()
        if not name:
            continue
        try:
            scopes.add(Scope(name))
        except ValueError:
            raise Invalid.field(
                ("scopes",), f"unknown scope {name!r}; use read, write or admin"
            ) from None
    if not scopes:
        raise Invalid.field(("scopes",), "at least one scope is needed")
    if Scope.write in scopes or Scope.admin in scopes:
        scopes.add(Scope.read)
    return sorted(scopes)


def create_api_key(
    session: Session,
    *,
    name: str,
    scopes: Iterable[str],
    created_by: StaffUser | None = None,
) -> tuple[ApiKey, str]:
    """Create an API key; return the record and the token, which is never stored or shown again.

    A key created by a staff user (``created_by``) is tied to them: it never holds more
    than their role does, and it stops working when they are disabled or demoted.
    """
    if not name.strip():
        raise Invalid.field(("name",), "a key needs a name")
    if len(name.strip()) > 200:
        raise Invalid.field(("name",), "at most 200 characters")
    token, prefix, digest = new_api_key()
    key = ApiKey(
        name=name.strip(),
        prefix=prefix,
        key_hash=digest,
        scopes=parse_scopes(scopes),
        created_by=created_by.id if created_by is not None else None,
        created_role=created_by.role if created_by is not None else None,
    )
    session.add(key)
    session.flush()
    return key, token


def authenticate_api_key(session: Session, token: str) -> tuple[ApiKey, StaffUser | None]:
    """The live key for ``token`` and the staff user who created it (if one did).

    Unknown and revoked keys are ``Unauthorized``, and so is a key whose creator was
    disabled, removed, or moved to a lower role than they held when creating it.
    """
    if not token.startswith(API_KEY_PREFIX):
        raise Unauthorized("not a Wafa API key")
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(token)))
    if key is None:
        raise Unauthorized("unknown API key")
    if key.revoked_at is not None:
        raise Unauthorized("this API key was revoked")
    creator = None
    if key.created_role is not None:
        creator = session.get(StaffUser, key.created_by) if key.created_by else None
        if creator is None or not creator.active or _rank(creator.role) < _rank(key.created_role):
            raise Unauthorized("the staff account that created this API key lost its access")
    return key, creator


def creator_of(session: Session, *, kind: str, principal_id: uuid.UUID) -> StaffUser | None:
    """The staff user a new key is tied to: the caller, or the user behind the caller's key."""
    if kind == "staff":
        return get_user(session, principal_id)
    key = session.get(ApiKey, principal_id)
    if key is not None and key.created_by is not None:
        return get_user(session, key.created_by)
    return None


def _rank(role: str) -> int:
    try:
        return ROLE_RANK[Role(role)]
    except ValueError:
        return 0


def touch_api_key(session: Session, key_id: uuid.UUID) -> None:
    """Record that a key was used (at most once a minute, so reads stay cheap)."""
    now = utcnow()
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < now - timedelta(minutes=1)),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def require_scope(key: ApiKey, scope: Scope) -> None:
    """Raise ``InsufficientScope`` unless the key holds ``scope``."""
    if scope not in key.scopes:
        raise InsufficientScope(
            f"this API key lacks the {scope!r} scope", required=scope, granted=key.scopes
        )


def revoke_api_key(session: Session, *, key_id: uuid.UUID) -> ApiKey:
    """Revoke a key; requests with it fail from the next one on."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    return key


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every API key, newest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())))


# --------------------------------------------------------------------------- secret key


def stored_secret_key(session: Session) -> str | None:
    """A secret key left in the database by an older Wafa (moved out on start-up)."""
    row = session.get(SystemSetting, SECRET_KEY)
    return row.value if row else None


def secret_key(settings: Settings, session: Session | None = None) -> str:
    """The installation's secret key: ``WAFA_SECRET_KEY``, else the key file (made on first
    use), else — on a database an older Wafa left it in — the database's copy (moved out by
    ``move_secret_key_out``)."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.secret_key_path
    found = read_secret_file(path)
    if found:
        return found
    legacy = stored_secret_key(session) if session is not None else None
    if legacy:
        return legacy
    write_secret_file(path, new_secret_key())
    found = read_secret_file(path)
    if not found:  # pragma: no cover - the file was just written
        raise RuntimeError(f"could not read the secret key file {path}")
    return found


def move_secret_key_out(settings: Settings, session: Session) -> bool:
    """Move a key stored in the database by an older Wafa into the key file (or drop it when
    the key comes from elsewhere), and remove it from the database. True if one was there.

    On SQLite the row is deleted with ``secure_delete``, so the freed page holds zeros, not
    the key. Copies and backups made before this still hold it: rotate the key
    (``wafa secret rotate``) after upgrading.
    """
    legacy = stored_secret_key(session)
    if legacy is None:
        return False
    if not settings.secret_key and read_secret_file(settings.secret_key_path) is None:
        write_secret_file(settings.secret_key_path, legacy)
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete = ON"))
    session.execute(delete(SystemSetting).where(SystemSetting.key == SECRET_KEY))
    return True


def ensure_secret_key(session: Session, settings: Settings) -> str:
    """The secret key, after moving a database copy out (``wafa init``, start-up)."""
    move_secret_key_out(settings, session)
    return secret_key(settings, session)


def rotate_secret_key(settings: Settings, session: Session) -> int:
    """A new secret key in the key file; every staff session ends. The users affected.

    Refused when the key comes from ``WAFA_SECRET_KEY`` (change it there instead).
    """
    if settings.secret_key:
        raise Conflict(
            "the secret key comes from WAFA_SECRET_KEY: set a new value there and restart"
        )
    move_secret_key_out(settings, session)
    write_secret_file(settings.secret_key_path, new_secret_key(), replace=True)
    return end_all_sessions(session)


def set_password(session: Session, *, user_id: uuid.UUID, password: str) -> StaffUser:
    """Replace a staff user's password and end all their sessions.

    The same length rule as ``create_user`` applies. The password is hashed before
    anything is written, so no write lock is held across argon2.
    """
    if len(password) < MIN_PASSWORD:
        raise Invalid.field(("password",), f"must be at least {MIN_PASSWORD} characters")
    digest = hash_password(password)
    user = get_user(session, user_id)
    user.password_hash = digest
    end_sessions(session, user_id=user_id)
    return user


def end_sessions(session: Session, *, user_id: uuid.UUID) -> None:
    """End every session of one staff user at once (their cookies stop working)."""
    session.flush()  # pending changes first: the attributes are expired below
    session.execute(
        update(StaffUser)
        .where(StaffUser.id == user_id)
        .values(session_version=StaffUser.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


def end_all_sessions(session: Session) -> int:
    """End every staff session (after the secret key is rotated); the number of users."""
    session.flush()
    result = session.execute(
        update(StaffUser)
        .values(session_version=StaffUser.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return int(getattr(result, "rowcount", 0) or 0)


def _owners_left(session: Session, *, without: uuid.UUID) -> int:
    return len(
        session.scalars(
            select(StaffUser.id).where(
                StaffUser.role == Role.owner, StaffUser.active.is_(True), StaffUser.id != without
            )
        ).all()
    )


def set_active(session: Session, *, user_id: uuid.UUID, active: bool) -> StaffUser:
    """Disable (every session ends at once, keys they made stop) or enable a staff user.

    The last active owner cannot be disabled: someone must be able to manage the shop.
    """
    user = get_user(session, user_id)
    if (
        not active
        and user.role == Role.owner
        and user.active
        and not _owners_left(session, without=user.id)
    ):
        raise Conflict("the last active owner cannot be disabled", field="active")
    user.active = active
    session.flush()
    if not active:
        end_sessions(session, user_id=user_id)
    return get_user(session, user_id)


def set_role(session: Session, *, user_id: uuid.UUID, role: Role) -> StaffUser:
    """Change a staff user's role; their sessions end (they log in again with the new role).

    The last active owner cannot be moved to a lower role.
    """
    user = get_user(session, user_id)
    role = Role(role)
    if user.role == role:
        return user
    if user.role == Role.owner and user.active and not _owners_left(session, without=user.id):
        raise Conflict("the last active owner must stay an owner", field="role")
    user.role = role
    session.flush()
    end_sessions(session, user_id=user_id)
    return get_user(session, user_id)


def find_user(session: Session, email: str) -> StaffUser:
    """The staff user with this login email."""
    try:
        address = normalize_email(email, public=False)
    except ContactError:
        address = email.strip().lower()
    user = session.scalar(select(StaffUser).where(StaffUser.email == address))
    if user is None:
        raise NotFound(f"no staff user with email {address}")
    return user
