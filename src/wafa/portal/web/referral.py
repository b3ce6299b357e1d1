"""Invite a friend: the customer's link and code, plain share links, how invitations went;
and the page a shared link opens (``/r/<code>``)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import AppSettings, DbSession
from wafa.portal import views
from wafa.portal.web.common import Me, PortalRoute, render
from wafa.web.i18n import N_, gettext

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

SHARE_TEXT = N_("Join me at %(business)s with my code %(code)s: %(link)s")


def share_links(text: str, link: str, subject: str) -> list[tuple[str, str]]:
    """Plain links that open WhatsApp, Telegram, SMS and email with the text filled in."""
    body = quote(text)
    return [
        ("WhatsApp", f"https://wa.me/?text={body}"),
        ("Telegram", f"https://t.me/share/url?url={quote(link)}&text={body}"),
        ("SMS", f"sms:?&body={body}"),
        ("Email", f"mailto:?subject={quote(subject)}&body={body}"),
    ]


@router.get("/portal/referral")
def referral(request: Request, session: DbSession, settings: AppSettings, me: Me) -> HTMLResponse:
    """The code is made on first view (the loyalty engine's ``referrals.info``)."""
    page = views.referral(session, settings=settings, customer_id=me.id)
    language = str(request.state.language)
    text = gettext(
        language, SHARE_TEXT, business=settings.business_name, code=page.code, link=page.link
    )
    return render(
        request,
        "portal/referral.html",
        {
            "page": page,
            "tab": "referral",
            "share": share_links(text, page.link, settings.business_name),
            "share_text": text,
        },
    )


@router.get("/r/{code}")
def invited(code: str, request: Request) -> HTMLResponse:
    """A friend's invitation: the code to give at the counter or at checkout (no names shown)."""
    shown = "".join(ch for ch in code.upper() if ch.isalnum())[:40]
    return render(request, "portal/invited.html", {"code": shown})
