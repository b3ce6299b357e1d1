"""Survey arithmetic, exactly as the field defines it (pure functions, no database).

* NPS (0–10): promoters answer 9–10, passives 7–8, detractors 0–6.
  NPS = % promoters − % detractors, an integer from −100 to +100.
* CSAT (1–5): the share of answers that are 4 or 5, in percent.
* CES (1–7, "how easy was it"): the share of answers 5–7 ("easy"), in percent, and the mean.

Percentages are rounded half away from zero with integer arithmetic (no float drift:
1 promoter in 8 answers is 12.5 -> 13, and −12.5 -> −13).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from wafa.feedback.models import SurveyKind

SCALES: dict[str, tuple[int, int]] = {
    SurveyKind.nps: (0, 10),
    SurveyKind.csat: (1, 5),
    SurveyKind.ces: (1, 7),
}


def percent(part: int, whole: int) -> int:
    """``100 * part / whole`` rounded half away from zero (``whole`` > 0)."""
    numerator = 100 * part
    sign = -1 if numerator < 0 else 1
    quotient, remainder = divmod(abs(numerator), whole)
    return sign * (quotient + (1 if 2 * remainder >= whole else 0))


def nps_group(score: int) -> str:
    """``promoter`` (9–10), ``passive`` (7–8) or ``detractor`` (0–6)."""
    if score >= 9:
        return "promoter"
    if score >= 7:
        return "passive"
    return "detractor"


@dataclass(frozen=True)
class Score:
    """The figures of a set of answers of one kind (``score`` is ``None`` for no answers)."""

    kind: str
    responses: int
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    satisfied: int = 0  # CSAT 4–5, CES 5–7
    score: int | None = None  # NPS, CSAT % or CES %
    mean: float | None = None

    @property
    def nps(self) -> int | None:
        """The NPS (for NPS surveys)."""
        return self.score if self.kind == SurveyKind.nps else None


def score(kind: str, answers: Iterable[int]) -> Score:
    """The figures of ``answers`` for a survey of ``kind``."""
    values = list(answers)
    n = len(values)
    mean = round(sum(values) / n, 2) if n else None
    if kind == SurveyKind.nps:
        promoters = sum(1 for v in values if v >= 9)
        detractors = sum(1 for v in values if v <= 6)
        return Score(
            kind=kind,
            responses=n,
            promoters=promoters,
            passives=n - promoters - detractors,
            detractors=detractors,
            score=percent(promoters - detractors, n) if n else None,
            mean=mean,
        )
    threshold = 4 if kind == SurveyKind.csat else 5
    satisfied = sum(1 for v in values if v >= threshold)
    return Score(
        kind=kind,
        responses=n,
        satisfied=satisfied,
        score=percent(satisfied, n) if n else None,
        mean=mean,
    )


def is_unhappy(kind: str, value: int) -> bool:
    """A detractor (NPS 0–6), a CSAT of 1–2 or a CES of 1–3: the answer that opens a complaint."""
    if kind == SurveyKind.nps:
        return value <= 6
    if kind == SurveyKind.csat:
        return value <= 2
    return value <= 3
