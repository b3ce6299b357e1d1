"""Rendered portal pages kept per customer, shown again only while nothing they show changed.

A crowd of customers opening their home page again and again (from a message, a QR code,
a reload) would otherwise each cost the loyalty engine's whole status. An entry holds a
page as it was rendered for one customer, under the key it was built at: the versions the
database keeps of everything on the page (``wafa.loyalty.versions``: the member's rows,
the catalogue; the owner's settings' token), the business's local day, the page's
language and the customer's name; and the instant after which the clock alone may change
it (pending points released, a coupon expiring: ``versions.next_change``). A reader
reads the key in its first statement, which it needs anyway to check the session, and
shows the entry only when the key is equal and that instant has not come. Every server
process keeps its own entries; since the key is read from the database on every request,
a change made through any process is seen by all at their next request.

The session's CSRF token is not kept: an entry holds :attr:`PageCache.mark` in its place,
replaced by the reader's own token when shown. Entries are looked up by the signed-in
customer's id only, so one customer's page can never be shown to another.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Entry", "PageCache"]


@dataclass(frozen=True)
class Entry:
    """A rendered page, its key, and the instant it stops being valid (``None``: only a
    change of key ends it)."""

    key: Hashable
    until: datetime | None
    html: str


class PageCache:
    """At most ``size`` entries per process, the least recently shown dropped first."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        #: Stands for the session's CSRF token in a kept page (random per process, so no
        #: text a customer typed can be mistaken for it).
        self.mark = secrets.token_hex(16)
        self._entries: OrderedDict[tuple[str, uuid.UUID], Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, page: str, customer_id: uuid.UUID, key: Hashable, now: datetime) -> str | None:
        """The kept page ``page`` of the customer, if built at ``key`` and still valid at
        ``now`` (with :attr:`mark` where the CSRF token goes)."""
        with self._lock:
            entry = self._entries.get((page, customer_id))
            if entry is None:
                return None
            if entry.key != key or (entry.until is not None and now >= entry.until):
                del self._entries[(page, customer_id)]
                return None
            self._entries.move_to_end((page, customer_id))
            return entry.html

    def put(self, page: str, customer_id: uuid.UUID, entry: Entry) -> None:
        """Keep ``entry`` as the customer's page ``page``."""
        with self._lock:
            self._entries[(page, customer_id)] = entry
            self._entries.move_to_end((page, customer_id))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
