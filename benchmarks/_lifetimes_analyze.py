"""What a lifetimes user runs on an order export: read, summarise, fit (and predict).

Run by ``benchmarks/analytics_vs_lifetimes.py`` with the interpreter of
``benchmarks/.venv-lifetimes`` (lifetimes is never a dependency of Wafa), as a whole
process, so that its imports count as Wafa's do::

    python _lifetimes_analyze.py ORDERS.csv [--predict]

Reads the CSV with pandas, drops cancelled and refunded orders and takes partial refunds
off (as Wafa does), builds lifetimes' summary (``summary_data_from_transaction_data``:
purchase days, frequency, recency, T, monetary value), fits BG/NBD and Gamma-Gamma (on
the repeat customers), and with ``--predict`` computes for every customer the expected
purchases of the next 365 days, the probability of being alive and the 12-month CLV.
Prints one JSON line with the steps' seconds.
"""

import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")

started = time.perf_counter()
import pandas as pd  # noqa: E402
from lifetimes import BetaGeoFitter, GammaGammaFitter  # noqa: E402
from lifetimes.utils import summary_data_from_transaction_data  # noqa: E402

steps = {"import": time.perf_counter() - started}


def lap(name: str, since: float) -> float:
    now = time.perf_counter()
    steps[name] = round(now - since, 3)
    return now


clock = time.perf_counter()
path = sys.argv[1]
rows = pd.read_csv(
    path,
    usecols=["customer_id", "placed_at", "total", "status", "refunded"],
    parse_dates=["placed_at"],
)
rows = rows[~rows["status"].isin(["cancelled", "refunded"])]
rows["value"] = rows["total"] - rows["refunded"].fillna(0)
clock = lap("read", clock)
end = rows["placed_at"].max()
summary = summary_data_from_transaction_data(
    rows, "customer_id", "placed_at", monetary_value_col="value", observation_period_end=end
)
clock = lap("summary", clock)
bgf = BetaGeoFitter(penalizer_coef=0.0)
bgf.fit(summary["frequency"], summary["recency"], summary["T"])
clock = lap("fit_bgnbd", clock)
repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
ggf = GammaGammaFitter(penalizer_coef=0.0)
ggf.fit(repeat["frequency"], repeat["monetary_value"])
clock = lap("fit_gamma_gamma", clock)
if "--predict" in sys.argv:
    f, r, t = summary["frequency"], summary["recency"], summary["T"]
    expected = bgf.conditional_expected_number_of_purchases_up_to_time(365, f, r, t)
    alive = bgf.conditional_probability_alive(f, r, t)
    clv = ggf.customer_lifetime_value(
        bgf, f, r, t, summary["monetary_value"], time=12, freq="D", discount_rate=0.0079
    )
    clock = lap("predict", clock)
steps["total"] = round(time.perf_counter() - started, 3)
print(json.dumps({"customers": len(summary), "steps": steps, "r": float(bgf.params_["r"])}))
