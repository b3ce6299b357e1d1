"""The auth domain: staff logins, roles, API keys and the installation's secret."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from wafa.auth import models
from wafa.core.domain import Domain, Task

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only


def _api() -> Sequence[APIRouter]:
    from wafa.auth.api import router

    return (router,)


def _tasks() -> Sequence[Task]:
    from wafa.auth.throttle import tasks

    return tasks()


AUTH = Domain(
    name="auth",
    summary="Staff logins with roles (owner, manager, cashier), API keys with scopes.",
    models=(models,),
    api=_api,
    tasks=_tasks,
)
