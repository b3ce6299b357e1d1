"""Photos and PDFs attached to a complaint, by the customer (portal, API) or by staff.

Rules, each in one place:

* What is accepted is decided by the bytes, never by the name or the browser's type:
  JPEG, PNG and WebP photos (read by Pillow) and PDFs (``%PDF-``). HEIC is refused with a
  reason: Pillow cannot read it without a native plug-in, and phones send JPEG to a web form
  that asks for JPEG (the ``accept`` list of our forms). Anything else is refused.
* A photo is decoded and written again (Pillow): its EXIF block (GPS position, camera,
  time), XMP and text chunks are left behind, its orientation applied to the pixels, and
  a file that only pretends to be a photo (a polyglot) cannot survive the round trip. A
  photo over ``MAX_PIXELS`` is refused before it is decoded. PDFs are kept as sent (their
  metadata is not rewritten: no PDF library is a dependency) and only ever served as a
  download.
* At most ``MAX_BYTES`` per file (413 naming the field) and ``MAX_FILES`` per complaint
  (422 naming the field), counted with the complaint's row locked, so two uploads at once
  cannot pass the limit together. The same bytes sent twice are kept once.
* Where: in the database (``complaint_attachments.data``), not on disk. A complaint and its
  files are written in one transaction, so a failed upload (a bad file, a crash, a lost
  connection) leaves no half-written file and no row pointing at a missing one; erasure and
  export reach them in the person's own transaction; a backup of the database holds them;
  several server processes need no shared folder. The price is a larger database: bounded
  by ``MAX_FILES`` × ``MAX_BYTES`` per complaint, and photos shrink when re-encoded.
  ``sha256`` (of the stored bytes) names the content: the ETag, and the unique key.
* Who sees them: staff who may work the complaint (never a staff member reading criticism
  of themselves, which hides the customer); the customer who filed the complaint, for their
  own files and those staff chose to show them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
import warnings
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, ClassVar
from urllib.parse import quote

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, undefer

from wafa.core.errors import Invalid
from wafa.core.ids import new_id
from wafa.core.time import utcnow
from wafa.feedback.models import Complaint, ComplaintAttachment

#: Largest file accepted (bytes, as sent).
MAX_BYTES = 10 * 1024 * 1024
#: Most files one complaint holds (customer's and staff's together).
MAX_FILES = 8
#: Largest photo decoded (pixels): 40 megapixels is past any phone camera; a "decompression
#: bomb" (a tiny file that claims a vast image) is refused before its pixels are made.
MAX_PIXELS = 40_000_000
#: The body limit of a route taking files: a whole complaint's worth, and its form fields.
BODY_LIMIT = MAX_FILES * MAX_BYTES + 1024 * 1024
#: What the file pickers offer (phones convert HEIC photos to JPEG for such a list).
ACCEPT = "image/jpeg,image/png,image/webp,application/pdf"
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
CONTENT_TYPES = (*sorted(IMAGE_TYPES), "application/pdf")
_EXTENSION = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}
_PILLOW_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif")


class AttachmentTooLarge(Invalid):
    """A file over ``MAX_BYTES``: 413, naming the field."""

    code = "attachment-too-large"
    status: ClassVar[int] = 413
    title = "File too large"


class AttachmentRefused(Invalid):
    """Not a photo or PDF we take, unreadable, or one file too many: 422 naming the field."""

    code = "attachment-refused"


@dataclass(frozen=True)
class Upload:
    """A file as it arrived: its bytes and the name the sender gave it (shown, never trusted)."""

    data: bytes
    filename: str | None = None


@dataclass(frozen=True)
class Prepared:
    """A checked file, ready to store: bytes (a photo's rewritten), type, digest, name."""

    data: bytes
    content_type: str
    sha256: str
    filename: str
    width: int | None
    height: int | None


def sniff(data: bytes) -> str | None:
    """The type the bytes are (``image/jpeg``, ``image/png``, ``image/webp``,
    ``application/pdf``, ``image/heic`` for the HEIF family), or ``None``."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "image/heic"
    return None


def _name(filename: str | None, content_type: str) -> str:
    """A display name: the sender's stem (no folders, no control characters), the
    extension of what the bytes really are."""
    stem = PurePath((filename or "").replace("\\", "/")).stem
    stem = "".join(ch for ch in stem if ch.isprintable() and ch not in '"/\\;').strip(" .")
    return (stem[:100] or "attachment") + _EXTENSION[content_type]


def _rewrite(data: bytes, content_type: str, loc: tuple[str | int, ...]) -> tuple[bytes, int, int]:
    """Decode the photo and write it again without its metadata (EXIF, GPS, XMP, text)."""
    unreadable = AttachmentRefused.field(loc, "this photo could not be read")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMAT[content_type]]) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise AttachmentRefused.field(
                        loc, f"the photo is larger than {MAX_PIXELS // 1_000_000} megapixels"
                    )
                image.load()
                upright = ImageOps.exif_transpose(image)
                icc = image.info.get("icc_profile")
                out = io.BytesIO()
                options: dict[str, Any] = {"icc_profile": icc} if icc else {}
                if content_type == "image/jpeg":
                    if upright.mode not in ("RGB", "L", "CMYK"):
                        upright = upright.convert("RGB")
                    upright.save(out, "JPEG", quality=90, **options)
                elif content_type == "image/png":
                    upright.save(out, "PNG", **options)
                else:
                    upright.save(out, "WEBP", quality=90, **options)
                return out.getvalue(), upright.size[0], upright.size[1]
    except AttachmentRefused:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise unreadable from None
    except Image.DecompressionBombWarning:
        raise unreadable from None


def prepare(upload: Upload, *, loc: tuple[str | int, ...] = ("file",)) -> Prepared:
    """Check one file by its content and make it ready to store; raise naming ``loc``."""
    data = upload.data
    if not data:
        raise AttachmentRefused.field(loc, "the file is empty")
    if len(data) > MAX_BYTES:
        raise AttachmentTooLarge.field(loc, f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    kind = sniff(data)
    if kind == "image/heic":
        raise AttachmentRefused.field(
            loc, "HEIC photos are not accepted: send it as JPEG (a phone does when asked)"
        )
    if kind is None:
        raise AttachmentRefused.field(loc, "not a photo (JPEG, PNG, WebP) or a PDF")
    width = height = None
    if kind in IMAGE_TYPES:
        data, width, height = _rewrite(data, kind, loc)
    return Prepared(
        data=data,
        content_type=kind,
        sha256=hashlib.sha256(data).hexdigest(),
        filename=_name(upload.filename, kind),
        width=width,
        height=height,
    )


def prepare_all(uploads: list[Upload], *, field: str = "files") -> list[Prepared]:
    """Check every file before anything is written; the first bad one names its place."""
    if len(uploads) > MAX_FILES:
        raise AttachmentRefused.field((field,), f"at most {MAX_FILES} files")
    return [prepare(u, loc=(field, i)) for i, u in enumerate(uploads)]


def attach(
    session: Session,
    *,
    complaint_id: uuid.UUID,
    files: list[Prepared],
    from_customer: bool,
    shared: bool = True,
    by: str | None,
    staff_id: uuid.UUID | None = None,
    field: str = "files",
) -> list[ComplaintAttachment]:
    """Keep ``files`` (checked by ``prepare``) on the complaint, within ``MAX_FILES``.

    The complaint's row is locked first (``FOR UPDATE`` on PostgreSQL; SQLite's writer
    holds the database), so the count cannot be passed by two uploads at once. A file
    already on the complaint (same digest) is not kept again: its first row is returned.
    """
    if not files:
        return []
    locked = session.scalar(
        select(Complaint.id).where(Complaint.id == complaint_id).with_for_update()
    )
    if locked is None:
        from wafa.feedback.complaints import ComplaintNotFound

        raise ComplaintNotFound("no such complaint", complaint_id=str(complaint_id))
    held = {
        a.sha256: a
        for a in session.scalars(
            select(ComplaintAttachment).where(ComplaintAttachment.complaint_id == complaint_id)
        )
    }
    fresh = {f.sha256: f for f in files if f.sha256 not in held}
    if len(held) + len(fresh) > MAX_FILES:
        left = max(MAX_FILES - len(held), 0)
        raise AttachmentRefused.field(
            (field,), f"a complaint holds at most {MAX_FILES} files; {left} more can be added"
        )
    now = utcnow()
    kept: list[ComplaintAttachment] = []
    for f in files:
        if f.sha256 in held:
            kept.append(held[f.sha256])
            continue
        row = ComplaintAttachment(
            id=new_id(),
            complaint_id=complaint_id,
            sha256=f.sha256,
            content_type=f.content_type,
            size=len(f.data),
            filename=f.filename,
            width=f.width,
            height=f.height,
            shared=shared or from_customer,
            from_customer=from_customer,
            staff_id=staff_id,
            by=by,
            created_at=now,
            data=f.data,
        )
        session.add(row)
        held[f.sha256] = row
        kept.append(row)
    session.flush()
    return kept


def for_complaint(
    session: Session, complaint_id: uuid.UUID, *, customer_view: bool = False
) -> list[ComplaintAttachment]:
    """The complaint's files, oldest first, without their bytes (``customer_view``: only
    those the customer sees)."""
    query = select(ComplaintAttachment).where(ComplaintAttachment.complaint_id == complaint_id)
    if customer_view:
        query = query.where(ComplaintAttachment.shared.is_(True))
    return list(
        session.scalars(query.order_by(ComplaintAttachment.created_at, ComplaintAttachment.id))
    )


def for_complaints(
    session: Session, complaint_ids: list[uuid.UUID], *, customer_view: bool = False
) -> dict[uuid.UUID, list[ComplaintAttachment]]:
    """``for_complaint`` for many complaints in one query."""
    found: dict[uuid.UUID, list[ComplaintAttachment]] = {cid: [] for cid in complaint_ids}
    if not complaint_ids:
        return found
    query = select(ComplaintAttachment).where(ComplaintAttachment.complaint_id.in_(complaint_ids))
    if customer_view:
        query = query.where(ComplaintAttachment.shared.is_(True))
    for a in session.scalars(
        query.order_by(ComplaintAttachment.created_at, ComplaintAttachment.id)
    ):
        found[a.complaint_id].append(a)
    return found


def get(
    session: Session,
    *,
    complaint_id: uuid.UUID,
    attachment_id: uuid.UUID,
    customer_id: uuid.UUID | None = None,
) -> ComplaintAttachment:
    """One file with its bytes. With ``customer_id`` (the portal): only a file shown to that
    customer on their own complaint; anything else is ``NotFound``, never a hint."""
    from wafa.feedback.complaints import ComplaintNotFound

    query = (
        select(ComplaintAttachment)
        .options(undefer(ComplaintAttachment.data))
        .where(
            ComplaintAttachment.id == attachment_id,
            ComplaintAttachment.complaint_id == complaint_id,
        )
    )
    if customer_id is not None:
        query = query.join(Complaint, Complaint.id == ComplaintAttachment.complaint_id).where(
            Complaint.customer_id == customer_id, ComplaintAttachment.shared.is_(True)
        )
    found = session.scalar(query)
    if found is None:
        raise ComplaintNotFound("no such attachment", attachment_id=str(attachment_id))
    return found


def count(session: Session, complaint_id: uuid.UUID) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ComplaintAttachment)
            .where(ComplaintAttachment.complaint_id == complaint_id)
        )
        or 0
    )


# --------------------------------------------------------------------------- personal data


def export(
    session: Session, complaint_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The files of these complaints the customer sees (theirs, and staff's shown to them;
    internal ones stay out, like internal notes), with their bytes (base64), for the export."""
    found: dict[uuid.UUID, list[dict[str, Any]]] = {cid: [] for cid in complaint_ids}
    if not complaint_ids:
        return found
    rows = session.scalars(
        select(ComplaintAttachment)
        .options(undefer(ComplaintAttachment.data))
        .where(
            ComplaintAttachment.complaint_id.in_(complaint_ids),
            ComplaintAttachment.shared.is_(True),
        )
        .order_by(ComplaintAttachment.created_at, ComplaintAttachment.id)
    )
    for a in rows:
        found[a.complaint_id].append(
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "from_customer": a.from_customer,
                "shown_to_customer": a.shared,
                "created_at": a.created_at.isoformat(),
                "data_base64": base64.b64encode(a.data).decode(),
            }
        )
    return found


def erase(session: Session, customer_id: uuid.UUID) -> None:
    """Delete every file on the person's complaints (theirs and staff's: photos of them,
    their order, their receipt); the complaints themselves stay counted."""
    session.execute(
        delete(ComplaintAttachment)
        .where(
            ComplaintAttachment.complaint_id.in_(
                select(Complaint.id).where(Complaint.customer_id == customer_id)
            )
        )
        .execution_options(synchronize_session=False)
    )


# --------------------------------------------------------------------------- serving


def headers(attachment: ComplaintAttachment) -> dict[str, str]:
    """What every face sends with a file: its stored type and ``nosniff`` (the browser never
    guesses another), a photo shown in place and anything else only as a download, a
    sandbox with no sources (a file can run nothing), never cached by a shared cache, and
    the digest as the ETag."""
    ascii_name = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_"
        for ch in attachment.filename
    )
    disposition = "inline" if attachment.content_type in IMAGE_TYPES else "attachment"
    return {
        "Content-Type": attachment.content_type,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": (
            f'{disposition}; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(attachment.filename, safe='')}"
        ),
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": "private, no-cache",
        "Referrer-Policy": "no-referrer",
        "ETag": f'"{attachment.sha256}"',
    }
