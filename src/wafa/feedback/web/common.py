"""What feedback's dashboard screens share: the labels of its slugs."""

from __future__ import annotations

from typing import Any

from wafa.feedback import texts
from wafa.feedback.policy import Policy


def labels(policy: Policy | None = None) -> dict[str, Any]:
    """Categories (the policy's list, known ones translated), severities, statuses, channels."""
    categories = {
        c: texts.CATEGORIES.get(c, c) for c in (policy.categories if policy else texts.CATEGORIES)
    }
    return {
        "categories": categories,
        "severities": texts.SEVERITIES,
        "statuses": texts.STATUSES,
        "channels": texts.CHANNELS,
        "alerts": texts.ALERTS,
    }
