"""What feedback's screens share (the dashboard's and the portal's): the labels of its
slugs, the words for a refused file."""

from __future__ import annotations

from typing import Any

from wafa.feedback import attachments, texts
from wafa.feedback.policy import Policy
from wafa.web.i18n import N_


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


def refusal(exc: attachments.AttachmentRefused) -> str:
    """The page's words (a msgid) for why a file was refused."""
    message = exc.errors[0][1] if exc.errors else ""
    if isinstance(exc, attachments.AttachmentTooLarge):
        return N_("%(name)s is larger than %(mb)s MB.")
    if message.startswith("HEIC"):
        return N_("%(name)s is a HEIC photo: send it as JPEG.")
    if "at most" in message:
        return N_("A complaint holds at most %(count)s files.")
    if "could not be read" in message or "megapixels" in message:
        return N_("%(name)s could not be read as a photo.")
    return N_("%(name)s is not a photo (JPEG, PNG, WebP) or a PDF.")


def refused_params(
    exc: attachments.AttachmentRefused, uploads: list[attachments.Upload]
) -> dict[str, Any]:
    """The values ``refusal``'s words name: the refused file (by its place), the limits."""
    loc = exc.errors[0][0] if exc.errors else ()
    index = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    name = (uploads[index].filename if index is not None else None) or ""
    return {
        "name": name or "—",
        "mb": attachments.MAX_BYTES // (1024 * 1024),
        "count": attachments.MAX_FILES,
    }
