"""The event catalogue: every declared event, its fields, who emits it and who reads it.

``python -m wafa.app.catalogue > docs/events.md`` writes the page; a test fails when the
page and the declarations disagree, so the catalogue is never out of date.
"""

from __future__ import annotations

import inspect
import re
import sys
from typing import Any

from wafa.app import domains
from wafa.core.events import Event
from wafa.core.settings import Settings

_NOISE = re.compile(r"\b(?:typing|datetime|uuid|wafa\.[\w.]+)\.")


def _type(annotation: Any) -> str:
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    return _NOISE.sub("", text).replace("NoneType", "None")


def _readers(settings: Settings) -> dict[str, list[str]]:
    readers: dict[str, list[str]] = {}
    for consumer in domains.consumers(settings):
        for event in consumer.event_types:
            readers.setdefault(event.topic, []).append(consumer.name)
    return readers


def _fields(event: type[Event]) -> list[str]:
    rows = []
    for name, field in event.model_fields.items():
        shown = field.alias or name
        required = "" if field.is_required() else " (optional)"
        rows.append(f"`{shown}`: {_type(field.annotation)}{required}")
    return rows


def render(settings: Settings | None = None) -> str:
    """The catalogue as Markdown."""
    readers = _readers(settings or Settings())
    out = [
        "# Event catalogue",
        "",
        "Generated from the domains' declarations by `python -m wafa.app.catalogue > "
        "docs/events.md`; a test keeps it current. Every event is written to the outbox in "
        "the transaction of the change it describes (`wafa.core.events.emit`) and read by "
        "the consumers named here, at least once, each handler idempotent. The subject is "
        "the id stored beside the payload (the customer's timeline and per-subject order "
        "read it). Payloads are JSON; ids are UUID strings, instants ISO 8601 in UTC, money "
        "integer minor units.",
        "",
        "| topic | declared by | read by | subject |",
        "|---|---|---|---|",
    ]
    for domain, event in domains.events():
        read_by = ", ".join(readers.get(event.topic, [])) or "—"
        subject = f"`{event.subject_field}`" if event.subject_field else "—"
        out.append(
            f"| [`{event.topic}`](#{event.topic.replace('.', '')}) | {domain.name} | {read_by} | {subject} |"
        )
    for domain, event in domains.events():
        doc = " ".join(inspect.cleandoc(event.__doc__ or "").split())
        out += [
            "",
            f"## {event.topic}",
            "",
            f"`{event.__module__}.{event.__name__}` ({domain.name}). {doc}",
            "",
        ]
        out += [f"- {row}" for row in _fields(event)]
        if event.label:
            out += ["", f"Shown on the customer's timeline as “{event.label}”."]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
