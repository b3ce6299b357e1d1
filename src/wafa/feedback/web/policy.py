"""The complaint policy, for the owner: categories, opening hours and the holiday country the
SLA clocks run on, the SLA targets per severity, the warning before a breach, what unhappy
and happy survey answers do, and how much a cashier or a manager may give per complaint
(the owner: any). The same ``Policy`` the API's ``PUT /api/v1/feedback/policy`` takes;
new complaints use it, open ones keep their due times."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.feedback import texts
from wafa.feedback.models import Severity
from wafa.feedback.policy import Limit, Opening, Policy, Target, load_policy, save_policy
from wafa.web import forms
from wafa.web.auth import MaySettings, see_other, staff_label
from wafa.web.forms import FormData, FormReader
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

NAV = NavItem(
    N_("Complaint policy"),
    "/feedback/policy",
    min_role=Role.owner,
    icon="sliders",
    order=74,
    section=N_("Feedback"),
)
WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
SEVERITIES = tuple(s.value for s in (Severity.urgent, Severity.high, Severity.normal, Severity.low))
ROLES = ("cashier", "manager")
ROLE_NAMES = {"cashier": N_("Cashier"), "manager": N_("Manager")}
TIME_FORMAT = N_("Enter a time as hours:minutes, like 09:00.")
CLOSES_AFTER = N_("Closing must come after opening.")
HOURS = N_("Enter a number of hours greater than zero.")
COUNTRY = N_("Enter a two-letter country code, like IR or DE.")
CATEGORY = N_("At least one category; each at most 40 characters.")


def _hours(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def values_of(policy: Policy, currency: str) -> dict[str, str]:
    """The form's fields filled from ``policy``."""
    values: dict[str, str] = {
        "categories": "\n".join(policy.categories),
        "holiday_country": policy.holiday_country or "",
        "warn_before_hours": _hours(policy.warn_before_hours),
        "complaint_from_surveys": "on" if policy.complaint_from_surveys else "",
        "promoter_invitation": "on" if policy.promoter_invitation else "",
    }
    hours = {o.weekday: o for o in policy.opening}
    for day in range(7):
        found = hours.get(day)
        values[f"open_{day}"] = "on" if found else ""
        values[f"opens_{day}"] = f"{found.opens:%H:%M}" if found else "09:00"
        values[f"closes_{day}"] = f"{found.closes:%H:%M}" if found else "17:00"
    for severity in SEVERITIES:
        target = policy.targets[severity]
        values[f"first_{severity}"] = _hours(target.first_response_hours)
        values[f"resolve_{severity}"] = _hours(target.resolution_hours)
    for role in ROLES:
        limit = policy.limits.get(role, Limit())
        values[f"points_{role}"] = "" if limit.points is None else str(limit.points)
        values[f"amount_{role}"] = (
            "" if limit.amount is None else forms.amount_text(limit.amount, currency)
        )
        values[f"percent_{role}"] = "" if limit.percent is None else str(limit.percent)
        values[f"free_{role}"] = "on" if limit.free_product else ""
    return values


def _positive_hours(f: FormReader, name: str, *, allow_zero: bool = False) -> float | None:
    value = f.decimal(name, required=True)
    if value is None:
        return None
    if value < 0 or (value == 0 and not allow_zero) or value > Decimal(5000):
        f.error(name, HOURS)
        return None
    return float(value)


def read_policy(form: Mapping[str, Any], *, current: Policy, currency: str) -> Policy:
    """A ``Policy`` from the posted form (the owner's limit is kept: any)."""
    f = FormReader(form, currency=currency)
    categories = [c for c in f.raw("categories").splitlines() if c.strip()]
    if not categories or any(len(c.strip()) > 40 for c in categories):
        f.error("categories", CATEGORY)
    country = f.raw("holiday_country").upper() or None
    if country is not None and (len(country) != 2 or not country.isalpha()):
        f.error("holiday_country", COUNTRY)
    opening: list[Opening] = []
    for day in range(7):
        if not f.flag(f"open_{day}"):
            continue
        opens, closes = f.clock(f"opens_{day}", TIME_FORMAT), f.clock(f"closes_{day}", TIME_FORMAT)
        if opens is not None and closes is not None:
            if closes <= opens:
                f.error(f"closes_{day}", CLOSES_AFTER)
            else:
                opening.append(Opening(weekday=day, opens=opens, closes=closes))
    targets: dict[str, Target] = {}
    for severity in SEVERITIES:
        first = _positive_hours(f, f"first_{severity}")
        resolve = _positive_hours(f, f"resolve_{severity}")
        if first is not None and resolve is not None:
            targets[severity] = Target(first_response_hours=first, resolution_hours=resolve)
    warn = _positive_hours(f, "warn_before_hours", allow_zero=True)
    given = {
        role: {
            "points": f.integer(f"points_{role}", minimum=0),
            "amount": f.money(f"amount_{role}"),
            "percent": f.integer(f"percent_{role}", minimum=0, maximum=100),
            "free_product": f.flag(f"free_{role}"),
        }
        for role in ROLES
    }
    f.check()  # before any schema is built: every problem is named by its field
    limits = dict(current.limits)
    limits.update({role: Limit.model_validate(values) for role, values in given.items()})
    limits["owner"] = Limit()
    return Policy(
        categories=categories,
        opening=opening,
        holiday_country=country,
        targets=targets,
        warn_before_hours=warn if warn is not None else current.warn_before_hours,
        complaint_from_surveys=f.flag("complaint_from_surveys"),
        promoter_invitation=f.flag("promoter_invitation"),
        limits=limits,
    )


def _page(
    request: Request,
    settings: Settings,
    policy: Policy,
    *,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "feedback/policy.html",
        {
            "values": values,
            "errors": errors or {},
            "weekdays": WEEKDAYS,
            "severities": SEVERITIES,
            "severity_names": texts.SEVERITIES,
            "roles": ROLES,
            "role_names": ROLE_NAMES,
            "currency": settings.currency,
            "categories": {c: texts.CATEGORIES.get(c, c) for c in policy.categories},
        },
        status_code=status_code,
    )


@router.get("/feedback/policy", response_class=HTMLResponse)
def policy_page(
    request: Request, session: ReadSession, settings: AppSettings, user: MaySettings
) -> HTMLResponse:
    policy = load_policy(session)
    return _page(request, settings, policy, values=values_of(policy, settings.currency))


@router.post("/feedback/policy", response_class=HTMLResponse)
def save_policy_form(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MaySettings,
    form: FormData,
) -> Response:
    current = load_policy(session)

    def save() -> Response:
        policy = read_policy(form, current=current, currency=settings.currency)
        save_policy(session, policy, by=staff_label(user))
        flash(request, N_("Complaint policy saved. New complaints follow it."))
        return see_other("/feedback/policy")

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _page(
            request, settings, current, values=form, errors=errors, status_code=status
        ),
    )
