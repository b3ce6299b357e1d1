"""Shop formats, described once: read by the importer, the analyzer and the webhooks.

Each format (``shopify``, ``woocommerce``, ``generic``) is an ``describe.OrderFormat``:
which header names play which role, what its status words mean, where refunds are
written, which columns are known and left alone. ``values`` holds the money, time,
quantity and yes/no rules every format shares; ``pairs`` the ``key:value`` cells of
WooCommerce's extensions; ``shopjson`` reads the shops' REST order JSON through the same
descriptions (for the webhooks).

Readers:

* ``orders.importing`` binds a file's header to the roles and stores what it reads;
* ``analytics.reading`` builds ``wafa analyze``'s SQL from the same description;
* the Shopify and WooCommerce webhooks read order JSON with ``shopjson``.

This package depends on ``wafa.core`` only: a format says which order *status* a word
means; whether an order is a sale is decided in ``orders.sales``.
"""

from __future__ import annotations

from wafa.ingest.describe import OrderFormat
from wafa.ingest.generic import GENERIC
from wafa.ingest.shopify import SHOPIFY
from wafa.ingest.woocommerce import WOOCOMMERCE

__all__ = ["FORMATS", "GENERIC", "SHOPIFY", "WOOCOMMERCE", "order_format"]

#: Every order format, by the name the command line uses.
FORMATS: dict[str, OrderFormat] = {f.name: f for f in (GENERIC, SHOPIFY, WOOCOMMERCE)}


def order_format(name: str) -> OrderFormat:
    """The format called ``name``; ``KeyError`` names the known ones."""
    try:
        return FORMATS[name]
    except KeyError:
        raise KeyError(f"unknown format {name!r}; use one of {', '.join(FORMATS)}") from None
