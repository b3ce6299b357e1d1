"""Feedback's pages: the public answer page behind a survey link (``/s/<token>``).

``PAGES`` declares them for the assembly; dashboard screens join as they are built.
"""

from __future__ import annotations

from wafa.feedback.web import answer
from wafa.web.pages import Pages

PAGES = Pages(routers=(answer.router,))
