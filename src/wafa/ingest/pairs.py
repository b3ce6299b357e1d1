"""Cells of ``key:value`` pairs, as WooCommerce's export extensions write them.

``name:Flat white|sku:COF-FW|quantity:2`` is one item; refunds and coupons list several
items separated by ``;``. A separator inside a value survives when what follows it is
not a ``key:`` (a product named ``Tea|Cake`` keeps its name).
"""

from __future__ import annotations

import re

from wafa.ingest.describe import PairSyntax

__all__ = ["item_list", "split_pairs"]

_KEY = re.compile(r"[a-z_]{1,40}")
_DEFAULT = PairSyntax()


def split_pairs(text: str, syntax: PairSyntax = _DEFAULT) -> dict[str, str]:
    """``name:A|sku:B`` -> ``{"name": "A", "sku": "B"}``; a ``|`` inside a value is kept."""
    pairs: dict[str, str] = {}
    last: str | None = None
    for part in text.split(syntax.pairs):
        key, colon, value = part.partition(syntax.key)
        if colon and _KEY.fullmatch(key.strip()):
            last = key.strip()
            pairs[last] = value
        elif last is not None:
            pairs[last] += syntax.pairs + part
    return pairs


def item_list(text: str, syntax: PairSyntax = _DEFAULT) -> list[dict[str, str]]:
    """The items of a list cell (``amount:5|reason:Late;amount:1``), blank items left out."""
    return [split_pairs(item, syntax) for item in text.split(syntax.items) if item.strip()]
