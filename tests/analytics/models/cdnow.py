"""Build the CDNOW calibration summary used by Fader, Hardie & Lee (2005).

The raw file lives beside the checkout, in ``../shared/data/cdnow/`` (it is never
copied into the repository). Time is in weeks, measured in days / 7:

* calibration period 1997-01-01 .. 1997-09-30 (39 weeks);
* several purchases by one customer on one day are one transaction, whose value is the
  sum of that day's dollars;
* ``frequency`` = repeat transactions in the calibration period,
* ``recency`` = (last calibration transaction - first transaction) / 7,
* ``T`` = (1997-09-30 - first transaction) / 7, so a customer whose first purchase
  was on 1997-01-01 has T = 272 / 7 = 38.86 weeks, as in Hardie's published
  spreadsheet (and lifetimes' ``cdnow_customers_summary.csv``);
* ``monetary_value`` = mean value of the *repeat* calibration transactions (0 if none),
  the ``zbar`` of the Gamma-Gamma note (the first purchase is excluded).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

# ``WAFA_SHARED_DATA`` names the shared data folder when the checkout is not beside it.
SHARED_DATA = Path(
    os.environ.get("WAFA_SHARED_DATA")
    or Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
)
CDNOW_DIR = SHARED_DATA / "cdnow"
SAMPLE_FILE = CDNOW_DIR / "CDNOW_sample.txt"
CALIBRATION_END = dt.date(1997, 9, 30)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CdnowSummary:
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary_value: FloatArray
    holdout_frequency: FloatArray


def available() -> bool:
    return SAMPLE_FILE.is_file()


def load_summary(path: Path = SAMPLE_FILE) -> CdnowSummary:
    """Per-customer calibration summary of CDNOW_sample.txt (2,357 customers)."""
    # customer -> {date: dollars}; one transaction per customer-day.
    days: dict[int, dict[dt.date, float]] = {}
    with path.open() as fh:
        for line in fh:
            fields = line.split()
            if not fields:
                continue
            customer = int(fields[1])
            ymd = fields[2]
            day = dt.date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
            per_day = days.setdefault(customer, {})
            per_day[day] = per_day.get(day, 0.0) + float(fields[4])
    n = len(days)
    frequency = np.zeros(n)
    recency = np.zeros(n)
    T = np.zeros(n)
    monetary = np.zeros(n)
    holdout = np.zeros(n)
    for i, customer in enumerate(sorted(days)):
        dated = sorted(days[customer].items())
        first = dated[0][0]
        calibration = [(d, v) for d, v in dated if d <= CALIBRATION_END]
        repeats = calibration[1:]
        frequency[i] = len(repeats)
        recency[i] = (calibration[-1][0] - first).days / 7.0
        T[i] = (CALIBRATION_END - first).days / 7.0
        monetary[i] = float(np.mean([v for _, v in repeats])) if repeats else 0.0
        holdout[i] = len(dated) - len(calibration)
    return CdnowSummary(frequency, recency, T, monetary, holdout)


def load_or_skip() -> CdnowSummary:
    """The CDNOW summary, or skip the calling test when the data are not beside the repo."""
    import pytest

    if not available():
        pytest.skip(
            f"CDNOW data not found at {SAMPLE_FILE.resolve()} "
            "(expected in ../shared/data/cdnow beside the checkout, or set WAFA_SHARED_DATA)"
        )
    return load_summary()
