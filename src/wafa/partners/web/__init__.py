"""The partners' pages: the partner's own counter page (``/partner/``, behind its signed
link) and the owner's dashboard pages (``/partners``)."""

from __future__ import annotations

from wafa.partners.web import counter, owner
from wafa.web.pages import Pages

PAGES = Pages(routers=(counter.router, owner.router), nav=(owner.NAV,), panels=(owner.PANEL,))
