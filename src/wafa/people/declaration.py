"""The people domain: whole-person operations and the pages that span domains."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from wafa.core.domain import Domain

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only

    from wafa.web.pages import Pages


def _api() -> Sequence[APIRouter]:
    from wafa.people.api import router

    return (router,)


def _pages() -> Pages:
    from wafa.people.web import PAGES

    return PAGES


PEOPLE = Domain(
    name="people",
    summary="Merge, export and erase a person across domains; the overview and the profile.",
    api=_api,
    pages=_pages,
)
