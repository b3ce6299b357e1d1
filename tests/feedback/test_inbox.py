"""The complaints inbox: keyset pages that never repeat or skip, and a text search that
folds Arabic and Persian letter forms (yeh, kaf, diacritics, zero-width non-joiner)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.feedback.test_web import login
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.feedback import complaints
from wafa.feedback.models import ComplaintChannel
from wafa.feedback.schemas import ComplaintCreate


def file(session: Session, settings: Settings, customer_id: object, text: str, **more: str) -> str:
    made = complaints.file_complaint(
        session,
        settings=settings,
        data=ComplaintCreate.model_validate(
            {"customer_id": str(customer_id), "category": "quality", "text": text, **more}
        ),
        channel=ComplaintChannel.api,
        by="test",
    )
    return str(made.id)


ROW = re.compile(r'href="/feedback/complaints/[0-9a-f-]{36}"')


class TestSearch:
    def test_letter_forms_fold(self, api: TestClient, session: Session, settings: Settings) -> None:
        customer = create_customer(session)
        persian = file(session, settings, customer.id, "کیک خیلی خشک بود")  # Persian kaf, yeh
        arabic = file(session, settings, customer.id, "الكيك كان جافًا")  # Arabic kaf, yeh, tanwin
        zwnj = file(session, settings, customer.id, "قهوه\u200cی سرد", product="لاته")
        file(session, settings, customer.id, "Late delivery", location="North shop")
        session.flush()

        def ids(q: str) -> set[str]:
            body = api.get("/api/v1/complaints", params={"q": q}).json()
            return {item["id"] for item in body["items"]}

        assert ids("كيك") == {persian, arabic}  # typed with an Arabic keyboard
        assert ids("کیک") == {persian, arabic}  # typed with a Persian one
        assert ids("قهوه ی") == {zwnj}  # a space where the text has a zero-width non-joiner
        assert ids("قهوه\u200cی") == {zwnj}  # and the other way round
        assert ids("لاته") == {zwnj}  # the product
        assert ids("NORTH") != set() and ids("north shop") == ids("NORTH")
        assert ids("100%") == set()  # LIKE wildcards are literal
        assert ids("جافا") == {arabic}  # diacritics dropped


class TestPages:
    def test_pages_cover_every_complaint_once(
        self, api: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        customer = create_customer(session)
        filed = []
        for i in range(23):
            filed.append(file(session, settings, customer.id, f"complaint {i}"))
            if i % 5:
                clock.advance(minutes=1)  # some share an instant: the id breaks the tie
        session.flush()
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, str | int] = {"limit": 5, "customer_id": str(customer.id)}
            if cursor:
                params["cursor"] = cursor
            body = api.get("/api/v1/complaints", params=params).json()
            seen += [item["id"] for item in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == 5 and len(seen) == 23 and set(seen) == set(filed)
        assert api.get("/api/v1/complaints?cursor=nonsense").status_code == 422

    def test_the_inbox_pages_and_searches(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        login(client, session, Role.manager, "inbox@example.com")
        customer = create_customer(session)
        for i in range(55):
            file(session, settings, customer.id, "كيك" if i == 0 else f"late {i}")
            clock.advance(seconds=30)
        session.flush()
        first = client.get("/feedback/complaints")
        assert first.status_code == 200 and 'rel="next"' in first.text
        older = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
        second = client.get(older.replace("&amp;", "&"))
        assert second.status_code == 200 and 'rel="next"' not in second.text
        assert len(ROW.findall(second.text)) == 5  # 55 open complaints, 50 a page
        assert len(ROW.findall(first.text)) == 50
        found = client.get("/feedback/complaints", params={"q": "کیک"})
        assert found.status_code == 200 and len(ROW.findall(found.text)) == 1
