"""A partner's link: signed with its own purpose, opens until it expires or is revoked;
revoking ends the partner's sessions; archiving revokes."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.partners.helpers import partner
from wafa.core.settings import Settings
from wafa.partners import access, service
from wafa.portal import access as portal


def _token(url: str) -> str:
    return urlparse(url).path.rsplit("/", 1)[-1]


class TestLinks:
    def test_a_link_opens_more_than_once(self, session: Session, settings: Settings) -> None:
        p = partner(session, settings)
        token = _token(access.issue_link(session, settings=settings, partner_id=p.id).url)
        for _ in range(2):
            pid, secret = access.sign_in(session, settings=settings, token=token)
            assert pid == p.id
            found = access.session_partner(session, secret)
            assert found is not None and found.id == p.id

    def test_revoking_refuses_old_links_and_ends_sessions(
        self, session: Session, settings: Settings
    ) -> None:
        p = partner(session, settings)
        token = _token(access.issue_link(session, settings=settings, partner_id=p.id).url)
        _, secret = access.sign_in(session, settings=settings, token=token)
        access.revoke_links(session, partner_id=p.id)
        assert access.session_partner(session, secret) is None
        with pytest.raises(access.LinkGone):
            access.sign_in(session, settings=settings, token=token)
        fresh = _token(access.issue_link(session, settings=settings, partner_id=p.id).url)
        assert access.sign_in(session, settings=settings, token=fresh)[0] == p.id

    def test_an_expired_link_is_gone(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        p = partner(session, settings)
        token = _token(access.issue_link(session, settings=settings, partner_id=p.id).url)
        clock.advance(days=91)
        with pytest.raises(access.LinkGone):
            access.sign_in(session, settings=settings, token=token)

    def test_a_session_ends_with_its_link(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        p = partner(session, settings)
        link = access.issue_link(
            session, settings=settings, partner_id=p.id, ttl=access.SESSION_TTL / 3
        )
        _, secret = access.sign_in(session, settings=settings, token=_token(link.url))
        clock.advance(days=11)
        assert access.session_partner(session, secret) is None

    def test_a_customer_portal_token_does_not_open_a_partner_page(
        self, session: Session, settings: Settings
    ) -> None:
        customer = create_customer(session)
        token = _token(portal.issue_link(session, settings=settings, customer_id=customer.id).url)
        with pytest.raises(access.LinkRefused):
            access.sign_in(session, settings=settings, token=token)
        with pytest.raises(access.LinkRefused):
            access.sign_in(session, settings=settings, token=token[:-2] + "AA")

    def test_archiving_revokes(self, session: Session, settings: Settings) -> None:
        p = partner(session, settings)
        token = _token(access.issue_link(session, settings=settings, partner_id=p.id).url)
        _, secret = access.sign_in(session, settings=settings, token=token)
        service.archive_partner(session, partner_id=p.id)
        assert access.session_partner(session, secret) is None
        with pytest.raises(access.LinkGone):
            access.sign_in(session, settings=settings, token=token)


def test_the_hourly_cleanup_forgets_ended_sessions_and_old_misses(
    session: Session, settings: Settings, clock: FrozenClock
) -> None:
    p = partner(session, settings)
    token = _token(access.issue_link(session, settings=settings, partner_id=p.id).url)
    _, ended = access.sign_in(session, settings=settings, token=token)
    _, live = access.sign_in(session, settings=settings, token=token)
    access.end_session(session, ended)
    service.check_code(session, partner_id=p.id, code="NOPE", ip="x")
    clock.advance(minutes=16)
    assert service.prune(session) == {"partner_misses": 2, "partner_sessions": 1}
    assert access.session_partner(session, live) is not None
