"""The dashboard pages that span domains: the overview, the customer list and profile,
merging duplicates, and a person's data (export, erase). One module per screen."""

from __future__ import annotations

from wafa.auth.models import Role
from wafa.people.web import (
    directory,
    duplicates,
    imports,
    merge,
    overview,
    privacy,
    profile,
    settings,
)
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.pages import Pages

PAGES = Pages(
    routers=(
        overview.router,
        duplicates.router,
        directory.router,
        profile.router,
        merge.router,
        privacy.router,
        settings.router,
        imports.router,
    ),
    nav=(
        NavItem(N_("Overview"), "/", min_role=Role.manager, icon="home", order=10),
        NavItem(N_("Customers"), "/customers", min_role=Role.cashier, icon="users", order=20),
        NavItem(
            N_("Possible duplicates"),
            "/customers/duplicates",
            min_role=Role.manager,
            icon="merge",
            order=25,
        ),
        NavItem(N_("Import"), "/import", min_role=Role.manager, icon="upload", order=90),
        NavItem(N_("Settings"), "/settings", min_role=Role.owner, icon="sliders", order=95),
    ),
)
