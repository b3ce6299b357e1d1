"""The sidebar: entries declared by each domain's pages, drawn per user and page.

A domain's dashboard module declares its entries in its ``Pages`` (``wafa.web.pages``)::

    PAGES = Pages(
        routers=(router,),
        nav=(NavItem(N_("Loyalty"), "/loyalty", min_role=Role.manager, icon="star", order=40),),
    )

The assembly collects every domain's entries into one ``Navigation`` (kept on
``app.state.nav``); templates draw ``nav_for(request, user)``. ``label`` is an English
msgid, translated when the sidebar is drawn (put its translation in the domain's ``.po``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from starlette.requests import Request

from wafa.auth.models import Role, StaffUser


@dataclass(frozen=True)
class NavItem:
    """One sidebar entry.

    ``path``: the page's URL; pages under it (``/loyalty/rewards``) highlight the entry.
    ``min_role``: lowest role that sees it (``cashier`` < ``manager`` < ``owner``); hiding
    an entry is not access control, the route checks the role too. ``icon``: a symbol
    id in ``static/icons.svg``. ``order``: lower comes first (overview 10, point of sale
    15, customers 20, orders 30). ``section``: an optional group heading msgid.
    """

    label: str
    path: str
    min_role: Role = Role.cashier
    icon: str = "dot"
    order: int = 100
    section: str | None = None

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"nav path must start with '/': {self.path!r}")

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


class Navigation:
    """Every domain's sidebar entries, in order; two entries for one path are an error."""

    def __init__(self, items: Iterable[NavItem]) -> None:
        by_path: dict[str, NavItem] = {}
        for item in items:
            if item.path in by_path:
                raise ValueError(f"two sidebar entries for {item.path}")
            by_path[item.path] = item
        self.items = sorted(by_path.values(), key=lambda i: (i.order, i.path))

    def links(self, user: StaffUser, current_path: str) -> list[NavLink]:
        """The entries ``user`` may see, the one for ``current_path`` marked active."""
        items = [i for i in self.items if i.visible_to(user)]
        # The most specific matching entry is the active one (/customers/x over /).
        active = max(
            (i for i in items if i.is_active(current_path)),
            key=lambda i: len(i.path),
            default=None,
        )
        return [NavLink(i, i is active) for i in items]

    def home_for(self, user: StaffUser) -> str:
        """The first page ``user`` may open (cashiers do not see the overview)."""
        for item in self.items:
            if item.visible_to(user):
                return item.path
        return "/customers"


def navigation(request: Request) -> Navigation:
    """The application's navigation (set by the assembly)."""
    nav: Navigation = request.app.state.nav
    return nav


def nav_for(request: Request, user: StaffUser) -> list[NavLink]:
    """The sidebar for ``user`` on this request's page."""
    return navigation(request).links(user, request.url.path)


def home_for(request: Request, user: StaffUser) -> str:
    """The first page ``user`` may open."""
    return navigation(request).home_for(user)
