"""Jinja2 for the dashboard: one environment per UI language, ``render()``, flash messages.

Templates live in ``src/wafa/web/templates/`` (``<domain>/page.html``) and extend
``base.html``. Each language gets its own environment with its translations
installed (``{{ _("Customers") }}``, ``{% trans %}``, ``ngettext``) and its display
filters bound:

=================  ==========================================================
``money(cur)``     minor units → ``$1,234.50`` / ``‏١٬٢٣٤٫٥٠ US$`` / ``‎$ ۱٬۲۳۴٫۵۰``
``number``         ``1,234`` / ``١٬٢٣٤`` / ``۱٬۲۳۴``
``percent``        a ratio (0.25) → ``25%`` / ``٢٥٪`` / ``۲۵٪``
``date``           a day or instant in the display calendar (``style="long"|"short"``)
``until``          the last day a "valid until" end instant covers (``core.calendars.last_day``)
``datetime``       an instant in the business zone, with the time
``time``           the time of day of an instant, in the business zone
``ago``            relative time (``3 days ago``)
``month``          a month label (``Farvardin 1405``)
``phone``          E.164 in international format (wrap in ``<bdi dir="ltr">``)
``initials``       avatar letters of a name
``label(kind)``    an enum value's translated label (``order.status|label("status")``)
``digits``         ASCII digits of any text → the language's digits
``numeral``        a plain number such as an order's ``#1043`` in the language's digits
                   (codes with letters, like ``POS-7K2D``, keep theirs)
=================  ==========================================================

Globals: ``static_url(path)``, ``csrf_input()``, ``csrf_token``, ``url(path, **query)``,
``icon(name)`` (see ``_icons.html``), ``request``, ``user``, ``lang``, ``dir``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)
from jinja2.bccache import Bucket
from jinja2.runtime import Context
from markupsafe import Markup, escape

from wafa.core.calendars import last_day
from wafa.core.settings import Settings
from wafa.web import i18n
from wafa.web.security import CSRF_FIELD, csrf_token

log = logging.getLogger("wafa.web")

WEB_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

# Sent with every dashboard page: nothing loads from another origin (no CDN), no
# framing. Inline styles are allowed (charts set them); inline scripts are not.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


@lru_cache(maxsize=256)
def _static_digest(path: str) -> str:
    file = STATIC_DIR / path
    try:
        return hashlib.sha256(file.read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


def static_url(path: str) -> str:
    """URL of a file under ``web/static/`` with a content hash, so browsers never see stale CSS."""
    return f"/static/{path}?v={_static_digest(path)}"


def icon(name: str, css: str = "") -> Markup:
    """An icon from ``static/icons.svg`` (decorative: hidden from screen readers).

    Icons that point "forward" or "back" (``chevron-end``, ``arrow-start`` ...) are
    mirrored in right-to-left pages by the stylesheet.
    """
    return Markup(
        '<svg class="icon icon-{name} {css}" aria-hidden="true" focusable="false">'
        '<use href="{url}#{name}"></use></svg>'
    ).format(name=name, css=css, url=static_url("icons.svg"))


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go back to; anything pointing off-site becomes ``default``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    return value


def url_with(path: str, **query: object) -> str:
    """``path`` with the non-empty ``query`` parameters encoded."""
    params = {k: str(v) for k, v in query.items() if v not in (None, "")}
    return f"{path}?{urlencode(params)}" if params else path


class _MemoryBytecodeCache(BytecodeCache):
    """Compiled templates shared by every environment of the process (one per language and app)."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_BYTECODE = _MemoryBytecodeCache()


class Templates:
    """The dashboard's template environments (one per language) for one app's settings."""

    def __init__(self, settings: Settings, *, directory: Path = TEMPLATE_DIR) -> None:
        self.settings = settings
        self.loader = FileSystemLoader(str(directory))
        self._envs: dict[str, Environment] = {}

    def date_context(self, language: str) -> i18n.DateContext:
        """Display context for dates in ``language`` under these settings."""
        return i18n.DateContext(language, self.settings.zone, self.settings.calendar)

    def env(self, language: str) -> Environment:
        """The environment for ``language`` (built on first use)."""
        env = self._envs.get(language)
        if env is None:
            env = self._build(language)
            self._envs[language] = env
        return env

    def _build(self, language: str) -> Environment:
        env = Environment(
            loader=self.loader,
            autoescape=select_autoescape(["html", "xml"]),
            extensions=["jinja2.ext.i18n", "jinja2.ext.do"],
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            bytecode_cache=_BYTECODE,
        )
        env.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
        ctx = self.date_context(language)
        env.filters.update(
            money=lambda amount, currency=None: i18n.format_amount(
                int(amount), currency or self.settings.currency, language
            ),
            number=lambda value, decimals=None: i18n.format_number(
                value, language, decimals=decimals
            ),
            percent=lambda value, decimals=0: i18n.format_ratio(value, language, decimals=decimals),
            date=lambda value, style="medium": i18n.format_day(value, ctx, style=style),
            until=lambda value, style="medium": i18n.format_day(
                last_day(value, self.settings.zone), ctx, style=style
            ),
            datetime=lambda value: i18n.format_moment(value, ctx),
            time=lambda value: i18n.format_clock(value, ctx),
            ago=lambda value: i18n.format_relative(value, ctx),
            month=lambda value: i18n.format_month(value, ctx),
            phone=i18n.format_phone,
            initials=i18n.initials,
            label=lambda value, kind: i18n.label(kind, value, language),
            digits=lambda value: i18n.native_digits(str(value), language),
            numeral=lambda value: i18n.native_numeral(str(value), language),
            iso=_iso,
        )
        env.globals.update(
            static_url=static_url,
            url=url_with,
            csrf_input=_csrf_input,
            render_panel=_render_panel,
            icon=icon,
            N_=i18n.N_,
            languages=i18n.LANGUAGES,
            lang=language,
            dir=i18n.text_direction(language),
            settings=self.settings,
            business_name=self.settings.business_name,
            display_calendar=str(ctx.display_calendar),
            month_names=partial(i18n.month_names, language=language),
            choices=partial(i18n.choices, language=language),
            format_month_day=partial(i18n.format_month_day, language=language),
        )
        return env

    def render_string(self, request: Request, name: str, context: Mapping[str, Any]) -> str:
        """Render template ``name`` for this request (its language, user, flash messages)."""
        language = request_language(request)
        env = self.env(language)
        from wafa.web.nav import nav_for  # nav imports auth's models; keep this module light

        user = getattr(request.state, "user", None)
        values: dict[str, Any] = {
            "request": request,
            "user": user,
            "nav": nav_for(request, user) if user is not None else [],
            "csrf_token": csrf_token(request) if "session" in request.scope else "",
            "logo_version": getattr(request.app.state, "logo_version", None),
            "flashes": pop_flashes(request, language),
            "current_path": request.url.path,
            "current_url": _current_url(request),
        }
        values.update(context)
        return env.get_template(name).render(values)


def _iso(value: date | datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _current_url(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


@pass_context
def _csrf_input(context: Context) -> Markup:
    token = context.get("csrf_token", "")
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(token))


PANEL_FAILED = i18n.N_("This section could not be loaded. The rest of the page is up to date.")


@pass_context
def _render_panel(context: Context, rendered: Any) -> Markup:
    """Render a profile panel on its own: a failing template becomes a short notice, logged."""
    language = str(context.get("lang", "en"))
    if not rendered.failed:
        try:
            template = context.environment.get_template(rendered.panel.template)
            return Markup(template.render({**context.get_all(), "panel": rendered.context}))
        except Exception:
            log.exception("customer panel %r failed to render", rendered.panel.key)
    return Markup(
        '<section class="card"><div class="card-body"><div class="callout warning">{}<div>{}</div>'
        "</div></div></section>"
    ).format(icon("alert"), i18n.gettext(language, PANEL_FAILED))


def templates_of(request: Request) -> Templates:
    """The app's ``Templates``."""
    templates: Templates = request.app.state.templates
    return templates


def request_language(request: Request) -> str:
    """The UI language of this request (chosen by ``wafa.web.auth``)."""
    chosen = getattr(request.state, "language", None)
    if chosen:
        return str(chosen)
    from_session = (
        i18n.normalize_language(request.session.get("locale"))
        if "session" in request.scope
        else None
    )
    if from_session:
        return from_session
    settings: Settings = request.app.state.settings
    return str(settings.locale)


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render a dashboard page as an HTML response with the security headers."""
    html = templates_of(request).render_string(request, name, context or {})
    response = HTMLResponse(html, status_code=status_code, headers=dict(SECURITY_HEADERS))
    response.headers["Content-Language"] = request_language(request)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def t(request: Request, message: str, **params: object) -> str:
    """Translate ``message`` into the request's language (for Python-side strings)."""
    return i18n.gettext(request_language(request), message, **params)


# --------------------------------------------------------------------------- flash messages

FLASH_KEY = "_flash"


def flash(request: Request, message: str, *, kind: str = "success", **params: object) -> None:
    """Queue a message for the next page. ``message`` is an English msgid (mark it with ``N_``),
    translated when shown; ``params`` fill its ``%(name)s`` placeholders. Whole numbers are
    written when shown, in the reader's digits (Persian, Arabic-Indic or Latin)."""
    queue = list(request.session.get(FLASH_KEY, []))
    values = {
        k: v if isinstance(v, int) and not isinstance(v, bool) else str(v)
        for k, v in params.items()
    }
    queue.append({"kind": kind, "msg": message, "params": values})
    request.session[FLASH_KEY] = queue[-5:]


def pop_flashes(request: Request, language: str) -> list[dict[str, str]]:
    """The queued messages, translated, removed from the session."""
    if "session" not in request.scope or FLASH_KEY not in request.session:
        return []
    queue = request.session.pop(FLASH_KEY, [])
    shown = []
    for item in queue:
        params = {
            k: i18n.format_number(v, language) if isinstance(v, int) else v
            for k, v in (item.get("params") or {}).items()
        }
        shown.append(
            {
                "kind": item.get("kind", "info"),
                "text": i18n.gettext(language, item["msg"], **params),
            }
        )
    return shown
