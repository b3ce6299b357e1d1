"""``wafa doctor``: what a merge gone wrong leaves behind, found across the domains.

A merge folds one record into another and leaves a tombstone pointing at the survivor.
Three things must then hold: following the pointers always ends at a live record (no
loop), no order stays on a tombstone, and no points stay on one once its loyalty account
was folded into the survivor's. Each domain answers for its own tables; this module
only asks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from wafa.customers import records as customer_records
from wafa.loyalty import queries as loyalty
from wafa.orders import queries as orders


@dataclass
class Diagnosis:
    """``problems``: what is wrong and needs a person; ``notes``: what will settle by itself."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """No problem found (notes allowed)."""
        return not self.problems


def diagnose(session: Session) -> Diagnosis:
    """Look for merge cycles and for orders or points stranded on merged records."""
    found = Diagnosis()
    for cycle in customer_records.merge_cycles(session):
        loop = " → ".join(str(c) for c in [*cycle, cycle[0]])
        found.problems.append(f"merge cycle (no live record left): {loop}")
    for customer_id, count in orders.orders_on_merged_records(session):
        found.problems.append(f"{count} orders stranded on merged record {customer_id}")
    for customer_id, points, closed in loyalty.points_on_merged_records(session):
        if closed:
            found.problems.append(f"{points} points stranded on merged record {customer_id}")
        else:
            found.notes.append(
                f"loyalty account of merged record {customer_id} not folded yet "
                "(the worker moves it when it handles customer.merged)"
            )
    return found
