"""Templates: the list, the editor (subject, text and HTML per locale), and the preview with a
real customer's data, right to left where the locale is, with "send a test to me"."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.auth.models import Role
from wafa.core.errors import Invalid, NotFound
from wafa.core.ids import new_id
from wafa.customers.models import Customer
from wafa.messaging import templates
from wafa.messaging.campaigns.preview import TEST_HEADER, TEST_PREFIX
from wafa.messaging.channels import Outcome, Outgoing, build_channels
from wafa.messaging.models import Channel, Kind, Topic
from wafa.messaging.queue import Content
from wafa.messaging.texts import LOCALES
from wafa.web.auth import MayMessage, staff_label
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

NAV = NavItem(
    N_("Templates"),
    "/messaging/templates",
    min_role=Role.manager,
    icon="edit",
    order=61,
    section=N_("Messages"),
)

LOCALE_NAMES = {"en": "English", "ar": "العربية", "fa": "فارسی"}


@router.get("/messaging/templates", response_class=HTMLResponse)
def template_list(request: Request, session: ReadSession, user: MayMessage) -> HTMLResponse:
    return render(request, "messaging/templates.html", {"rows": templates.list_templates(session)})


def _editor(request: Request, **context: object) -> HTMLResponse:
    values: dict[str, object] = {
        "locales": LOCALES,
        "locale_names": LOCALE_NAMES,
        "channels": [c.value for c in Channel],
        "kinds": [k.value for k in Kind],
        "topics": [t.value for t in Topic],
        "errors": {},
        "preview": None,
        "customer": None,
    }
    values.update(context)
    status = 422 if values["errors"] else 200
    return render(request, "messaging/template_form.html", values, status_code=status)


@router.get("/messaging/templates/new", response_class=HTMLResponse)
def new_template(request: Request, user: MayMessage) -> HTMLResponse:
    return _editor(
        request,
        template={
            "key": "",
            "name": "",
            "channel": "email",
            "kind": "marketing",
            "topic": "newsletters",
        },
        content={"subject": {}, "text": {}, "html": {}},
        is_new=True,
    )


def _customer(session: ReadSession, customer: uuid.UUID | None) -> Customer | None:
    if customer is not None:
        found = session.get(Customer, customer)
        if found is not None and found.is_active:
            return found
    return session.scalar(
        select(Customer)
        .where(Customer.merged_into_id.is_(None), Customer.erased_at.is_(None))
        .order_by(Customer.created_at.desc())
        .limit(1)
    )


@router.get("/messaging/templates/{key}", response_class=HTMLResponse)
def edit_template(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayMessage,
    key: str,
    customer: uuid.UUID | None = None,
    locale: Annotated[str | None, Query(max_length=2)] = None,
) -> HTMLResponse:
    template, content = templates.get_template(session, key)
    chosen = _customer(session, customer)
    preview = None
    if chosen is not None:
        preview = templates.preview(
            session,
            settings=settings,
            template=template,
            content=content,
            customer_id=chosen.id,
            locale=locale if locale in LOCALES else None,
        )
    return _editor(
        request,
        template=template,
        content=content,
        is_new=False,
        preview=preview,
        customer=chosen,
        preview_locale=locale,
    )


@router.post("/messaging/templates")
async def save_template(request: Request, session: DbSession, user: MayMessage) -> Response:
    form = await request.form()

    def text(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    content = Content(
        subject={loc: text(f"subject_{loc}") for loc in LOCALES if text(f"subject_{loc}").strip()},
        text={loc: text(f"text_{loc}") for loc in LOCALES if text(f"text_{loc}").strip()},
        html={loc: text(f"html_{loc}") for loc in LOCALES if text(f"html_{loc}").strip()},
    )
    fields = {k: text(k) for k in ("key", "name", "channel", "kind", "topic")}
    try:
        channel, kind = Channel(fields["channel"]), Kind(fields["kind"])
        topic = Topic(fields["topic"]) if fields["topic"] else None
        saved = templates.save_template(
            session,
            key=fields["key"].strip(),
            name=fields["name"],
            channel=channel,
            kind=kind,
            topic=topic,
            content=content,
            by=staff_label(user),
        )
    except (Invalid, ValueError) as exc:
        errors = (
            {".".join(str(p) for p in loc): msg for loc, msg in exc.errors}
            if isinstance(exc, Invalid)
            else {"channel": str(exc)}
        )
        return _editor(
            request,
            template=fields,
            content=content.model_dump(),
            is_new=form.get("is_new") == "1",
            errors=errors,
        )
    flash(request, N_("Template saved."))
    return RedirectResponse(f"/messaging/templates/{saved.key}", status_code=303)


@router.post("/messaging/templates/{key}/test")
def send_test(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayMessage,
    key: str,
    customer: Annotated[uuid.UUID | None, Form()] = None,
    locale: Annotated[str | None, Form(max_length=2)] = None,
) -> Response:
    """Render the template with the chosen customer's data and send it to the staff member."""
    template, content = templates.get_template(session, key)
    chosen = _customer(session, customer)
    if chosen is None:
        raise NotFound("no customer to preview with")
    shown = templates.preview(
        session,
        settings=settings,
        template=template,
        content=content,
        customer_id=chosen.id,
        locale=locale if locale in LOCALES else None,
        test=True,  # the staff member's copy must not unsubscribe or sign in as the customer
    )
    channel = build_channels(settings)["email"]
    try:
        result = channel.send(
            Outgoing(
                message_id=new_id(),
                channel="email",
                kind=template.kind,
                to=user.email,
                text=shown.text,
                subject=f"{TEST_PREFIX} {shown.subject}",
                html=shown.html,
                locale=shown.locale,
                headers={**shown.headers, TEST_HEADER: f"template {template.key}"},
            )
        )
    finally:
        channel.close()
    if result.outcome is Outcome.sent:
        flash(request, N_("A test email was sent to %(address)s."), address=user.email)
    else:
        flash(
            request,
            N_("The test could not be sent: %(reason)s"),
            kind="error",
            reason=result.detail or result.outcome.value,
        )
    return RedirectResponse(f"/messaging/templates/{key}?customer={chosen.id}", status_code=303)
