"""Shared helpers for the analytics tests: the CDNOW file as a generic CSV, CSV writing."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CDNOW_DIR = REPO / ".." / "shared" / "data" / "cdnow"
CDNOW_SAMPLE = CDNOW_DIR / "CDNOW_sample.txt"

needs_cdnow = pytest.mark.skipif(
    not CDNOW_SAMPLE.is_file(), reason="CDNOW data not found beside the checkout"
)


def cdnow_generic_csv(target: Path) -> Path:
    """Write CDNOW_sample.txt as a generic order CSV (one row per purchase record)."""
    with CDNOW_SAMPLE.open() as src, target.open("w", newline="") as dst:
        out = csv.writer(dst)
        out.writerow(["customer_id", "order_id", "placed_at", "total", "quantity"])
        for n, line in enumerate(src):
            fields = line.split()
            if not fields:
                continue
            ymd = fields[2]
            out.writerow(
                [fields[1], f"o{n}", f"{ymd[:4]}-{ymd[4:6]}-{ymd[6:]}", fields[4], fields[3]]
            )
    return target


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        for row in rows:
            out.writerow(["" if v is None else v for v in row])
    return path
