"""Errors on dashboard pages: a friendly page in the user's language, with the right status.

``wafa.api.errors`` installs app-wide handlers that answer problem+json. This module
wraps each of them: a request whose path is under ``/api`` still gets the API's
answer, every other request (the dashboard) gets an HTML page. A visitor who is not
logged in is redirected to the login page instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from wafa.core.errors import Invalid, Unauthorized, WafaError
from wafa.web.auth import load_user
from wafa.web.i18n import N_
from wafa.web.templating import render, safe_next, url_with

log = logging.getLogger("wafa.web")

API_PREFIX = "/api"

Handler = Callable[[Request, Any], Awaitable[Response] | Response]
Page = Callable[[Request, Any], Response]

TITLES = {
    400: N_("This request could not be handled"),
    401: N_("Please log in"),
    403: N_("You don't have access to this"),
    404: N_("Page not found"),
    405: N_("This action is not available here"),
    409: N_("This could not be done"),
    422: N_("Some information is not valid"),
    500: N_("Something went wrong"),
}

MESSAGES = {
    "csrf": N_(
        "This form expired or did not come from this dashboard. "
        "Go back, reload the page and try again."
    ),
    "role-required": N_(
        "Your role does not allow this. Ask the owner of the shop if you need access."
    ),
    "insufficient-scope": N_(
        "Your role does not allow this. Ask the owner of the shop if you need access."
    ),
    "not-found": N_(
        "We couldn't find what you were looking for. It may have been removed, "
        "or the link is wrong."
    ),
    "customer-conflict": N_(
        "Another customer already has this email, phone or external id. "
        "Open that customer, or merge the two records."
    ),
    "conflict": N_("The data changed in a way that does not allow this. Nothing was saved."),
    "invalid": N_("Please check the information and try again. Nothing was saved."),
    "method-not-allowed": N_("This address does not accept this kind of request."),
    "internal": N_(
        "An unexpected error happened and nothing was saved. If it happens again, "
        "tell whoever runs Wafa for you."
    ),
}


def is_dashboard(request: Request) -> bool:
    """Whether the request is for a dashboard page (anything outside ``/api``)."""
    path = request.url.path
    return not (path == API_PREFIX or path.startswith(API_PREFIX + "/"))


def error_page(
    request: Request,
    *,
    status: int,
    code: str,
    detail: str = "",
    field_errors: list[tuple[str, str]] | None = None,
) -> Response:
    """Render ``errors/error.html`` for ``status``; the user (if any) keeps the full layout."""
    try:
        load_user(request)
    except Exception:  # a broken database must not hide the original error
        log.exception("could not load the user for an error page")
    message = MESSAGES.get(code) or MESSAGES.get(_fallback_code(status)) or MESSAGES["internal"]
    title = TITLES.get(status) or TITLES[400 if status < 500 else 500]
    return render(
        request,
        "errors/error.html",
        {
            "status": status,
            "code": code,
            "title": title,
            "message": message,
            "detail": detail,
            "field_errors": field_errors or [],
            "back_url": _back_url(request),
        },
        status_code=status,
    )


def _back_url(request: Request) -> str:
    """The page the user came from, when it is one of ours; else the home page."""
    referer = request.headers.get("referer", "")
    origin = f"{request.url.scheme}://{request.url.netloc}"
    if referer.startswith(origin + "/"):
        return safe_next(referer[len(origin) :])
    return "/"


def _fallback_code(status: int) -> str:
    return {404: "not-found", 403: "role-required", 409: "conflict", 422: "invalid"}.get(
        status, "internal"
    )


def login_redirect(request: Request) -> RedirectResponse:
    """Send a visitor to the login page, coming back here afterwards (for GET pages)."""
    if request.method in ("GET", "HEAD"):
        query = request.url.query
        target = request.url.path + (f"?{query}" if query else "")
        return RedirectResponse(url_with("/login", next=target), status_code=303)
    return RedirectResponse("/login", status_code=303)


def _wafa_page(request: Request, exc: WafaError) -> Response:
    if isinstance(exc, Unauthorized):
        return login_redirect(request)
    fields = None
    if isinstance(exc, Invalid):
        fields = [(".".join(str(p) for p in loc), msg) for loc, msg in exc.errors]
    return error_page(
        request, status=exc.status, code=exc.code, detail=exc.detail, field_errors=fields
    )


def _validation_page(request: Request, exc: RequestValidationError) -> Response:
    if exc.errors() and all(err.get("loc", ("",))[0] == "path" for err in exc.errors()):
        # A malformed id in the address is a broken link: there is no such page.
        return error_page(request, status=404, code="not-found")
    fields = [
        (".".join(str(p) for p in err.get("loc", ())), str(err.get("msg", "")))
        for err in exc.errors()
    ]
    return error_page(request, status=422, code="invalid", field_errors=fields)


def _http_page(request: Request, exc: StarletteHTTPException) -> Response:
    code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    response = error_page(request, status=exc.status_code, code=code, detail=str(exc.detail))
    for key, value in (getattr(exc, "headers", None) or {}).items():
        response.headers[key] = value
    return response


def _internal_page(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, status=500, code="internal")


def _dispatch(api_handler: Handler | None, web_handler: Page) -> Handler:
    async def handle(request: Request, exc: Any) -> Response:
        if is_dashboard(request) or api_handler is None:
            # Pages may touch the database (the user for the layout): not on the event loop.
            response: Response = await run_in_threadpool(web_handler, request, exc)
            return response
        result = api_handler(request, exc)
        if isinstance(result, Response):
            return result
        return await result

    return handle


def install(app: FastAPI) -> None:
    """Wrap the app's handlers: dashboard paths get pages, ``/api`` keeps problem+json."""
    pages: dict[type[Exception], Page] = {
        WafaError: _wafa_page,
        RequestValidationError: _validation_page,
        StarletteHTTPException: _http_page,
        Exception: _internal_page,
    }
    for exc_class, page in pages.items():
        previous = app.exception_handlers.get(exc_class)
        app.add_exception_handler(exc_class, _dispatch(previous, page))
