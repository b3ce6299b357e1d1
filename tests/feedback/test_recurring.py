from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.feedback.helpers import make_survey
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.feedback import complaints, recurring, service
from wafa.feedback.models import Complaint, ComplaintChannel
from wafa.feedback.schemas import ComplaintCreate
from wafa.messaging.models import Message

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def history(
    session: Session, customer_id: uuid.UUID, product: str, *, baseline: int, window: int
) -> None:
    """``baseline`` complaints spread over the 112 days before the window, ``window`` over its 28."""
    for count, start, days in (
        (baseline, NOW - timedelta(days=140), 112),
        (window, NOW - timedelta(days=28), 28),
    ):
        for i in range(count):
            at = start + timedelta(days=days * (i + 0.5) / count)
            session.add(
                Complaint(
                    id=new_id(),
                    kind="complaint",
                    customer_id=customer_id,
                    category="quality",
                    severity="normal",
                    channel="dashboard",
                    status="new",
                    text="cold",
                    product=product,
                    created_at=at,
                    updated_at=at,
                    paused_seconds=0,
                    first_response_due_at=at,
                    resolution_due_at=at,
                )
            )
    session.flush()


class TestDetection:
    def test_a_doubled_rate_is_flagged_a_wobble_is_not(
        self, session: Session, settings: Settings
    ) -> None:
        customer = create_customer(session)
        history(session, customer.id, "latte", baseline=60, window=30)
        history(session, customer.id, "tea", baseline=60, window=18)
        flags = {
            f.value: f
            for f in recurring.detect(session, settings=settings, now=NOW)
            if f.dimension == "product"
        }
        assert flags["latte"].flagged and flags["latte"].p_value < 0.01
        assert not flags["tea"].flagged and flags["tea"].p_value > 0.2
        assert flags["latte"].rate == 1.07  # 30 in 28 days: no sales, so per day

    def test_p_value_is_the_conditional_binomial(self) -> None:
        assert recurring.p_value(0, 10, 1, 4) == 1.0
        assert 0.002 < recurring.p_value(30, 60, 28, 112) < 0.0021


class TestTextGroups:
    def test_arabic_and_persian_letter_forms_group_together(self) -> None:
        texts = [
            ("1", "قهوه سرد بود"),
            ("2", "قهوه سرد بود!"),  # same words
            ("3", "قهوه\u200cی سرد رسید"),  # a zero-width non-joiner
            ("4", "كيك خراب بود"),  # Arabic kaf and yeh
            ("5", "کیک خراب بود"),  # Persian kaf and yeh
            ("6", "The delivery was late"),
        ]
        groups = recurring.group_texts(texts)
        ids = [set(g.ids) for g in groups]
        assert {"4", "5"} in ids
        assert any({"1", "2"} <= g for g in ids)
        assert {"6"} in ids


class TestReports:
    def test_response_times_in_business_hours(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        customer = create_customer(session)
        clock.set(datetime(2026, 7, 7, 9, 0, tzinfo=UTC))  # a Tuesday
        made = []
        for _ in range(3):
            made.append(
                complaints.file_complaint(
                    session,
                    settings=settings,
                    channel=ComplaintChannel.dashboard,
                    by="t",
                    data=ComplaintCreate(customer_id=customer.id, category="quality", text="x"),
                )
            )
        for hours, complaint in zip((1, 2, 4), made, strict=True):
            clock.set(datetime(2026, 7, 7, 9, 0, tzinfo=UTC) + timedelta(hours=hours))
            complaints.reply(
                session, settings=settings, complaint_id=complaint.id, text="on it", by="m"
            )
        times = complaints.response_times(
            session, settings=settings, since=datetime(2026, 7, 1, tzinfo=UTC)
        )
        assert times["first_response"] == {"median": 2.0, "p90": 3.6, "count": 3}
        assert times["resolution"]["count"] == 0


class TestPromoters:
    def test_a_promoter_gets_their_referral_link_once(
        self, session: Session, settings: Settings
    ) -> None:
        survey = make_survey(session)
        customer = create_customer(session)
        for score in (10, 9):
            service.answer(
                session,
                settings=settings,
                survey_id=survey.id,
                customer_id=customer.id,
                occasion="o",
                score=score,
            )
        sent = session.scalars(select(Message).where(Message.reason == "feedback.promoter")).all()
        assert len(sent) == 1 and sent[0].kind == "marketing" and sent[0].topic == "loyalty"
