"""RFM scoring, cohorts, recommendations and the holdout arithmetic, on small arrays."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from scipy import sparse

from tests.analytics.helpers import cdnow_calibration, needs_cdnow
from wafa.analytics import recommend, rfm
from wafa.analytics.cohorts import CohortMatrix, month_table, occasion_cohorts
from wafa.analytics.fitting import FitSettings, fit_models
from wafa.analytics.holdout import NAIVE, HoldoutData, evaluate
from wafa.analytics.recommend import (
    HitRate,
    ItemSimilarity,
    _hits,
    evaluate_and_fit,
    evaluate_hit_rate,
    list_length,
    owned_matrix,
    sign_test_p_value,
)
from wafa.analytics.retention import ActivityThresholds, gap_distribution
from wafa.analytics.summary import Occasions, day_number
from wafa.core.settings import CalendarKind


class TestQuantileScore:
    def test_ties_share_a_score_and_the_best_reach_five(self) -> None:
        # 60% bought once: every one of them scores 1, not spread over 1-3.
        purchases = np.array([1] * 6 + [2, 2, 3, 9])
        assert rfm.quantile_score(purchases).tolist() == [1] * 6 + [4, 4, 5, 5]

    def test_recency_scores_recent_customers_highest(self) -> None:
        days = np.array([400, 3, 90, 30, 200])
        assert rfm.quantile_score(days, higher_is_better=False).tolist() == [1, 5, 3, 4, 2]

    def test_thresholds_name_the_value_reaching_each_score(self) -> None:
        purchases = np.array([1] * 6 + [2, 2, 3, 9])
        assert rfm.thresholds(purchases) == [2.0, 2.0, 2.0, 3.0]


class TestSegments:
    @pytest.mark.parametrize(
        ("r", "f", "m", "segment"),
        [
            (5, 5, 5, "champions"),
            (5, 1, 1, "new"),
            (4, 1, 1, "promising"),
            (1, 5, 5, "cannot_lose"),
            (1, 1, 1, "lost"),
            (2, 3, 3, "at_risk"),
            (3, 3, 3, "need_attention"),
            (3, 5, 4, "loyal"),
            (2, 1, 2, "hibernating"),
            (3, 1, 2, "about_to_sleep"),
            (5, 2, 3, "potential_loyalists"),
        ],
    )
    def test_the_map(self, r: int, f: int, m: int, segment: str) -> None:
        codes = rfm.segment_codes(np.array([r]), np.array([f]), np.array([m]))
        assert rfm.segment_names(codes).tolist() == [segment]

    def test_every_segment_has_advice_and_appears_on_the_map(self) -> None:
        on_map = {rfm.segment_key(r, fm) for r in range(1, 6) for fm in range(1, 6)}
        assert on_map == set(rfm.SEGMENT_KEYS) and len(rfm.SEGMENTS) == 11
        assert all(s.action and s.description for s in rfm.SEGMENTS)

    def test_table_sums_to_the_whole(self) -> None:
        codes = np.array([0, 0, 3, 10])
        table = rfm.segment_table(codes, np.array([100, 50, 10, 0]))
        assert sum(t["customers"] for t in table) == 4
        assert sum(t["revenue"] for t in table) == 160
        assert table[0]["key"] == "champions" and table[0]["revenue_share"] == 150 / 160


class TestCohorts:
    def test_jalali_months_start_on_the_first_of_farvardin(self) -> None:
        start = day_number(dt.date(2025, 3, 19))
        _, keys = month_table(start, start + 3, CalendarKind.jalali)
        # 2025-03-21 is 1 Farvardin 1404.
        assert keys.tolist() == [1403 * 12 + 11, 1403 * 12 + 11, 1404 * 12, 1404 * 12]

    def test_a_customer_counts_once_per_month(self) -> None:
        base = day_number(dt.date(2025, 1, 1))
        occasions = Occasions(
            code=np.array([0, 0, 0, 1]),
            day=np.array([base, base + 3, base + 40, base + 45]),
            value=np.array([100, 200, 300, 50]),
        )
        first_day = np.array([base, base + 45])
        matrix = occasion_cohorts(
            occasions,
            first_day,
            calendar=CalendarKind.gregorian,
            start_day=base,
            as_of_day=base + 50,
        ).to_dict()
        jan, feb = matrix["cohorts"]
        assert (jan["month"], jan["customers"], jan["revenue"]) == ("2025-01", [1, 1], [300, 300])
        assert (feb["month"], feb["customers"], feb["retention"]) == ("2025-02", [1], [1.0])
        split = matrix["returning_revenue_by_month"]
        assert [(m["new"], m["returning"]) for m in split] == [(300, 0), (50, 300)]

    def test_an_empty_matrix(self) -> None:
        assert CohortMatrix.from_rows([], 10, CalendarKind.gregorian).to_dict()["cohorts"] == []


class TestActivityThresholds:
    def test_learned_from_the_gaps(self) -> None:
        gaps = np.arange(1, 101)
        thresholds = ActivityThresholds.from_gaps(gap_distribution(gaps, np.ones(100, int)))
        assert (thresholds.active_days, thresholds.lapsed_days, thresholds.basis) == (
            80,
            160,
            "learned",
        )

    def test_default_without_enough_repeat_purchases(self) -> None:
        thresholds = ActivityThresholds.from_gaps(gap_distribution(np.array([5]), np.array([3])))
        assert (thresholds.active_days, thresholds.basis) == (90, "default")


class TestRecommendations:
    def test_co_purchase_similarity_and_also_bought(self) -> None:
        # Tea and cups go together; biscuits with cake.
        customers = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4])
        items = np.array([0, 1, 0, 1, 2, 3, 2, 3, 0])
        model = ItemSimilarity().fit(owned_matrix(customers, items, 5, 4))
        assert model.popularity_.tolist() == [3, 2, 2, 2]
        assert [j for j, _, _ in model.also_bought(0)] == [1]
        neighbour, score, both = model.also_bought(2)[0]
        assert (neighbour, both) == (3, 2) and score == pytest.approx(1.0)

    def test_a_non_repeatable_product_owned_is_never_recommended(self) -> None:
        customers = np.array([0, 0, 1, 1, 2])
        items = np.array([0, 1, 0, 1, 0])
        model = ItemSimilarity().fit(owned_matrix(customers, items, 3, 3))
        owned = owned_matrix(np.array([0, 0]), np.array([0, 2]), 1, 3)
        repeatable = np.array([True, True, False])
        recs = model.recommend(owned, n=3, repeatable=repeatable)[0].tolist()
        assert 2 not in recs and recs[0] == 1
        assert 2 in model.recommend(owned, n=3)[0].tolist()  # when it is repeatable

    def test_inactive_products_are_never_recommended(self) -> None:
        customers = np.array([0, 0, 1, 1])
        items = np.array([0, 1, 0, 1])
        model = ItemSimilarity().fit(owned_matrix(customers, items, 2, 2))
        owned = owned_matrix(np.array([0]), np.array([0]), 1, 2)
        recs = model.recommend(owned, n=2, available=np.array([True, False]))[0].tolist()
        assert 1 not in recs

    def test_hits_count_rows_with_any_wanted_product_ignoring_padding(self) -> None:
        truth = owned_matrix(np.array([0, 1, 2]), np.array([3, 0, 1]), 4, 5)
        recommended = np.array([[1, 3], [2, -1], [-1, -1], [0, 4]])
        # Row 0 finds 3; row 1 wants 0 (not shown); row 2 shows nothing; row 3 wants nothing.
        assert _hits(recommended, truth).mean() == pytest.approx(0.25)
        assert _hits(np.zeros((0, 2), dtype=np.int64), truth[:0]).size == 0

    def test_hit_rate_against_the_most_popular(self) -> None:
        rng = np.random.default_rng(1)
        rows = []
        for c in range(400):
            pair = int(rng.integers(0, 5))
            if c < 200:  # bought the pair (2k, 2k+1) together, once
                rows += [(c, 2 * pair, True, False), (c, 2 * pair + 1, True, False)]
            else:  # bought 2k first and 2k+1 on their last visit
                rows += [(c, 2 * pair, True, False), (c, 2 * pair + 1, False, True)]
        arr = np.array(rows, dtype=np.int64)
        quality = evaluate_hit_rate(
            arr[:, 0],
            arr[:, 1],
            arr[:, 2].astype(bool),
            arr[:, 3].astype(bool),
            n_customers=400,
            n_items=10,
            k=1,
        )
        assert quality.customers == 200
        # The pair is learned from the first 200 customers: the partner comes first.
        assert quality.hit_rate == pytest.approx(1.0)
        assert quality.baseline_hit_rate < 0.35

    @pytest.mark.parametrize("neither", [0, 300])
    def test_evaluating_and_fitting_at_once_gives_the_two_steps_results(self, neither: int) -> None:
        """Rows in the history, in the last occasion, in both and (``neither``) in none."""
        rng = np.random.default_rng(5)
        n = 6_000
        customers = rng.integers(0, 700, n)
        items = rng.integers(0, 40, n)
        in_train = rng.random(n) < 0.7
        in_last = ~in_train | (rng.random(n) < 0.1)
        in_last[:neither] = in_train[:neither] = False
        repeatable = rng.random(40) < 0.5
        rows = (customers, items, in_train, in_last)
        options: dict[str, Any] = {"n_customers": 700, "n_items": 40, "n_neighbours": 7}
        quality, model = evaluate_and_fit(*rows, repeatable=repeatable, **options)
        assert quality == evaluate_hit_rate(*rows, repeatable=repeatable, **options)
        alone = ItemSimilarity(7).fit(owned_matrix(customers, items, 700, 40))
        assert quality.customers > 100
        assert np.array_equal(model.popularity_, alone.popularity_)
        for fitted in ("neighbours_", "co_counts_"):
            mine, theirs = getattr(model, fitted), getattr(alone, fitted)
            assert (mine != theirs).nnz == 0 and mine.nnz == theirs.nnz


@needs_cdnow
class TestHoldout:
    def test_naive_baseline_repeats_the_past_rate(self) -> None:
        cal = cdnow_calibration()
        fitted = fit_models(cal, FitSettings(money_scale=100.0))
        actual = np.zeros(cal.frequency.shape[0], dtype=np.int64)
        data = HoldoutData(
            days=70,
            actual=actual,
            daily=np.zeros(70, dtype=np.int64),
            last_period=np.zeros_like(actual),
        )
        report = evaluate(
            fitted, cal, data, thresholds=ActivityThresholds(90, 180, "default")
        ).report
        rate = np.divide(cal.frequency, cal.T, out=np.zeros_like(cal.T), where=cal.T > 0)
        assert report["models"][NAIVE]["predicted_repeat_purchases"] == pytest.approx(
            float(rate.sum() * 10)
        )
        assert len(report["tracking"]) == 10 and report["tracking"][-1]["day"] == 70
        assert report["tracking"][-1][NAIVE] == pytest.approx(float(rate.sum() * 10))


class TestRecommendationCheck:
    def test_the_list_length_follows_the_catalogue(self) -> None:
        assert [list_length(n) for n in (3, 12, 60, 500)] == [1, 1, 6, 10]

    def test_a_list_covering_half_the_catalogue_cannot_tell(self) -> None:
        verdict, why = HitRate(3, 500, 0.9, 0.88, 40, 30, catalogue=6).verdict
        assert verdict == "cannot_tell" and "half" in why

    def test_few_disagreements_cannot_tell(self) -> None:
        assert HitRate(5, 300, 0.41, 0.4, 5, 3, catalogue=60).verdict[0] == "cannot_tell"

    def test_a_clear_difference_is_named(self) -> None:
        assert HitRate(5, 300, 0.6, 0.3, 90, 10, catalogue=60).verdict[0] == "better"
        assert HitRate(5, 300, 0.3, 0.31, 30, 32, catalogue=60).verdict[0] == "no_difference"

    def test_the_sign_test_is_scipys_binomial_test(self) -> None:
        from scipy import stats

        for n in [*range(1, 120), 1001, 50_000]:
            for k in range(0, n + 1, max(1, n // 150)):
                expected = stats.binomtest(k, n, 0.5, alternative="two-sided").pvalue
                assert sign_test_p_value(k, n) == pytest.approx(expected, rel=1e-9, abs=1e-12)


class TestCoPurchaseCounts:
    """A small catalogue's co-purchases are counted on bit columns: the same model, to the
    bit and in the same order, as the sparse product ``X^T X``."""

    def test_bit_columns_fit_what_the_sparse_product_fits(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        rng = np.random.default_rng(11)
        for _ in range(80):
            n_customers, n_items = int(rng.integers(1, 700)), int(rng.integers(1, 70))
            size = int(rng.integers(0, 4000))
            # Some products bought by nobody, some customers with nothing.
            customers = rng.integers(0, n_customers, size)
            items = rng.integers(0, max(1, n_items // int(rng.integers(1, 4))), size)
            owned = owned_matrix(customers, items, n_customers, n_items)
            k = int(rng.integers(1, 12))
            with monkeypatch.context() as m:
                m.setattr(recommend, "BIT_COLUMNS_MAX_BYTES", 0)
                sparse_model = ItemSimilarity(k).fit(owned)
            bits_model = ItemSimilarity(k).fit(owned)
            assert np.array_equal(bits_model.popularity_, sparse_model.popularity_)
            for name in ("neighbours_", "co_counts_"):
                got, want = getattr(bits_model, name), getattr(sparse_model, name)
                for part in ("indptr", "indices", "data"):
                    assert np.array_equal(getattr(got, part), getattr(want, part)), name

    def test_the_counts_of_a_small_catalogue(self) -> None:
        owned = owned_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 0, 1, 2]), 3, 3)
        popularity, row, col, both = recommend._co_purchases(owned)
        assert popularity.tolist() == [2.0, 3.0, 1.0]
        assert list(zip(row.tolist(), col.tolist(), both.tolist(), strict=True)) == [
            (0, 1, 2.0),
            (0, 2, 1.0),
            (1, 0, 2.0),
            (1, 2, 1.0),
            (2, 0, 1.0),
            (2, 1, 1.0),
        ]


class TestRankingWays:
    def test_dense_ranking_gives_the_lists_of_one_sort(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Ties in score (equal similarities) keep product-code order both ways."""
        rng = np.random.default_rng(5)
        for _ in range(150):
            n_customers, n_items = int(rng.integers(1, 300)), int(rng.integers(2, 40))
            size = int(rng.integers(0, n_customers * 4 + 1))
            owned = owned_matrix(
                rng.integers(0, n_customers, size),
                rng.integers(0, n_items, size),
                n_customers,
                n_items,
            )
            model = ItemSimilarity(int(rng.integers(1, 8))).fit(owned)
            n = int(rng.integers(1, n_items + 5))
            repeatable = rng.random(n_items) < 0.7
            available = rng.random(n_items) < 0.9
            dense = model.recommend(owned, n=n, repeatable=repeatable, available=available)
            with monkeypatch.context() as m:
                m.setattr(recommend, "DENSE_RANKING_MAX_CELLS", 0)
                one_sort = model.recommend(owned, n=n, repeatable=repeatable, available=available)
            assert np.array_equal(dense, one_sort)


class TestRecommendationsAtOnce:
    """The whole matrix is ranked at once: the same lists a customer-by-customer loop gives."""

    @pytest.mark.parametrize("dense", [True, False])
    def test_each_row_matches_a_loop_over_customers(
        self, dense: bool, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        if not dense:  # every row in one sort of all scores (a large matrix's way)
            monkeypatch.setattr(recommend, "DENSE_RANKING_MAX_CELLS", 0)
        rng = np.random.default_rng(7)
        for _ in range(60):
            n_customers, n_items = int(rng.integers(1, 40)), int(rng.integers(2, 20))
            size = int(rng.integers(0, n_customers * n_items // 2 + 1))
            rows, cols = rng.integers(0, n_customers, size), rng.integers(0, n_items, size)
            owned = sparse.csr_matrix((np.ones(size), (rows, cols)), shape=(n_customers, n_items))
            owned.data[:] = 1
            n = int(rng.integers(1, 6))
            repeatable = rng.random(n_items) < 0.6
            available = rng.random(n_items) < 0.8
            model = ItemSimilarity(5).fit(owned)
            got = model.recommend(owned, n=n, repeatable=repeatable, available=available)
            scores = (sparse.csr_matrix(owned, dtype=float) @ model.neighbours_).toarray()
            popular = [
                int(p) for p in np.argsort(-model.popularity_, kind="stable") if available[p]
            ]
            for row in range(n_customers):
                mine = set(owned.indices[owned.indptr[row] : owned.indptr[row + 1]].tolist())
                blocked = {i for i in mine if not repeatable[i]}
                scored = [
                    i
                    for i in range(n_items)
                    if scores[row, i] and available[i] and i not in blocked
                ]
                want = sorted(scored, key=lambda i: (-scores[row, i], i))[:n]
                want += [p for p in popular if p not in want and p not in blocked][: n - len(want)]
                assert got[row].tolist() == want + [-1] * (n - len(want))
