"""The inbox's text search on PostgreSQL can read the trigram index its migration makes
(pg_trgm, GIN on ``complaints.search_text``); SQLite has no such index and searches the same."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.factories import create_customer
from wafa.core.settings import Settings
from wafa.feedback import complaints
from wafa.feedback.models import SEARCH_TRIGRAM_INDEX, ComplaintChannel
from wafa.feedback.schemas import ComplaintCreate


def _indexes(session: Session) -> set[str]:
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text("SELECT indexname FROM pg_indexes WHERE tablename = 'complaints'")
        )
    else:
        rows = session.execute(text("SELECT name FROM sqlite_master WHERE tbl_name = 'complaints'"))
    return {r[0] for r in rows}


def test_search_reads_the_trigram_index_on_postgresql_only(
    session: Session, settings: Settings
) -> None:
    customer = create_customer(session)
    for words in ("The coffee arrived cold", "کیک خشک بود", "Rude barista"):
        complaints.file_complaint(
            session,
            settings=settings,
            data=ComplaintCreate(customer_id=customer.id, category="quality", text=words),
            channel=ComplaintChannel.dashboard,
            by="test",
        )
    session.flush()
    found = complaints.list_complaints(session, q="كيك")  # Arabic kaf and yeh find Persian
    assert [c.text for c in found] == ["کیک خشک بود"]
    assert complaints.list_complaints(session, q="nothing like this") == []
    if session.get_bind().dialect.name != "postgresql":
        assert SEARCH_TRIGRAM_INDEX not in _indexes(session)
        return
    assert SEARCH_TRIGRAM_INDEX in _indexes(session)
    query = complaints.complaints_query(q="nothing like this").limit(50)
    compiled = query.compile(dialect=session.get_bind().dialect)
    # A handful of rows: the planner would read them all. Forbid plain reads to see that
    # the statement's shape (words bound as a parameter, ESCAPE) can use the index at all.
    session.execute(text("SET LOCAL enable_seqscan = off"))
    session.execute(text("SET LOCAL enable_indexscan = off"))
    # The statement as the service sends it: the words as a bound parameter.
    cursor = session.connection().connection.cursor()
    cursor.execute(f"EXPLAIN {compiled}", compiled.params)
    plan = "\n".join(r[0] for r in cursor.fetchall())
    assert SEARCH_TRIGRAM_INDEX in plan, plan


@pytest.mark.parametrize("needle", ["%", "_", "/"])
def test_like_wildcards_are_searched_as_letters(
    session: Session, settings: Settings, needle: str
) -> None:
    customer = create_customer(session)
    complaints.file_complaint(
        session,
        settings=settings,
        data=ComplaintCreate(customer_id=customer.id, category="quality", text="plain words"),
        channel=ComplaintChannel.dashboard,
        by="test",
    )
    session.flush()
    assert complaints.list_complaints(session, q=f"a{needle}b") == []
