"""The sidebar's navigation registry: each domain's ``web.py`` adds its pages.

Call ``register_nav`` at import time of your ``web.py`` (``wafa.web.app`` imports every
module listed in ``WEB_MODULES``)::

    from wafa.web.i18n import N_
    from wafa.web.nav import register_nav

    register_nav(N_("Loyalty"), "/loyalty", min_role=Role.manager, icon="star", order=40)

``label`` is an English msgid, translated when the sidebar is drawn (put its
translation in your domain's ``.po``). Registering the same path again replaces the
entry, so importing a module twice (tests build many apps) is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from wafa.auth.models import Role, StaffUser


@dataclass(frozen=True)
class NavItem:
    """One sidebar entry."""

    label: str
    path: str
    min_role: Role
    icon: str
    order: int
    section: str | None = None

    def visible_to(self, user: StaffUser) -> bool:
        """Whether ``user``'s role reaches ``min_role``."""
        return user.has_role(self.min_role)

    def is_active(self, path: str) -> bool:
        """Whether the page at ``path`` belongs to this entry."""
        if self.path == "/":
            return path == "/"
        return path == self.path or path.startswith(self.path.rstrip("/") + "/")


@dataclass(frozen=True)
class NavLink:
    """An entry as drawn for one request."""

    item: NavItem
    active: bool

    @property
    def label(self) -> str:
        """The entry's msgid (translate with ``_()``)."""
        return self.item.label

    @property
    def path(self) -> str:
        """The entry's URL."""
        return self.item.path

    @property
    def icon(self) -> str:
        """The entry's icon name."""
        return self.item.icon


_registry: dict[str, NavItem] = {}


def register_nav(
    label: str,
    path: str,
    *,
    min_role: Role = Role.cashier,
    icon: str = "dot",
    order: int = 100,
    section: str | None = None,
) -> NavItem:
    """Add (or replace) the sidebar entry for ``path``.

    Parameters
    ----------
    label
        English msgid shown in the sidebar (translated per request).
    path
        The page's URL; pages under it (``/loyalty/rewards``) highlight the entry.
    min_role
        Lowest role that sees the entry (``cashier`` < ``manager`` < ``owner``).
        Hiding an entry is not access control: check the role in the route too.
    icon
        A symbol id in ``static/icons.svg``.
    order
        Position; lower comes first. Foundation: overview 10, customers 20, orders 30.
    section
        Optional group heading msgid (entries with the same section are drawn together).
    """
    if not path.startswith("/"):
        raise ValueError(f"nav path must start with '/': {path!r}")
    item = NavItem(label, path, Role(min_role), icon, order, section)
    _registry[path] = item
    return item


def registered() -> list[NavItem]:
    """Every entry, in sidebar order."""
    return sorted(_registry.values(), key=lambda i: (i.order, i.path))


def nav_for(user: StaffUser, current_path: str) -> list[NavLink]:
    """The entries ``user`` may see, the one for ``current_path`` marked active."""
    items = [i for i in registered() if i.visible_to(user)]
    # The most specific matching entry is the active one (/customers/x over /).
    active = max(
        (i for i in items if i.is_active(current_path)),
        key=lambda i: len(i.path),
        default=None,
    )
    return [NavLink(i, i is active) for i in items]


def home_for(user: StaffUser) -> str:
    """The first page ``user`` may open (cashiers do not see the overview)."""
    for item in registered():
        if item.visible_to(user):
            return item.path
    return "/customers"
