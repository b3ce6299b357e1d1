"""Tiers: the levels, what qualifies for them, and who would move before a change is saved.

Posting the form previews the change (members who would move up or down); saving
needs a preview of exactly the tiers being saved, so nobody saves what they did not
see. The rules (thresholds rising, codes unique) are the ``Tiers`` schema's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.core.errors import Loc
from wafa.core.settings import Settings
from wafa.loyalty import service, views
from wafa.loyalty.schemas.program import DowngradePolicy, TierBasis, Tiers, TierWindow
from wafa.loyalty.web.common import context
from wafa.web import forms
from wafa.web.auth import MayEditProgram, see_other, staff_label
from wafa.web.forms import FormData, FormReader, amount_text
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

ROWS_EXTRA = 2
SLUG = N_("Use lowercase letters a–z, digits, “-” and “_” (no spaces).")
MULTIPLIER = N_("Enter a multiplier like 1, 1.25 or 2.")
_SLUG = re.compile(r"^[a-z0-9_-]{1,32}$")
_COLUMNS = {"earn_multiplier_bp": "multiplier"}


def multiplier_text(bp: int) -> str:
    """An earning multiplier in basis points as the form shows it (``15000`` → ``1.5``)."""
    return forms.plain(Decimal(bp).scaleb(-4))


def values_of(tiers: Tiers, currency: str) -> dict[str, str]:
    """The tiers form filled with ``tiers`` (plus empty rows for new tiers)."""
    values: dict[str, str] = {
        "enabled": "yes" if tiers.enabled else "",
        "basis": str(tiers.basis),
        "window": str(tiers.window),
        "window_months": str(tiers.window_months),
        "hold_months": str(tiers.hold_months),
        "grace_days": str(tiers.grace_days),
        "downgrade": str(tiers.downgrade),
        "rows": str(len(tiers.levels) + ROWS_EXTRA),
    }
    for i, level in enumerate(tiers.levels):
        values[f"name_{i}"] = level.name
        values[f"code_{i}"] = level.code
        values[f"threshold_{i}"] = (
            amount_text(level.threshold, currency)
            if tiers.basis is TierBasis.spend
            else str(level.threshold)
        )
        values[f"multiplier_{i}"] = multiplier_text(level.earn_multiplier_bp)
        values[f"flags_{i}"] = ", ".join(level.flags)
    return values


def rows_of(values: Mapping[str, str]) -> range:
    """The row indexes the tiers form draws."""
    try:
        return range(max(int(values.get("rows", "0") or 0), ROWS_EXTRA))
    except ValueError:
        return range(ROWS_EXTRA)


def _slug_from(name: str, index: int) -> str:
    ascii_name = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:32]
    return ascii_name or f"tier-{index + 1}"


def _level(f: FormReader, i: int, basis: str) -> dict[str, Any] | None:
    name = f.text(f"name_{i}", max_length=120)
    code = f.raw(f"code_{i}").lower()
    if f.flag(f"remove_{i}") or not (name or code or f.raw(f"threshold_{i}")):
        return None
    if not name:
        f.error(f"name_{i}", forms.REQUIRED)
    code = code or _slug_from(name or "", i)
    if not _SLUG.match(code):
        f.error(f"code_{i}", SLUG)
    threshold = (
        f.money(f"threshold_{i}", required=True)
        if basis == TierBasis.spend.value
        else f.integer(f"threshold_{i}", required=True)
    )
    bp = (f.decimal(f"multiplier_{i}") or Decimal(1)).scaleb(4)
    if bp < 0 or bp > 10**7 or bp != bp.to_integral_value():
        f.error(f"multiplier_{i}", MULTIPLIER)
        bp = Decimal(10_000)
    flags = [w.lower().replace(" ", "_") for w in f.words(f"flags_{i}", max_length=32)]
    if any(not _SLUG.match(flag) for flag in flags):
        f.error(f"flags_{i}", SLUG)
    return {
        "code": code,
        "name": name or code,
        "threshold": threshold or 0,
        "earn_multiplier_bp": int(bp),
        "flags": flags,
    }


class TiersForm:
    """The posted tiers form: its rows (empty or removed ones dropped) and their schema."""

    def __init__(self, form: Mapping[str, Any], *, currency: str) -> None:
        self.form = form
        self.currency = currency
        self.rows: list[int] = []  # the form row of each level, to place the schema's errors

    def read(self) -> Tiers:
        """The tiers posted; ``Invalid`` or ``ValidationError`` name the form's fields."""
        f = FormReader(self.form, currency=self.currency)
        basis = f.choice("basis", [b.value for b in TierBasis]) or TierBasis.points.value
        levels: list[dict[str, Any]] = []
        for i in range(f.integer("rows", default=0, maximum=60) or 0):
            level = _level(f, i, basis)
            if level is not None:
                self.rows.append(i)
                levels.append(level)
        data = {
            "enabled": f.flag("enabled"),
            "basis": basis,
            "window": f.choice("window", [w.value for w in TierWindow]) or TierWindow.rolling.value,
            "window_months": f.integer("window_months", required=True, minimum=1, maximum=60),
            "hold_months": f.integer("hold_months", required=True, minimum=1, maximum=60),
            "grace_days": f.integer("grace_days", required=True, maximum=365),
            "downgrade": f.choice("downgrade", [d.value for d in DowngradePolicy])
            or DowngradePolicy.one_down.value,
            "levels": levels,
        }
        f.check()
        return Tiers.model_validate(data)

    def field_for(self, loc: Loc) -> str:
        """The form field of a location in the posted form or in ``Tiers``."""
        parts = [p for p in loc if p != "body"]
        if len(parts) >= 2 and parts[0] == "levels" and isinstance(parts[1], int):
            row = self.rows[parts[1]] if parts[1] < len(self.rows) else 0
            column = _COLUMNS.get(str(parts[2]), str(parts[2])) if len(parts) > 2 else "name"
            return f"{column}_{row}"
        return str(parts[0]) if parts else forms.WHOLE_FORM


def _tiers_page(
    request: Request,
    session: Session,
    settings: Settings,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    preview: Any = None,
    stale: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    overview = service.tiers_overview(session, settings=settings)
    current = service.get_program(session, settings=settings)
    shown = values or values_of(current.rules.tiers, settings.currency)
    return render(
        request,
        "loyalty/tiers.html",
        context(
            request,
            settings,
            overview=overview,
            values=shown,
            errors=errors or {},
            preview=preview,
            stale=stale,
            rows=rows_of(shown),
            current_names=views.tier_names(current.rules),
        ),
        status_code=status_code,
    )


def _fingerprint(tiers: Tiers) -> str:
    """Identifies the previewed tiers: saving other tiers than those previewed previews again."""
    return hashlib.sha256(tiers.model_dump_json().encode()).hexdigest()[:20]


@router.get("/loyalty/tiers", response_class=HTMLResponse)
def tiers_page(
    request: Request, session: ReadSession, settings: AppSettings, user: MayEditProgram
) -> HTMLResponse:
    return _tiers_page(request, session, settings)


@router.post("/loyalty/tiers", response_class=HTMLResponse)
def tiers_post(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayEditProgram,
    form: FormData,
) -> Response:
    posted = TiersForm(form, currency=settings.currency)

    def preview_or_save() -> Response:
        proposed = posted.read()
        fingerprint = _fingerprint(proposed)
        stale = form.get("action") == "save" and form.get("previewed") != fingerprint
        if form.get("action") != "save" or stale:
            preview = service.preview_tiers(session, settings=settings, proposed=proposed)
            return _tiers_page(
                request,
                session,
                settings,
                values=values_of(proposed, settings.currency)
                | {"previewed": fingerprint, "note": form.get("note", "")},
                preview={"result": preview, "names": {t.code: t.name for t in proposed.levels}},
                stale=stale,
            )
        current = service.get_program(session, settings=settings)
        service.update_program(
            session,
            settings=settings,
            rules=current.rules.model_copy(update={"tiers": proposed}),
            by=staff_label(user),
            note=FormReader(form).text("note", max_length=500) or None,
        )
        flash(
            request,
            N_("Tiers saved. Upgrades apply now; downgrades wait for each member's review."),
        )
        return see_other("/loyalty/tiers")

    return forms.submit(
        request,
        session,
        preview_or_save,
        redraw=lambda errors, status: _tiers_page(
            request, session, settings, values=form, errors=errors, status_code=status
        ),
        field_for=posted.field_for,
    )
