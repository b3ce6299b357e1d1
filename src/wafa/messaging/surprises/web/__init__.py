"""The owner's Surprises page (``page``)."""

from wafa.messaging.surprises.web.page import NAV, router

__all__ = ["NAV", "router"]
