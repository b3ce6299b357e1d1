"""The Import page (owners and managers): upload a customers, products or orders CSV, read
the dry run's report, then import, with progress.

The file goes through the engine ``wafa import`` runs (``wafa.orders.importing.jobs``):
the check and the import run after the answer (a background task of this server
process), so the owner can leave the page or reload it; the job's page shows where it
is and reloads itself while it runs.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.api.routing import UPLOAD_LIMIT
from wafa.core.errors import Invalid
from wafa.orders.importing import jobs
from wafa.web import forms
from wafa.web.auth import MayImport, see_other, staff_label
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _form(
    request: Request,
    session: DbSession | ReadSession,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "people/import.html",
        {
            "values": values or {"kind": "orders", "format": "generic"},
            "errors": errors or {},
            "kinds": jobs.KINDS,
            "formats": jobs.FORMATS,
            "encodings": jobs.ENCODINGS,
            "recent": [(job, jobs.state(job)) for job in jobs.recent_jobs(session)],
            "limit_mb": UPLOAD_LIMIT // (1024 * 1024),
        },
        status_code=status_code,
    )


@router.get("/import", response_class=HTMLResponse)
def import_page(request: Request, session: ReadSession, user: MayImport) -> HTMLResponse:
    return _form(request, session)


@router.post("/import", response_class=HTMLResponse, max_body_size=UPLOAD_LIMIT)
def upload(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayImport,
    background: BackgroundTasks,
    kind: Annotated[str, Form(max_length=16)] = "",
    format: Annotated[str, Form(max_length=16)] = "generic",
    encoding: Annotated[str, Form(max_length=16)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    values = {"kind": kind, "format": format, "encoding": encoding}

    def work() -> Response:
        data = file.file.read(UPLOAD_LIMIT + 1) if file is not None else b""
        if len(data) > UPLOAD_LIMIT:
            raise Invalid.field(("file",), "the file is larger than the upload limit")
        job = jobs.create_job(
            session,
            kind=kind,
            fmt=format,
            encoding=encoding or None,
            filename=(file.filename if file is not None else None) or "upload.csv",
            data=data,
            created_by=staff_label(user),
        )
        # Runs after the answer, once the job's row is committed.
        background.add_task(jobs.run_check, request.app.state.write_sessions, job.id, settings)
        return see_other(f"/import/{job.id}")

    def redraw(errors: dict[str, str], status: int) -> Response:
        return _form(request, session, values=values, errors=errors, status_code=status)

    return forms.submit(request, session, work, redraw=redraw)


@router.get("/import/{job_id}", response_class=HTMLResponse)
def job_page(
    job_id: uuid.UUID, request: Request, session: ReadSession, user: MayImport
) -> HTMLResponse:
    job = jobs.get_job(session, job_id)
    current = jobs.state(job)
    return render(
        request,
        "people/import_job.html",
        {
            "job": job,
            "state": current,
            "running": current in jobs.RUNNING_STATES,
            "progress": jobs.progress(job.id),
            "report": job.report or {},
            "has_rejected": jobs.has_rejected_file(session, job.id),
        },
    )


@router.post("/import/{job_id}/run")
def run(
    job_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayImport,
    background: BackgroundTasks,
) -> Response:
    def work() -> Response:
        job = jobs.start_import(session, job_id=job_id)
        background.add_task(jobs.run_import, request.app.state.write_sessions, job.id, settings)
        flash(request, N_("The import has started."))
        return see_other(f"/import/{job.id}")

    return forms.submit(
        request, session, work, redraw=forms.back_with_message(request, f"/import/{job_id}")
    )


@router.get("/import/{job_id}/rejected.csv")
def rejected_rows(job_id: uuid.UUID, session: ReadSession, user: MayImport) -> Response:
    """The rows the check rejected (line, column, reason, the row as written), formula-safe."""
    job = jobs.get_job(session, job_id)
    if not job.error_file:
        return Response(status_code=404)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", job.filename.rsplit(".", 1)[0])[:80] or "import"
    return Response(
        job.error_file,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{stem}-rejected.csv"',
            "X-Content-Type-Options": "nosniff",
        },
    )
