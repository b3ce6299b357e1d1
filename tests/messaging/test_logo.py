"""The shop's logo in emails: above the message, served by Wafa itself under the public
URL (versioned), with the shop's name as its text; without a logo, the name."""

from __future__ import annotations

import re
import struct
import zlib

import httpx2 as httpx
import pytest
from sqlalchemy.orm import Session

from tests.messaging.conftest import Sink, body_of
from tests.messaging.helpers import queue, subscriber
from tests.serving import running_app
from wafa.auth import business
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.messaging.pipeline import Pipeline

pytestmark = pytest.mark.usefixtures("daytime")


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x0d\x7a\x68")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def logo_tag(html: str) -> dict[str, str] | None:
    found = re.search(r"<img[^>]*class=\"logo\"[^>]*>", html)
    if not found:
        return None
    return dict(re.findall(r'(\w+)="([^"]*)"', found.group(0)))


def test_the_logo_is_above_the_message_with_the_shop_name_as_text(
    session: Session, pipeline: Pipeline, smtp_sink: Sink
) -> None:
    logo = business.save_logo(session, data=png())
    customer = subscriber(session, name="Sara Ahmadi", email="sara@example.com")
    queue(session, customer, kind="transactional", reason="order_confirmation")
    assert pipeline.run_once().sent == 1
    [got] = smtp_sink.to("sara@example.com")
    tag = logo_tag(body_of(got, "html"))
    assert tag is not None
    assert tag["src"] == f"https://shop.example/branding/logo?v={logo.version}"
    assert tag["alt"] == "Test Café"


def test_without_a_logo_the_name_is_written(
    session: Session, pipeline: Pipeline, smtp_sink: Sink
) -> None:
    customer = subscriber(session, name="Sara Ahmadi", email="sara@example.com")
    queue(session, customer, kind="transactional", reason="order_confirmation")
    pipeline.run_once()
    [got] = smtp_sink.to("sara@example.com")
    html = body_of(got, "html")
    assert logo_tag(html) is None and "Test Café" in html


def test_the_logo_address_is_served_by_wafa(committed_db: Settings) -> None:
    """What the email points at answers with the image, from Wafa, without logging in."""
    data = png()
    with session_scope(committed_db) as s:
        version = business.save_logo(s, data=data).version
    with running_app(committed_db) as base:
        answer = httpx.get(f"{base}/branding/logo?v={version}", timeout=60)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png" and answer.content == data
