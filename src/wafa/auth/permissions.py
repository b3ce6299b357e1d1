"""Who may do what: one table for dashboard pages and the JSON API alike.

Every route declares the one ``Permission`` it needs (``wafa.web.auth.permitted`` on
pages, ``wafa.api.deps.permitted`` in the API). A staff user holds the permissions of
their role; an API key holds those of its scopes, and a key created by a staff user
never holds more than that user's current role allows (a disabled or demoted creator
ends the key: ``wafa.auth.service.authenticate_api_key``). A staff user's session
cookie reaching the API gets their role's permissions, never a scope's.

Point adjustments carry a size limit as well (``adjust_limit``).

``docs/permissions.md`` is this table written out (``python -m wafa.auth.permissions``);
a test checks it is current.
"""

from __future__ import annotations

from enum import StrEnum

from wafa.auth.models import Role, Scope
from wafa.core.errors import Forbidden


class Permission(StrEnum):
    """What a route needs. The names are the API's and the dashboard's vocabulary."""

    view = "view"
    serve = "serve"
    view_reports = "view_reports"
    adjust_points = "adjust_points"
    create_coupons = "create_coupons"
    edit_rewards = "edit_rewards"
    edit_program = "edit_program"
    edit_catalogue = "edit_catalogue"
    review_referrals = "review_referrals"
    merge = "merge"
    refund = "refund"
    message = "message"
    suppress = "suppress"
    export = "export"
    erase = "erase"
    manage_keys = "manage_keys"
    integrations = "integrations"
    manage_staff = "manage_staff"
    partners = "partners"
    settings = "settings"
    import_data = "import_data"
    manage_events = "manage_events"


P = Permission

#: One line each, for the documentation and the 403 pages.
MEANING: dict[Permission, str] = {
    P.view: "look up customers, orders, loyalty status, rewards and coupons",
    P.serve: (
        "serve at the counter: record a sale or an order, enrol, edit a customer's details "
        "and consent, redeem a reward, use a coupon"
    ),
    P.view_reports: "the overview, analytics, loyalty liability and the leaderboard",
    P.adjust_points: "add or remove points by hand, set a tier (up to the adjustment limit)",
    P.create_coupons: "issue and void coupons",
    P.edit_rewards: "edit the reward catalogue and the stamp cards",
    P.edit_program: "change the loyalty program's rules and tiers",
    P.edit_catalogue: "add and change products and locations",
    P.review_referrals: "approve or reject referrals",
    P.merge: "merge two customer records",
    P.refund: "record refunds",
    P.message: "templates, channels, suppressions, segments and sending messages",
    P.suppress: "stop or allow messages to an address (bounces, complaints, requests)",
    P.export: "export everything held on one person",
    P.erase: "erase a person's personal data",
    P.manage_keys: "create, list and revoke API keys",
    P.integrations: "connect shops (webhook connections, their secrets, the delivery log)",
    P.manage_staff: "add staff, change roles, disable logins, reset passwords",
    P.partners: "partner businesses: their codes, their page's link (make, revoke), statements",
    P.settings: "the shop's settings (business, feedback policy) and the worker page",
    P.import_data: "import customers, products and orders from CSV files in the dashboard",
    P.manage_events: (
        "members-only events: create, change and cancel them, send their invitations, "
        "see and change RSVPs"
    ),
}

_COUNTER = frozenset({P.view, P.serve})
_MANAGER = _COUNTER | {
    P.view_reports,
    P.adjust_points,
    P.create_coupons,
    P.edit_rewards,
    P.edit_program,
    P.edit_catalogue,
    P.review_referrals,
    P.merge,
    P.refund,
    P.message,
    P.suppress,
    P.import_data,
    P.manage_events,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.cashier: _COUNTER,
    Role.manager: frozenset(_MANAGER),
    Role.owner: frozenset(Permission),
}

#: API keys. ``read`` looks, ``write`` is what a connected shop system does day to day,
#: ``admin`` adds personal data, the program's rules, referrals, keys and settings. No key
#: manages staff.
SCOPE_PERMISSIONS: dict[Scope, frozenset[Permission]] = {
    Scope.read: frozenset({P.view, P.view_reports}),
    Scope.write: frozenset(
        {
            P.view,
            P.view_reports,
            P.serve,
            P.adjust_points,
            P.create_coupons,
            P.edit_rewards,
            P.edit_catalogue,
            P.merge,
            P.refund,
            P.message,
            P.manage_events,
        }
    ),
    Scope.admin: frozenset(
        {
            P.view,
            P.view_reports,
            P.edit_program,
            P.review_referrals,
            P.suppress,
            P.export,
            P.erase,
            P.manage_keys,
            P.integrations,
            P.partners,
            P.settings,
        }
    ),
}

#: The largest hand adjustment, in points either way (``None``: no limit).
ROLE_ADJUST_LIMIT: dict[Role, int | None] = {Role.cashier: 0, Role.manager: 1_000, Role.owner: None}
SCOPE_ADJUST_LIMIT: dict[Scope, int | None] = {Scope.read: 0, Scope.write: 1_000, Scope.admin: None}


class PermissionDenied(Forbidden):
    """The caller's role or key does not hold the permission the route needs."""

    code = "permission-denied"


class AdjustmentTooLarge(Forbidden):
    code = "adjustment-limit"


def role_permissions(role: str) -> frozenset[Permission]:
    """The permissions of a staff role (unknown roles: none)."""
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()


def scope_permissions(scopes: object) -> frozenset[Permission]:
    """The union of the permissions of ``scopes`` (unknown names add nothing)."""
    found: set[Permission] = set()
    for name in scopes if isinstance(scopes, list | tuple | set | frozenset) else ():
        try:
            found |= SCOPE_PERMISSIONS[Scope(str(name))]
        except ValueError:
            continue
    return frozenset(found)


def _larger(a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return None
    return max(a, b)


def _smaller(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def role_adjust_limit(role: str) -> int | None:
    """The largest adjustment a role may make (0 when it may make none)."""
    try:
        return ROLE_ADJUST_LIMIT[Role(role)]
    except ValueError:
        return 0


def scope_adjust_limit(scopes: object, creator_role: str | None = None) -> int | None:
    """The largest adjustment a key may make: its best scope's, capped by its creator's role."""
    limit: int | None = 0
    for name in scopes if isinstance(scopes, list | tuple | set | frozenset) else ():
        try:
            limit = _larger(limit, SCOPE_ADJUST_LIMIT[Scope(str(name))])
        except ValueError:
            continue
    if creator_role is not None:
        limit = _smaller(limit, role_adjust_limit(creator_role))
    return limit


def check(granted: frozenset[Permission], needed: Permission, *, who: str) -> None:
    """Raise ``PermissionDenied`` unless ``needed`` is in ``granted``."""
    if needed not in granted:
        raise PermissionDenied(
            f"{who} does not allow this ({needed.value}: {MEANING[needed]})",
            required=needed.value,
        )


def check_adjustment(limit: int | None, points: int) -> None:
    """Refuse a hand adjustment larger than ``limit`` points either way."""
    if limit is not None and abs(points) > limit:
        raise AdjustmentTooLarge(
            f"adjustments are limited to {limit} points either way for your role or key",
            limit=limit,
        )


def table() -> str:
    """The permission table as Markdown (``docs/permissions.md``)."""
    roles = list(Role)
    scopes = list(Scope)
    lines = [
        "# Permissions",
        "",
        "Generated by `python -m wafa.auth.permissions > docs/permissions.md` from",
        "`src/wafa/auth/permissions.py`; a test checks it is current. Dashboard pages and",
        "the API check the same permission; a staff user's session cookie in the API",
        "gets the role's column. A key created by a staff user never exceeds that user's",
        "current role, and stops working when the user is disabled or their role lowered.",
        "",
        "| permission | meaning | "
        + " | ".join(r.value for r in roles)
        + " | "
        + " | ".join(f"`{s.value}` key" for s in scopes)
        + " |",
        "|---|---|" + "---|" * (len(roles) + len(scopes)),
    ]
    for perm in Permission:
        cells = ["yes" if perm in ROLE_PERMISSIONS[r] else "" for r in roles]
        cells += ["yes" if perm in SCOPE_PERMISSIONS[s] else "" for s in scopes]
        lines.append(f"| `{perm.value}` | {MEANING[perm]} | " + " | ".join(cells) + " |")

    def limit(value: int | None) -> str:
        return "no limit" if value is None else ("none" if value == 0 else f"±{value:,}")

    lines += [
        "",
        "Largest hand adjustment of points, either way: "
        + ", ".join(f"{r.value} {limit(ROLE_ADJUST_LIMIT[r])}" for r in roles)
        + f"; a `write` key {limit(scope_adjust_limit(['write']))}, a `write` and `admin` key "
        + f"{limit(scope_adjust_limit(['write', 'admin']))}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(table())
