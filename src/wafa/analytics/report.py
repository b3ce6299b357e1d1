"""The standalone HTML report of ``wafa analyze``: one file, charts included, no network.

:func:`render_report` turns the figures of :func:`wafa.analytics.analyze.analyze_file`
(the same dict ``--json`` writes) into HTML with Plotly charts. Plotly's JavaScript
comes from the installed ``plotly`` package and is embedded once in the page
(``include_plotlyjs`` inline), so the file opens offline. Text is translated with the
``analytics`` catalogue (English, Arabic, Persian); Arabic and Persian pages are laid
out right to left with native digits, while the charts keep their time axes running
left to right, as charts in those languages usually do.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline
from babel.numbers import format_currency, format_decimal, format_percent
from jinja2 import Environment, FileSystemLoader, select_autoescape

from wafa.analytics.rfm import SEGMENT_COLOURS, SEGMENTS
from wafa.core.formats import (
    NUMBERING,
    RTL_LANGUAGES,
    DateContext,
    format_day,
    native_digits,
)
from wafa.core.i18n import every_catalogue
from wafa.core.settings import CalendarKind

__all__ = ["render_report", "translator"]

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"

Translate = Callable[..., str]


def translator(language: str) -> Translate:
    """Return a function translating English text into ``language``.

    Parameters
    ----------
    language : str
        ``en``, ``ar`` or ``fa``.

    Returns
    -------
    callable
        ``gettext``-like function: ``t(text, **params)``; like the dashboard's newstyle
        gettext it always applies ``%`` formatting (so ``%%`` is a percent sign), and
        unknown text is returned unchanged.
    """
    messages = {} if language == "en" else every_catalogue(language)

    def translate(text: str, **params: object) -> str:
        return messages.get(text, text) % params

    return translate


class _Format:
    """Locale-aware number, percent, money and day formatting for the templates."""

    def __init__(
        self,
        language: str,
        currency: str,
        minor_digits: int,
        *,
        timezone: str = "UTC",
        calendar: str = CalendarKind.gregorian.value,
    ) -> None:
        self.language = language
        self.currency = currency
        self.scale = Decimal(10) ** minor_digits
        self.numbering = NUMBERING.get(language, "latn")
        self.dates = DateContext(language, ZoneInfo(timezone), CalendarKind(calendar))

    def _native(self, text: str) -> str:
        # Babel writes the locale's separators but ASCII digits; write the locale's digits.
        return native_digits(text, self.language)

    def day(self, iso: str | None) -> str:
        """Write an ISO day of the figures as the dashboard writes days (calendar, digits)."""
        if not iso:
            return "—"
        return format_day(dt.date.fromisoformat(iso), self.dates)

    def number(self, value: float | int | None, decimals: int = 0) -> str:
        if value is None:
            return "—"
        fmt = "#,##0" + ("." + "0" * decimals if decimals else "")
        return self._native(
            str(
                format_decimal(
                    value, format=fmt, locale=self.language, numbering_system=self.numbering
                )
            )
        )

    def percent(self, value: float | None, decimals: int = 0) -> str:
        if value is None:
            return "—"
        fmt = "#,##0" + ("." + "0" * decimals if decimals else "") + "%"
        return self._native(
            str(
                format_percent(
                    value, format=fmt, locale=self.language, numbering_system=self.numbering
                )
            )
        )

    def money(self, minor: int | float | None) -> str:
        if minor is None:
            return "—"
        amount = Decimal(round(minor)) / self.scale
        return self._native(
            str(
                format_currency(
                    amount, self.currency, locale=self.language, numbering_system=self.numbering
                )
            )
        )


def _chart(fig: go.Figure, name: str, *, height: int = 360) -> str:
    fig.update_layout(
        height=height,
        margin={"l": 50, "r": 20, "t": 30, "b": 50},
        template="plotly_white",
        font={"family": "Vazirmatn, Tahoma, 'Segoe UI', Arial, sans-serif"},
        legend={"orientation": "h", "y": -0.2},
    )
    return str(
        pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{name}",
            config={"displaylogo": False, "responsive": True},
        )
    )


def _charts(f: dict[str, Any], t: Translate, fmt: _Format) -> dict[str, str]:
    charts: dict[str, str] = {}
    cohorts = f["cohorts"]["cohorts"][-24:]
    if cohorts:
        width = max(len(c["retention"]) for c in cohorts)
        z = [
            [c["retention"][k] * 100 if k < len(c["retention"]) else None for k in range(1, width)]
            for c in cohorts
        ]
        fig = go.Figure(
            go.Heatmap(
                z=z,
                x=[str(k) for k in range(1, width)],
                y=[f"{c['month']} ({c['size']})" for c in cohorts],
                colorscale="Greens",
                hovertemplate=t("Cohort")
                + " %{y}<br>"
                + t("Month")
                + " %{x}: %{z:.1f}%<extra></extra>",
                colorbar={"title": "%"},
            )
        )
        fig.update_yaxes(autorange="reversed", title=t("First order month (customers)"))
        fig.update_xaxes(title=t("Months since the first order"))
        charts["cohorts"] = _chart(fig, "cohorts", height=max(320, 22 * len(cohorts) + 120))
    split = f["cohorts"]["returning_revenue_by_month"][-24:]
    if split:
        fig = go.Figure()
        fig.add_bar(
            x=[m["month"] for m in split],
            y=[m["new"] / float(fmt.scale) for m in split],
            name=t("First-month customers"),
            marker_color="#80ccff",
        )
        fig.add_bar(
            x=[m["month"] for m in split],
            y=[m["returning"] / float(fmt.scale) for m in split],
            name=t("Returning customers"),
            marker_color="#1a7f37",
        )
        fig.update_layout(barmode="stack", yaxis_title=f"{t('Revenue')} ({fmt.currency})")
        charts["revenue_split"] = _chart(fig, "revenue-split")
    gaps = f["inter_purchase_days"]["histogram"]
    if f["inter_purchase_days"]["repeat_purchases"]:
        labels = [f"{g['from']}–{g['to']}" if g["to"] else f"{g['from']}+" for g in gaps]
        fig = go.Figure(go.Bar(x=labels, y=[g["count"] for g in gaps], marker_color="#54aeff"))
        fig.update_xaxes(title=t("Days between two purchases"), type="category")
        fig.update_yaxes(title=t("Repeat purchases"))
        charts["gaps"] = _chart(fig, "gaps", height=300)
    segments = [s for s in f["rfm"]["segments"] if s["customers"]]
    if segments:
        fig = go.Figure(
            go.Treemap(
                labels=[f"{t(s['name'])}" for s in segments],
                parents=[""] * len(segments),
                values=[s["customers"] for s in segments],
                marker={"colors": [SEGMENT_COLOURS[s["key"]] for s in segments]},
                customdata=[fmt.money(s["revenue"]) for s in segments],
                texttemplate="%{label}<br>%{value}",
                hovertemplate="%{label}: %{value} · %{customdata}<extra></extra>",
            )
        )
        charts["segments"] = _chart(fig, "segments", height=380)
    grid = f["rfm"]["grid"]
    fig = go.Figure(
        go.Heatmap(
            z=[[c["customers"] for c in grid if c["r"] == r] for r in range(1, 6)],
            x=[str(k) for k in range(1, 6)],
            y=[str(k) for k in range(1, 6)],
            colorscale="Blues",
            hovertemplate="R %{y}, FM %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("Frequency and spend score (5 = best)"))
    fig.update_yaxes(title=t("Recency score (5 = most recent)"))
    charts["rfm_grid"] = _chart(fig, "rfm-grid", height=340)
    predictions = f["predictions"]
    histogram = predictions.get("p_alive_histogram")
    if histogram:
        fig = go.Figure(
            go.Bar(
                x=[f"{h['from']:.1f}–{h['to']:.1f}" for h in histogram],
                y=[h["customers"] for h in histogram],
                marker_color="#2da44e",
            )
        )
        fig.update_xaxes(title=t("Probability the customer is still active"), type="category")
        fig.update_yaxes(title=t("Customers"))
        charts["p_alive"] = _chart(fig, "p-alive", height=300)
    quantiles = predictions.get("clv_quantiles")
    if quantiles:
        keys = sorted(quantiles, key=float)
        fig = go.Figure(
            go.Bar(
                x=[f"{round(float(k) * 100)}%" for k in keys],
                y=[quantiles[k] / float(fmt.scale) for k in keys],
                marker_color="#8250df",
            )
        )
        fig.update_xaxes(title=t("Share of customers worth less than"), type="category")
        fig.update_yaxes(title=f"{t('Predicted lifetime value')} ({fmt.currency})")
        charts["clv"] = _chart(fig, "clv", height=300)
    holdout = f["holdout"]
    if holdout.get("days"):
        fig = go.Figure()
        weeks = [p["week"] for p in holdout["tracking"]]
        fig.add_scatter(
            x=weeks, y=[p["actual"] for p in holdout["tracking"]], name=t("Actual"), mode="lines"
        )
        for name, label in (
            ("bgnbd", "BG/NBD"),
            ("pareto_nbd", "Pareto/NBD"),
            ("naive", t("Naive")),
            ("same_as_last_period", t("Same as the period before")),
        ):
            if holdout["tracking"] and name in holdout["tracking"][0]:
                fig.add_scatter(
                    x=weeks,
                    y=[p[name] for p in holdout["tracking"]],
                    name=label,
                    mode="lines",
                    line={"dash": "dot" if name in ("naive", "same_as_last_period") else "dash"},
                )
        fig.update_xaxes(title=t("Weeks after the calibration end"))
        fig.update_yaxes(title=t("Cumulative repeat purchases"))
        charts["tracking"] = _chart(fig, "tracking")
        buckets = holdout["by_frequency"]
        fig = go.Figure()
        x = [b["frequency"] for b in buckets]
        fig.add_bar(x=x, y=[b["actual"] for b in buckets], name=t("Actual"))
        for name, label in (
            ("bgnbd", "BG/NBD"),
            ("pareto_nbd", "Pareto/NBD"),
            ("naive", t("Naive")),
            ("same_as_last_period", t("Same as the period before")),
        ):
            if buckets and name in buckets[0]:
                fig.add_bar(x=x, y=[b[name] for b in buckets], name=label)
        fig.update_xaxes(title=t("Repeat purchases in the calibration period"), type="category")
        fig.update_yaxes(title=t("Average repeat purchases in the holdout"))
        charts["buckets"] = _chart(fig, "buckets")
    return charts


def render_report(figures: dict[str, Any], *, language: str = "en") -> str:
    """Render the figures as one self-contained HTML page.

    Parameters
    ----------
    figures : dict
        Output of :func:`wafa.analytics.analyze.analyze_file` (``Analysis.figures``),
        with non-finite numbers already replaced by ``None``.
    language : str
        ``en``, ``ar`` or ``fa``.

    Returns
    -------
    str
        The HTML document (Plotly's JavaScript inlined; no external resource).
    """
    t = translator(language)
    fmt = _Format(
        language,
        figures["currency"],
        int(figures["minor_digits"]),
        timezone=figures.get("timezone") or "UTC",
        calendar=figures.get("calendar") or CalendarKind.gregorian.value,
    )
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("analytics/report.html")
    return template.render(
        f=figures,
        _=t,
        fmt=fmt,
        language=language,
        direction="rtl" if language in RTL_LANGUAGES else "ltr",
        charts=_charts(figures, t, fmt),
        plotly_js=plotly.offline.get_plotlyjs(),
        segment_colours=SEGMENT_COLOURS,
        segment_keys=[s.key for s in SEGMENTS],
        figures_json=json.dumps(figures, ensure_ascii=False).replace("</", "<\\/"),
    )
