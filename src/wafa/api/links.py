"""OpenAPI links: how a created record's id reaches the operations on it.

A ``POST`` on a collection that answers 201 with the record (a body with an ``id``)
links to every operation under ``<collection>/{param}`` — the record's own path and
what hangs off it — passing ``$response.body#/id`` as ``param``. A client generator,
the API docs and the stateful schemathesis test follow them to chain create → read →
change → act (a customer into its points, redemptions, consent, merge and erasure).
Derived from the routes themselves, so a new route under a collection is linked the
day it is added.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["add_links"]

_METHODS = ("get", "put", "patch", "post", "delete")
_PARAM = re.compile(r"\{([^}]+)\}")


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the create → use links to ``schema`` (an OpenAPI document) in place; returns it."""
    paths: dict[str, dict[str, Any]] = schema.get("paths", {})
    components = schema.get("components", {}).get("schemas", {})
    for collection, operations in paths.items():
        created = operations.get("post", {}).get("responses", {}).get("201")
        if not created or not _answers_an_id(created, components):
            continue
        links: dict[str, Any] = {}
        prefix = collection.rstrip("/") + "/{"
        for path, theirs in paths.items():
            if not path.startswith(prefix):
                continue
            param = _PARAM.match(path, len(prefix) - 1)
            if param is None:
                continue
            for method in _METHODS:
                operation_id = theirs.get(method, {}).get("operationId")
                if operation_id:
                    links[operation_id] = {
                        "operationId": operation_id,
                        "parameters": {param.group(1): "$response.body#/id"},
                    }
        if links:
            created["links"] = links
    return schema


def _answers_an_id(response: dict[str, Any], components: dict[str, Any]) -> bool:
    body = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref = body.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        body = components.get(ref.rsplit("/", 1)[1], {})
    return "id" in body.get("properties", {})
