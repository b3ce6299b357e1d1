"""Field errors from a rule that judges several fields of a schema together.

A pydantic ``model_validator`` that raises ``ValueError`` reports the whole model as
the error's location, so an API answer cannot say *which* field to fix, and a form
cannot show the message next to it. ``refuse`` builds a ``ValidationError`` whose
errors name their fields; raised from inside a validator, pydantic nests those
locations under the model's own (``("body", "amount")`` in a request body).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError
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
