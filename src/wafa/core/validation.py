"""Field errors from a rule that judges several fields of a schema together.

A pydantic ``model_validator`` that raises ``ValueError`` reports the whole model as
the error's location, so an API answer cannot say *which* field to fix, and a form
cannot show the message next to it. ``refuse`` builds a ``ValidationError`` whose
errors name their fields; raised from inside a validator, pydantic nests those
locations under the model's own (``("body", "amount")`` in a request body).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    StringConstraints,
    ValidationError,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from wafa.core.errors import Loc

# (where, the rule's slug, the message: an English sentence, also the dashboard's msgid)
Problem = tuple[Loc, str, str]


def refuse(model: str, problems: Iterable[Problem], value: object = None) -> ValidationError:
    """A ``ValidationError`` of ``model`` with one error per problem, each at its field."""
    return ValidationError.from_exception_data(
        model,
        [
            InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)
            for loc, kind, message in problems
        ],
    )


#: The instants an input may name: wide enough for any shop's history and plans, narrow
#: enough that converting to UTC, adding a period or storing never overflows.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2999


def _bounded_instant(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST_YEAR <= utc.year <= LATEST_YEAR:
        raise PydanticCustomError(
            "instant_range",
            "must be between the years {earliest} and {latest} (UTC)",
            {"earliest": EARLIEST_YEAR, "latest": LATEST_YEAR},
        )
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_bounded_instant)]
"""An aware datetime within ``EARLIEST_YEAR``–``LATEST_YEAR`` once in UTC (a 422 otherwise)."""


def _person_name(value: str) -> str:
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise PydanticCustomError("name_control", "must not contain control characters")
    if not any(ch.isalnum() for ch in value):
        raise PydanticCustomError("name_blank", "must contain a letter or a digit")
    return value


PersonName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_person_name),
]
"""A person's name: trimmed, at most 200 characters, no control characters, not blank
(at least one letter or digit; joiners such as Persian's ZWNJ are kept)."""


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


OptionalPersonName = Annotated[PersonName | None, BeforeValidator(_blank_is_none)]
"""A ``PersonName`` where an empty or all-space value means none given (a guest)."""
