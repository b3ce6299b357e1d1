"""The event catalogue page is generated from the declarations and kept current."""

from __future__ import annotations

from pathlib import Path

from wafa.app import catalogue, domains

PAGE = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_the_committed_catalogue_is_current() -> None:
    assert PAGE.read_text("utf-8") == catalogue.render(), (
        "docs/events.md is out of date: python -m wafa.app.catalogue > docs/events.md"
    )


def test_every_declared_event_is_listed_with_its_fields_and_readers() -> None:
    page = catalogue.render()
    for _, event in domains.events():
        assert f"## {event.topic}" in page
        for name, field in event.model_fields.items():
            assert f"`{field.alias or name}`" in page
    assert (
        "| [`order.placed`](#orderplaced) | orders | loyalty, messaging-segments, flows, "
        "integrations-webhooks, partners | `order_id` |" in page
    )
