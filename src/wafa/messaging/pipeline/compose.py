"""What a message says to one customer: the template rendered with their data, and the
one-click unsubscribe headers of a marketing email. The worker sends it; the template
preview shows it."""

from __future__ import annotations

from collections.abc import Mapping
from types import EllipsisType
from typing import Any

from sqlalchemy.orm import Session

from wafa.auth import business
from wafa.core.links import LinkSigner, public_link
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.messaging import personalize, rendering
from wafa.messaging.models import (
    Kind,
    MessageContent,
)

LIST_UNSUBSCRIBE_POST = "List-Unsubscribe=One-Click"
#: The unsubscribe path of a test copy: not a token, so the page says the link is not valid.
TEST_UNSUBSCRIBE = "u/test"


def compose(
    session: Session,
    settings: Settings,
    signer: LinkSigner,
    *,
    customer: Customer,
    content: MessageContent,
    channel: str,
    kind: str,
    topic: str | None,
    context: Mapping[str, Any],
    locale: str | None = None,
    test: bool = False,
    logo: str | EllipsisType | None = ...,
) -> tuple[rendering.Rendered, dict[str, str]]:
    """Render ``content`` for ``customer`` (what the worker sends and the preview shows),
    with the one-click unsubscribe headers of a marketing email.

    ``test``: for a copy sent to staff ("send a test to me"), the unsubscribe link and the
    portal link lead nowhere (``TEST_UNSUBSCRIBE``, the portal's front page) instead of
    acting for the customer whose data fills the text.

    ``logo``: the logo's URL when the caller read it already (``logo_url``; the worker
    reads it once per group, not once per message); left out, it is read here."""
    sources = [*content.subject.values(), *content.text.values(), *content.html.values()]
    needed = rendering.variables_used(sources)
    unsubscribe = None
    headers: dict[str, str] = {}
    if test:
        context = {**context, "portal_url": public_link(settings.public_url, "portal")}
    if kind == Kind.marketing:
        if test:
            unsubscribe = public_link(settings.public_url, TEST_UNSUBSCRIBE)
        else:
            token = personalize.unsubscribe_token(signer, customer.id, channel, topic)
            unsubscribe = personalize.unsubscribe_url(settings, token)
        if channel == "email":
            headers["List-Unsubscribe"] = f"<{unsubscribe}>"
            headers["List-Unsubscribe-Post"] = LIST_UNSUBSCRIBE_POST
    values = personalize.variables(
        session,
        settings=settings,
        signer=signer,
        customer=customer,
        needed=needed,
        unsubscribe=unsubscribe,
        extra=context,
    )
    rendered = rendering.render_message(
        channel=channel,
        kind=kind,
        subject=content.subject,
        text=content.text,
        html=content.html,
        wanted_locale=locale or customer.language,
        business_locale=str(settings.locale),
        context=values,
        business_name=settings.business_name,
        unsubscribe_url=unsubscribe,
        logo_url=logo_url(session, settings) if logo is ... else logo,
    )
    return rendered, headers


def logo_url(session: Session, settings: Settings) -> str | None:
    """The shop's logo as Wafa serves it, under the public URL customers reach (versioned,
    so a new logo is fetched anew); ``None`` without a logo."""
    found = business.logo(session)
    if found is None:
        return None
    return f"{settings.public_url.rstrip('/')}/branding/logo?v={found.version}"
