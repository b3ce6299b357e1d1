"""The simulators, and why a day-by-day simulation once seemed to shift r and alpha."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from wafa.analytics.models import BetaGeoModel
from wafa.analytics.models.simulate import simulate_bgnbd, simulate_pareto_nbd

CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
R, ALPHA, A, B = CDNOW.values()
FloatArray = npt.NDArray[np.float64]


def purchase_times(n: int, seed: int) -> list[FloatArray]:
    """Each customer's purchase times (weeks) in a 39-week calibration, as BG/NBD says.

    First purchases spread over the first 12 weeks (as CDNOW's cohort); then a Poisson
    process with rate lambda, leaving after each repeat purchase with probability p.
    """
    rng = np.random.default_rng(seed)
    first = rng.uniform(0, 12, n)
    lam = rng.gamma(CDNOW["r"], 1 / CDNOW["alpha"], n)
    p = rng.beta(CDNOW["a"], CDNOW["b"], n)
    out = []
    for i in range(n):
        times = [first[i]]
        t = first[i]
        while True:
            t += rng.exponential(1 / lam[i])
            if t >= 39:
                break
            times.append(t)
            if rng.random() < p[i]:
                break
        out.append(np.array(times))
    return out


def summary(histories: list[FloatArray], *, by_day: bool) -> tuple[FloatArray, ...]:
    x, t_x, big_t = [], [], []
    for times in histories:
        if by_day:  # purchases on one calendar day are one occasion, as Wafa counts them
            day = np.floor(times * 7)
            times = times[np.r_[True, day[1:] != day[:-1]]]
        x.append(len(times) - 1)
        t_x.append(times[-1] - times[0])
        big_t.append(39 - times[0])
    return np.array(x, dtype=float), np.array(t_x), np.array(big_t)


def log_z(model: BetaGeoModel) -> FloatArray:
    names = ("r", "alpha", "a", "b")
    est = np.array([getattr(model.params_, k) for k in names])
    se = np.array([getattr(model.standard_errors_, k) for k in names])
    return np.asarray((np.log(est) - np.log([CDNOW[k] for k in names])) / (se / est))


class TestPurchaseDays:
    def test_merging_same_day_purchases_moves_r_and_alpha_up(self) -> None:
        # 20 stores of 2,000 CDNOW-like customers: fitted on every purchase, r and alpha
        # are recovered; fitted on purchase days (two purchases on a day are one), both
        # come out about half a standard error higher: the heaviest buyers' same-day
        # purchases are merged, so customers look more alike. Wafa counts purchase days
        # on purpose (as CDNOW does), and forecasts and checks purchase days too.
        every, days = [], []
        for seed in range(20):
            histories = purchase_times(2000, seed)
            every.append(log_z(BetaGeoModel().fit(*summary(histories, by_day=False))))
            days.append(log_z(BetaGeoModel().fit(*summary(histories, by_day=True))))
        shift_every = np.mean(every, axis=0)
        shift_days = np.mean(days, axis=0)
        assert np.all(np.abs(shift_every[:2]) < 0.25)
        assert np.all(shift_days[:2] > 0.3)
        assert np.all(shift_days[:2] - shift_every[:2] > 0.3)


class TestHoldout:
    def test_bgnbd_holdout_purchases_have_the_models_mean(self) -> None:
        d = simulate_bgnbd(
            60_000, r=R, alpha=ALPHA, a=A, b=B, holdout=39.0, resolution=None, random_state=4
        )
        model = BetaGeoModel().fit(d.frequency, d.recency, d.T)
        expected = model.expected_purchases(39.0, d.frequency, d.recency, d.T).sum()
        assert abs(expected / d.holdout_frequency.sum() - 1) < 0.03

    def test_pareto_holdout_is_zero_without_a_window_and_counts_with_one(self) -> None:
        none = simulate_pareto_nbd(500, r=0.5, alpha=8, s=0.6, beta=10, random_state=2)
        assert not none.holdout_frequency.any()
        some = simulate_pareto_nbd(500, r=0.5, alpha=8, s=0.6, beta=10, holdout=20, random_state=2)
        np.testing.assert_array_equal(some.frequency, none.frequency)
        assert some.holdout_frequency.sum() > 0
