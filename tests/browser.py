"""What browser tests share: Debian's Chromium driven by Playwright, logging in, and axe-core.

``assert_accessible(page)`` runs axe-core (Deque's accessibility engine) in the page
and fails on any *serious* or *critical* violation, naming the rule, the elements and
the help text. axe-core comes from the npm registry at test time, installed once into a
cache folder outside the repository (``$WAFA_TEST_CACHE``, else
``~/.cache/wafa-tests``); nothing of it is committed or served by Wafa. It is put into
the page through the DevTools protocol, which the pages' Content-Security-Policy (scripts
only from ``/static``) does not govern, so the page is checked exactly as it is served.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium: apt-get install chromium"
)

AXE_VERSION = "4.10.3"
BLOCKING = ("serious", "critical")


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium (Debian's) for one test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def login(page: Page, base: str, email: str, password: str) -> None:
    """Log in through the login form (the page then shows the user's home)."""
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()


def _cache() -> Path:
    root = os.environ.get("WAFA_TEST_CACHE") or Path.home() / ".cache" / "wafa-tests"
    return Path(root) / f"axe-core-{AXE_VERSION}"


@lru_cache(maxsize=1)
def axe_source() -> str:
    """axe-core's script, installed from the npm registry into the cache on first use."""
    folder = _cache()
    script = folder / "node_modules" / "axe-core" / "axe.min.js"
    folder.mkdir(parents=True, exist_ok=True)
    # Two suites may start at once (CI runs SQLite and PostgreSQL side by side): the first
    # installs under the lock, the other waits and then reads the finished file.
    with (folder.parent / f"{folder.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not script.exists():
            _install_axe(folder)
    return script.read_text("utf-8")


def _install_axe(folder: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("the accessibility check needs npm (apt-get install npm)")
    subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(folder),
            "--no-audit",
            "--no-fund",
            "--silent",
            f"axe-core@{AXE_VERSION}",
        ],
        check=True,
        timeout=300,
    )


def axe(page: Page, *, impacts: tuple[str, ...] = BLOCKING) -> list[dict[str, Any]]:
    """axe-core's violations of the page as it is now, of the given impacts."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
            }));
        }"""
    )
    return [v for v in result if v["impact"] in impacts]


def assert_accessible(page: Page, what: str = "") -> None:
    """Fail when axe-core finds a serious or critical violation on the page."""
    found = axe(page)
    where = what or page.url
    assert not found, f"accessibility of {where}:\n" + json.dumps(found, indent=1)
