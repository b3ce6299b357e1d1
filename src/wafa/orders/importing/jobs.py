"""Imports started from the dashboard: the file kept with its job, a dry run, then the import.

The engine is the one ``wafa import`` runs (``pipeline.import_orders``,
``customers.import_customers``, ``products.import_products``); this module only keeps
the uploaded file and what the engine reported on an ``ImportJob`` row, and runs the
engine twice:

* **check**: the whole file through the engine in a transaction that is rolled back
  (bad rows collected, not refused), giving the figures it would write, the rejected
  rows with their line, column and reason, and the rejected-rows CSV file;
* **import**: the engine again, for real. The job's row is marked done in the engine's
  own transaction, so the import and its "done" are committed together: a process killed
  mid-import leaves neither (the database rolls the open transaction back) and the job
  reads "interrupted". With bad rows in the file the owner chooses to import the good
  ones (``skip_invalid``), exactly as ``--skip-invalid`` does.

The file and the rejected-rows file live on the row (any server process can run or
show a job, and nothing is kept on disk between requests). Progress (bytes read, orders
written) is known to the process that runs the job, in memory; another process shows
the job's state without the bar.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, deferred, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.errors import Invalid, NotFound
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.orders.importing.errors import FileRefused, ImportRejected, RowError

#: What can be imported, and the formats each kind reads.
KINDS = ("customers", "products", "orders")
FORMATS = ("generic", "shopify", "woocommerce")
#: Text encodings offered besides UTF-8 (Arabic and Western Windows exports).
ENCODINGS = ("cp1256", "cp1252")
#: Rejected rows kept on the job to show on the page (all of them are in the file).
SHOWN_ERRORS = 20
#: A running job whose process cannot be asked (another machine) counts as interrupted
#: after this long without finishing.
STALE_AFTER = timedelta(hours=6)


class JobStatus(StrEnum):
    checking = "checking"  # the dry run is running
    checked = "checked"  # the report is ready; waiting for the owner's go
    refused = "refused"  # the file cannot be imported at all (header, encoding, nothing readable)
    importing = "importing"
    done = "done"
    failed = "failed"  # the import stopped; nothing of it was written


RUNNING_STATES = (JobStatus.checking, JobStatus.importing)


class ImportJob(Base):
    """One file uploaded in the dashboard, its dry-run report and its import."""

    __tablename__ = "import_jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(16))
    encoding: Mapped[str | None] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.checking.value)
    skip_invalid: Mapped[bool] = mapped_column(Boolean, default=False)
    # {"figures": {...}, "error_count": n, "errors": [[line, column, reason], ...],
    #  "message": "..."} of the check, then of the import.
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    upload: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    error_file: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    runner: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# --------------------------------------------------------------------------- in this process

_TOKEN = uuid.uuid4().hex[:12]
_lock = threading.Lock()
#: job id -> (stage, done, total) while this process runs it.
_progress: dict[uuid.UUID, tuple[str, int, int]] = {}


def _runner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_TOKEN}"


def progress(job_id: uuid.UUID) -> tuple[str, int, int] | None:
    """``(stage, done, total)`` of a job this process is running ("reading" counts bytes,
    "writing" orders), else ``None``."""
    with _lock:
        return _progress.get(job_id)


def _alive(runner: str | None) -> bool:
    """Whether the process named ``runner`` may still be running its job."""
    if not runner:
        return False
    host, _, rest = runner.partition(":")
    pid_text, _, token = rest.partition(":")
    if host != socket.gethostname():
        return True  # cannot tell from here: the age decides
    if token == _TOKEN:
        return True  # this process: ``_progress`` says whether the job is still on
    try:
        os.kill(int(pid_text), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:  # pragma: no cover - another user's process of that pid
        return True
    return True


def state(job: ImportJob, *, now: datetime | None = None) -> str:
    """The job's status as the owner should read it: a running job whose process is gone
    (killed, restarted) is ``interrupted``; nothing of its import was written."""
    if job.status not in RUNNING_STATES:
        return job.status
    now = now or utcnow()
    mine = job.runner is not None and job.runner.endswith(f":{_TOKEN}")
    if mine:
        with _lock:
            if job.id not in _progress:
                return "interrupted"
        return job.status
    if not _alive(job.runner) or now - job.updated_at > STALE_AFTER:
        return "interrupted"
    return job.status


# --------------------------------------------------------------------------- the rows


def create_job(
    session: Session,
    *,
    kind: str,
    fmt: str,
    filename: str,
    data: bytes,
    created_by: str,
    encoding: str | None = None,
) -> ImportJob:
    """Keep an uploaded file as a job waiting for its check; refuse what cannot be a CSV."""
    errors: list[tuple[tuple[str, ...], str]] = []
    if kind not in KINDS:
        errors.append((("kind",), f"import one of: {', '.join(KINDS)}"))
    if fmt not in FORMATS:
        errors.append((("format",), f"one of: {', '.join(FORMATS)}"))
    if encoding is not None and encoding not in ENCODINGS:
        errors.append((("encoding",), f"UTF-8 or one of: {', '.join(ENCODINGS)}"))
    if not data:
        errors.append((("file",), "choose a CSV file"))
    elif b"\x00" in data[:8192]:
        errors.append((("file",), "this is not a text (CSV) file"))
    if errors:
        raise Invalid(errors[0][1], errors)
    job = ImportJob(
        kind=kind,
        format=fmt,
        encoding=encoding,
        filename=(Path(filename or "upload.csv").name or "upload.csv")[:255],
        size=len(data),
        upload=data,
        created_by=created_by,
        status=JobStatus.checking.value,
        runner=_runner(),
        report={},
    )
    session.add(job)
    session.flush()
    with _lock:
        _progress[job.id] = ("reading", 0, len(data))
    return job


def get_job(session: Session, job_id: uuid.UUID) -> ImportJob:
    """The job, or ``NotFound``."""
    job = session.get(ImportJob, job_id)
    if job is None:
        raise NotFound(f"import {job_id} not found", job_id=job_id)
    return job


def has_rejected_file(session: Session, job_id: uuid.UUID) -> bool:
    """Whether the job keeps a file of rejected rows (without loading it)."""
    return bool(
        session.scalar(select(ImportJob.error_file.is_not(None)).where(ImportJob.id == job_id))
    )


def recent_jobs(session: Session, *, limit: int = 20) -> list[ImportJob]:
    """The latest jobs, newest first."""
    return list(
        session.scalars(select(ImportJob).order_by(ImportJob.created_at.desc()).limit(limit))
    )


def start_import(session: Session, *, job_id: uuid.UUID) -> ImportJob:
    """Mark a checked job as importing (by this process); only once."""
    job = get_job(session, job_id)
    if job.status != JobStatus.checked.value:
        raise Invalid.field(("job",), f"this import is {state(job)}, not waiting to be imported")
    job.skip_invalid = bool(job.report.get("error_count"))
    job.status = JobStatus.importing.value
    job.runner = _runner()
    job.updated_at = utcnow()
    session.flush()
    with _lock:
        _progress[job.id] = ("reading", 0, job.size)
    return job


# --------------------------------------------------------------------------- running

Factory = Callable[[], AbstractContextManager[Session]]


def _errors(errors: list[RowError]) -> list[list[Any]]:
    return [[e.line, e.column or "", e.reason] for e in errors[:SHOWN_ERRORS]]


def _engine(
    session: Session,
    job: ImportJob,
    path: Path,
    settings: Settings,
    *,
    dry_run: bool,
    skip_invalid: bool,
    errors_path: Path,
) -> dict[str, Any]:
    """Run the ``wafa import`` engine for ``job``; its figures and rejected rows."""
    from wafa.orders.importing.customers import import_customers
    from wafa.orders.importing.pipeline import import_orders
    from wafa.orders.importing.products import import_products

    def tick(stage: str, done: int, total: int) -> None:
        with _lock:
            _progress[job.id] = (stage, done, total)

    if job.kind == "orders":
        report = import_orders(
            session, path, fmt=job.format, settings=settings, encoding=job.encoding,
            skip_invalid=skip_invalid, errors_path=errors_path, dry_run=dry_run,
            progress=tick, parallel=False,
        )  # fmt: skip
        return {
            "figures": report.summary(),
            "error_count": report.error_count,
            "errors": _errors(report.errors),
        }
    if job.kind == "customers":
        found = import_customers(
            session, path, fmt=job.format, settings=settings, encoding=job.encoding,
            skip_invalid=skip_invalid, errors_path=errors_path,
        )  # fmt: skip
    else:
        found = import_products(  # type: ignore[assignment]
            session, path, fmt=job.format, settings=settings, encoding=job.encoding,
            skip_invalid=skip_invalid, errors_path=errors_path,
        )  # fmt: skip
    return {
        "figures": found.summary(),
        "error_count": len(found.errors),
        "errors": _errors(found.errors),
    }


def _refusal(exc: FileRefused | ImportRejected) -> dict[str, Any]:
    total = exc.total if isinstance(exc, ImportRejected) else len(exc.row_errors)
    return {"message": exc.detail, "error_count": total, "errors": _errors(exc.row_errors)}


def _finish(
    factory: Factory,
    job_id: uuid.UUID,
    *,
    status: JobStatus,
    report: dict[str, Any],
    error_file: bytes | None = None,
) -> None:
    with factory() as session:
        job = get_job(session, job_id)
        job.status = status.value
        job.report = report
        if error_file is not None:
            job.error_file = error_file
        if status is not JobStatus.checked:
            job.finished_at = utcnow()
        session.commit()


def run_check(factory: Factory, job_id: uuid.UUID, settings: Settings) -> None:
    """The dry run: the engine on the whole file, rolled back; the report kept on the job."""
    try:
        with tempfile.TemporaryDirectory(prefix="wafa-import-") as scratch:
            folder = Path(scratch)
            with factory() as session:
                job = get_job(session, job_id)
                path = folder / "upload.csv"
                path.write_bytes(job.upload)
                errors_path = folder / "rejected.csv"
                try:
                    report = _engine(
                        session, job, path, settings,
                        dry_run=True, skip_invalid=True, errors_path=errors_path,
                    )  # fmt: skip
                except (FileRefused, ImportRejected) as exc:
                    session.rollback()
                    _finish(factory, job_id, status=JobStatus.refused, report=_refusal(exc))
                    return
                finally:
                    session.rollback()  # a dry run: nothing of the file stays
            rejected = errors_path.read_bytes() if errors_path.exists() else None
            _finish(factory, job_id, status=JobStatus.checked, report=report, error_file=rejected)
    except Exception as exc:  # the page must say so, not spin
        _finish(
            factory,
            job_id,
            status=JobStatus.failed,
            report={"message": f"the check stopped: {type(exc).__name__}: {exc}"[:2000]},
        )
        raise
    finally:
        with _lock:
            _progress.pop(job_id, None)


def run_import(factory: Factory, job_id: uuid.UUID, settings: Settings) -> None:
    """The import itself, all of it or none; the job marked done in the same transaction."""
    try:
        with tempfile.TemporaryDirectory(prefix="wafa-import-") as scratch:
            folder = Path(scratch)
            with factory() as session:
                job = get_job(session, job_id)
                path = folder / "upload.csv"
                path.write_bytes(job.upload)
                try:
                    report = _engine(
                        session, job, path, settings, dry_run=False,
                        skip_invalid=job.skip_invalid, errors_path=folder / "rejected.csv",
                    )  # fmt: skip
                except (FileRefused, ImportRejected) as exc:
                    session.rollback()
                    _finish(factory, job_id, status=JobStatus.failed, report=_refusal(exc))
                    return
                except BaseException:
                    session.rollback()
                    raise
                job.status = JobStatus.done.value
                job.report = report
                job.finished_at = utcnow()
                session.commit()
    except Exception as exc:
        _finish(
            factory,
            job_id,
            status=JobStatus.failed,
            report={
                "message": f"the import stopped, nothing was written: {type(exc).__name__}: {exc}"[
                    :2000
                ]
            },
        )
        raise
    finally:
        with _lock:
            _progress.pop(job_id, None)
