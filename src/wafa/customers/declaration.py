"""The customers domain: one record per person, identity matching, consent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from wafa.core.domain import Domain
from wafa.customers import events, models

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only

    from wafa.web.pages import Pages


def _api() -> Sequence[APIRouter]:
    from wafa.customers.api import router

    return (router,)


def _pages() -> Pages:
    from wafa.customers.web import PAGES

    return PAGES


CUSTOMERS = Domain(
    name="customers",
    summary="Customer records, matching by email and phone, consent per channel.",
    models=(models,),
    events=events.EVENTS,
    api=_api,
    pages=_pages,
)
