"""The gatherings' dashboard pages: the owner's and manager's events (list, new, edit,
one event with its RSVPs, waiting list and check-ins) and the point of sale's check-in."""

from __future__ import annotations

from wafa.gatherings.web import owner, pos
from wafa.web.pages import Pages

PAGES = Pages(routers=(owner.router, pos.router), nav=(owner.NAV,), panels=(owner.PANEL,))
