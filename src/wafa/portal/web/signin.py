"""Signing in: the link from a message or the counter, "send me a link", the SMS code, signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from wafa.api.deps import AppSettings, DbSession, public
from wafa.core.errors import Invalid
from wafa.messaging.personalize import PORTAL
from wafa.portal import access
from wafa.portal.web.common import (
    PortalRoute,
    client_ip,
    cookie_secret,
    error_page,
    render,
    set_session_cookie,
)
from wafa.web.templating import url_with

router = APIRouter(
    route_class=PortalRoute,
    include_in_schema=False,
    dependencies=[public("the customer portal's sign-in")],
)


def _signed_in(request: Request, secret: str, page: str) -> Response:
    response = RedirectResponse(access.safe_page(page), status_code=303)
    set_session_cookie(request, response, secret)
    return response


@router.get("/portal/login/{token}")
def open_link(
    token: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    next: str | None = None,
) -> Response:
    """A sign-in link: spent here, then the page it points to (the home page by default)."""
    try:
        _, secret = access.sign_in(session, settings=settings, token=token)
    except access.LinkRefused as refused:
        # A second click on a link already used in this browser just goes in.
        current = access.session_customer(session, cookie_secret(request))
        found = access.signer(session, settings).verify(PORTAL, token)
        reason = refused.context.get("reason", "invalid")
        if reason == "used" and current and found and found.customer_id == current.id:
            return RedirectResponse(access.safe_page(next), status_code=303)
        return render(
            request,
            "portal/link_refused.html",
            {"reason": reason},
            status=refused.status,
        )
    return _signed_in(request, secret, next or "/portal/")


@router.get("/portal/login")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    """Ask for a link by email or a code by SMS."""
    return render(request, "portal/sign_in.html", {"next": access.safe_page(next), "error": None})


@router.post("/portal/login")
def ask_for_link(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    address: Annotated[str, Form(max_length=320)] = "",
    next: Annotated[str, Form(max_length=500)] = "/portal/",
) -> Response:
    """The same answer whether or not the address is known (no enumeration)."""
    try:
        read = access.read_address(address, settings=settings)
    except Invalid:
        return render(
            request,
            "portal/sign_in.html",
            {"next": access.safe_page(next), "error": "address", "address": address},
            status=422,
        )
    if not access.request_link(session, settings=settings, address=read, ip=client_ip(request)):
        return error_page(request, status=429, code="too-many-requests")
    if read.medium == "email":
        return render(request, "portal/link_sent.html")
    return render(
        request,
        "portal/code.html",
        {"phone": read.value, "next": access.safe_page(next), "wrong": False},
    )


@router.post("/portal/login/code")
def type_code(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    phone: Annotated[str, Form(max_length=40)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
    next: Annotated[str, Form(max_length=500)] = "/portal/",
) -> Response:
    """The six-digit code from the SMS."""
    try:
        read = access.read_address(phone, settings=settings)
    except Invalid:
        return error_page(request, status=422, code="invalid")
    signed = access.sign_in_with_code(
        session, settings=settings, address=read, code=code, ip=client_ip(request)
    )
    if signed is None:
        return render(
            request,
            "portal/code.html",
            {"phone": read.value, "next": access.safe_page(next), "wrong": True},
            status=422,
        )
    _, secret = signed
    return _signed_in(request, secret, next)


@router.post("/portal/logout")
def sign_out(request: Request, session: DbSession) -> Response:
    """End this browser's session."""
    access.end_session(session, cookie_secret(request))
    response = RedirectResponse(url_with("/portal/login", signed_out=1), status_code=303)
    response.delete_cookie("wafa_portal", path="/portal")
    return response
