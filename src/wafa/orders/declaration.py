"""The orders domain: products, orders, lines, refunds, channels and locations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from wafa.core.domain import Domain
from wafa.orders import events, models
from wafa.orders.importing import jobs

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only

    from wafa.web.pages import Pages


def _api() -> Sequence[APIRouter]:
    from wafa.orders.api import router

    return (router,)


def _pages() -> Pages:
    from wafa.orders.web import PAGES

    return PAGES


ORDERS = Domain(
    name="orders",
    summary="Orders from every channel (API, point of sale, import), refunds, products.",
    models=(models, jobs),
    events=events.EVENTS,
    api=_api,
    pages=_pages,
)
