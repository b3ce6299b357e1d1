"""axe-core in the browser tests: serious and critical violations fail the test.

axe-core is fetched from the npm registry at test time (never copied into the
repository) into a cache folder outside the checkout, once: ``WAFA_AXE_JS`` may name an
``axe.min.js`` to use instead. The page is opened with ``bypass_csp=True`` by the
caller, because the dashboard's policy refuses inline scripts (axe is injected as one).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

AXE_VERSION = "4.10.2"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "wafa-tests" / "axe"


@lru_cache(maxsize=1)
def axe_script() -> str:
    """The text of ``axe.min.js`` (installed with npm into the cache on first use)."""
    given = os.environ.get("WAFA_AXE_JS")
    path = Path(given) if given else CACHE / "node_modules" / "axe-core" / "axe.min.js"
    if not path.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("axe-core needs npm (or WAFA_AXE_JS pointing at axe.min.js)")
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(CACHE),
                f"axe-core@{AXE_VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return path.read_text(encoding="utf-8")


def serious_violations(page: Any) -> list[str]:
    """Run axe on ``page``; the serious and critical violations, one line each."""
    page.add_script_tag(content=axe_script())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(
            n["target"][0] if isinstance(n["target"][0], str) else str(n["target"])
            for n in v["nodes"][:3]
        )
        for v in result["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
