from __future__ import annotations

import pytest

from wafa.feedback import scoring


class TestNps:
    def test_hand_made_set(self) -> None:
        # 5 promoters, 3 passives, 2 detractors of 10: 50% - 20% = 30.
        figures = scoring.score("nps", [10, 9, 9, 10, 9, 8, 7, 7, 6, 0])
        assert (figures.promoters, figures.passives, figures.detractors) == (5, 3, 2)
        assert figures.nps == 30

    def test_all_detractors_is_minus_100(self) -> None:
        assert scoring.score("nps", [0, 3, 6]).nps == -100

    def test_all_promoters_is_plus_100(self) -> None:
        assert scoring.score("nps", [9, 10]).nps == 100

    def test_rounds_half_away_from_zero(self) -> None:
        # 1 promoter in 8: 12.5 -> 13; 1 detractor in 8: -12.5 -> -13.
        assert scoring.score("nps", [9, 7, 7, 7, 7, 7, 7, 7]).nps == 13
        assert scoring.score("nps", [6, 7, 7, 7, 7, 7, 7, 7]).nps == -13

    def test_boundaries(self) -> None:
        assert [scoring.nps_group(s) for s in (6, 7, 8, 9)] == [
            "detractor",
            "passive",
            "passive",
            "promoter",
        ]

    def test_no_answers_no_score(self) -> None:
        assert scoring.score("nps", []).nps is None


class TestCsat:
    def test_share_of_four_and_five(self) -> None:
        # 3 of 4 answers are 4 or 5: 75%.
        figures = scoring.score("csat", [5, 4, 4, 3])
        assert figures.satisfied == 3
        assert figures.score == 75
        assert figures.nps is None

    def test_one_third(self) -> None:
        assert scoring.score("csat", [5, 1, 2]).score == 33


class TestCes:
    def test_share_of_easy(self) -> None:
        assert scoring.score("ces", [7, 5, 4, 1]).score == 50


@pytest.mark.parametrize(
    ("kind", "value", "unhappy"),
    [("nps", 6, True), ("nps", 7, False), ("csat", 2, True), ("csat", 3, False)],
)
def test_unhappy(kind: str, value: int, unhappy: bool) -> None:
    assert scoring.is_unhappy(kind, value) is unhappy
