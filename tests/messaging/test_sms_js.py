"""The compose page's live SMS count (``static/sms-count.js``) counts as ``wafa.messaging.sms``
does: the same alphabets, and the same answer for every string here (run in Node)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from wafa.messaging.sms import GSM7_BASIC, GSM7_EXTENSION, count_segments
from wafa.web.templating import TEMPLATE_DIR

SCRIPT = Path(TEMPLATE_DIR).parent / "static" / "sms-count.js"
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")

STRINGS = [
    "",
    "Hello Sara, 10 % off until Sunday!",
    "a" * 160,
    "a" * 161,
    "a" * 306,
    "a" * 307,
    "€" * 80,  # extension: two septets each, exactly 160
    "€" * 80 + "a",
    "{curly} [square] ~tilde^ |pipe| \\back\\",
    "Ça coûte 5 €",  # û is not GSM-7: the whole text is UCS-2
    "ç is not Ç",
    "سلام سارا، ۱۰٪ تخفیف تا جمعه",
    "س" * 70,
    "س" * 71,
    "س" * 134,
    "س" * 135,
    "سلام Sara 123",
    "مرحبا سارة، خصم ١٠٪ حتى الجمعة",
    "Thanks 🎉",
    "🎉" * 35,  # 70 UTF-16 units
    "🎉" * 36,
    "line one\nline two\r\nthree",
    "ZWNJ: می‌خواهم",
    "tab\tis not GSM",
    "Greek ΔΦΓΛΩΠΨΣΘΞ and £$¥",
]


def _js(strings: list[str]) -> dict[str, Any]:
    program = (
        f"const sms = require({json.dumps(str(SCRIPT))});"
        "const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify({alphabets: [sms.GSM7_BASIC, sms.GSM7_EXTENSION],"
        " counts: input.map(sms.count)}));"
    )
    done = subprocess.run(
        ["node", "-e", program],
        input=json.dumps(strings),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_the_script_counts_as_python_does() -> None:
    found = _js(STRINGS)
    basic, extension = found["alphabets"]
    assert set(basic) == set(GSM7_BASIC) and set(extension) == set(GSM7_EXTENSION)
    for text, js in zip(STRINGS, found["counts"], strict=True):
        py = count_segments(text)
        assert js == {
            "encoding": py.encoding,
            "units": py.units,
            "segments": py.segments,
            "perSegment": py.per_segment,
        }, text
