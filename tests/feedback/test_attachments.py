"""Photos and PDFs on complaints: checked by content, photos stripped of EXIF/GPS, limits
named by field, stored in the complaint's transaction, served only to those who may see
them (staff who may work the complaint, the customer who filed it), erased and exported
with the person."""

from __future__ import annotations

import io
import re
import threading
import uuid

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import create_customer
from tests.feedback.test_web import login
from tests.portal.helpers import member, sign_in
from wafa.app.domains import people_hooks
from wafa.auth.models import Role
from wafa.core.db import session_factory, session_scope
from wafa.core.settings import Settings
from wafa.feedback import attachments, complaints
from wafa.feedback.attachments import AttachmentRefused, AttachmentTooLarge, Upload
from wafa.feedback.models import Complaint, ComplaintAttachment, ComplaintChannel
from wafa.feedback.schemas import ComplaintCreate
from wafa.people import service as people

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg(size: tuple[int, int] = (64, 32), *, gps: bool = True, orientation: int = 1) -> bytes:
    """A JPEG as a phone writes it: EXIF with a camera, a GPS position, an orientation."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 15"  # Model
    exif[ORIENTATION] = orientation
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (35.0, 41.0, 46.0), 3: "E", 4: (51.0, 25.0, 23.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def png(size: tuple[int, int] = (20, 20)) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "home address: 12 Secret Lane")
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 0, 255, 128)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 200, 0)).save(out, "WEBP")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def file(session: Session, settings: Settings, customer_id: uuid.UUID, **kw: object) -> Complaint:
    data = ComplaintCreate.model_validate(
        {"customer_id": customer_id, "category": "damaged", "text": "Broken cup", **kw}
    )
    return complaints.file_complaint(
        session, settings=settings, data=data, channel=ComplaintChannel.dashboard, by="test"
    )


def stored(session: Session, complaint_id: uuid.UUID) -> list[ComplaintAttachment]:
    return list(
        session.scalars(
            select(ComplaintAttachment).where(ComplaintAttachment.complaint_id == complaint_id)
        )
    )


class TestPrepare:
    def test_a_phone_photo_loses_its_gps_and_camera_and_stands_upright(self) -> None:
        sent = jpeg((64, 32), orientation=6)  # "rotate 90°": the photo was taken upright
        assert Image.open(io.BytesIO(sent)).getexif().get_ifd(GPS_IFD)
        ready = attachments.prepare(Upload(sent, "IMG_0001.JPG"))
        kept = Image.open(io.BytesIO(ready.data))
        assert kept.format == "JPEG"
        assert dict(kept.getexif()) == {}
        assert b"PhoneMaker" not in ready.data and b"GPS" not in ready.data
        assert (kept.width, kept.height) == (32, 64) == (ready.width, ready.height)
        assert ready.content_type == "image/jpeg" and ready.filename == "IMG_0001.jpg"

    def test_png_text_chunks_are_left_behind_and_webp_is_taken(self) -> None:
        ready = attachments.prepare(Upload(png(), "scan.png"))
        assert b"Secret Lane" not in ready.data
        assert Image.open(io.BytesIO(ready.data)).mode == "RGBA"
        assert attachments.prepare(Upload(webp(), "x.webp")).content_type == "image/webp"

    def test_the_type_comes_from_the_bytes_not_the_name(self) -> None:
        ready = attachments.prepare(Upload(PDF, "receipt.jpg"))
        assert (ready.content_type, ready.filename, ready.data) == (
            "application/pdf",
            "receipt.pdf",
            PDF,
        )
        photo = attachments.prepare(Upload(jpeg(), "../../etc/evil\x00.pdf"))
        assert photo.content_type == "image/jpeg" and photo.filename == "evil.jpg"

    @pytest.mark.parametrize(
        ("data", "reason"),
        [
            (b"<html><script>alert(1)</script></html>", "not a photo"),
            (b"GIF89a" + b"\x00" * 20, "not a photo"),
            (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40, "HEIC"),
            (b"\xff\xd8\xff\xe0" + b"<script>" * 10, "could not be read"),
            (b"", "empty"),
        ],
    )
    def test_what_is_not_a_photo_or_pdf_is_refused_naming_the_field(
        self, data: bytes, reason: str
    ) -> None:
        with pytest.raises(AttachmentRefused) as refused:
            attachments.prepare_all([Upload(jpeg()), Upload(data, "photo.jpg")])
        assert refused.value.status == 422
        assert refused.value.errors[0][0] == ("files", 1)
        assert reason in refused.value.errors[0][1]

    def test_a_vast_image_is_refused_before_it_is_decoded(self) -> None:
        # A PNG header that claims 50,000 × 50,000 pixels (2.5 gigapixels): the size is read
        # from the header and refused; no pixel is made.
        out = io.BytesIO()
        Image.new("1", (1, 1)).save(out, "PNG")
        header = bytearray(out.getvalue())
        header[16:24] = (50_000).to_bytes(4, "big") + (50_000).to_bytes(4, "big")
        with pytest.raises(AttachmentRefused) as refused:
            attachments.prepare(Upload(bytes(header), "bomb.png"))
        assert refused.value.errors[0][0] == ("file",)

    def test_a_file_over_the_limit_is_413_naming_it(self) -> None:
        with pytest.raises(AttachmentTooLarge) as refused:
            attachments.prepare_all([Upload(PDF + b"0" * attachments.MAX_BYTES, "big.pdf")])
        assert refused.value.status == 413
        assert refused.value.errors[0][0] == ("files", 0)

    def test_too_many_files_at_once(self) -> None:
        with pytest.raises(AttachmentRefused) as refused:
            attachments.prepare_all([Upload(PDF)] * (attachments.MAX_FILES + 1))
        assert refused.value.errors[0][0] == ("files",)


class TestAttach:
    def test_kept_once_per_content_and_within_the_count(
        self, session: Session, settings: Settings
    ) -> None:
        customer = create_customer(session)
        complaint = file(session, settings, customer.id)
        photo = attachments.prepare(Upload(jpeg(), "a.jpg"))
        first = attachments.attach(
            session, complaint_id=complaint.id, files=[photo, photo], from_customer=True, by="c"
        )
        assert len({a.id for a in first}) == 1 and len(stored(session, complaint.id)) == 1
        others = [
            attachments.prepare(Upload(PDF + str(i).encode(), f"{i}.pdf"))
            for i in range(attachments.MAX_FILES)
        ]
        with pytest.raises(AttachmentRefused) as refused:
            attachments.attach(
                session, complaint_id=complaint.id, files=others, from_customer=False, by="s"
            )
        assert refused.value.errors[0] == (
            ("files",),
            f"a complaint holds at most {attachments.MAX_FILES} files; "
            f"{attachments.MAX_FILES - 1} more can be added",
        )
        assert len(stored(session, complaint.id)) == 1
        attachments.attach(
            session, complaint_id=complaint.id, files=others[:-1], from_customer=False, by="s"
        )
        assert len(stored(session, complaint.id)) == attachments.MAX_FILES

    def test_erase_deletes_them_and_export_carries_what_the_customer_sees(
        self, session: Session, settings: Settings
    ) -> None:
        import base64

        customer = create_customer(session)
        complaint = file(session, settings, customer.id)
        mine = attachments.prepare(Upload(jpeg(), "mine.jpg"))
        internal = attachments.prepare(Upload(PDF, "stock-note.pdf"))
        attachments.attach(
            session, complaint_id=complaint.id, files=[mine], from_customer=True, by="c"
        )
        attachments.attach(
            session,
            complaint_id=complaint.id,
            files=[internal],
            from_customer=False,
            shared=False,
            by="s",
        )
        everything = people.export_customer(session, customer.id, hooks=people_hooks())
        [exported] = everything["feedback"]["complaints"]
        [shown] = exported["attachments"]
        assert shown["filename"] == "mine.jpg"
        assert base64.b64decode(shown["data_base64"]) == mine.data
        people.erase_customer(
            session,
            settings=settings,
            customer_id=customer.id,
            erased_by="test",
            hooks=people_hooks(),
        )
        session.flush()
        assert stored(session, complaint.id) == []
        assert session.get(Complaint, complaint.id) is not None  # still counted


def test_two_uploads_at_once_cannot_pass_the_count(committed_db: Settings) -> None:
    """Real commits on both databases: MAX_FILES - 1 files held, two requests of two files
    each at once; one is kept, the other refused; never more than MAX_FILES."""
    settings = committed_db
    with session_scope(settings) as s:
        customer = create_customer(s)
        complaint = file(s, settings, customer.id)
        held = [
            attachments.prepare(Upload(PDF + f"h{i}".encode()))
            for i in range(attachments.MAX_FILES - 2)
        ]
        attachments.attach(s, complaint_id=complaint.id, files=held, from_customer=False, by="s")
        complaint_id = complaint.id
    factory = session_factory(settings)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def upload(tag: str) -> None:
        files = [attachments.prepare(Upload(PDF + f"{tag}{i}".encode())) for i in range(2)]
        barrier.wait()
        try:
            with factory() as session, session.begin():
                attachments.attach(
                    session, complaint_id=complaint_id, files=files, from_customer=True, by="c"
                )
            outcomes.append("kept")
        except AttachmentRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=upload, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes) == ["kept", "refused"]
    with factory() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(ComplaintAttachment)
                .where(ComplaintAttachment.complaint_id == complaint_id)
            )
            == attachments.MAX_FILES
        )


# --------------------------------------------------------------------------- the API


class TestApi:
    def test_upload_list_and_serve(
        self, api: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = create_customer(session)
        complaint = file(session, settings, customer.id)
        session.flush()
        url = f"/api/v1/complaints/{complaint.id}/attachments"
        made = api.post(
            url,
            files=[
                ("files", ("IMG_1.jpg", jpeg(), "image/jpeg")),
                ("files", ("label.pdf", PDF, "image/png")),  # the browser's type is ignored
            ],
            data={"from_customer": "true"},
        )
        assert made.status_code == 201, made.text
        photo, pdf = made.json()
        assert (photo["content_type"], pdf["content_type"]) == ("image/jpeg", "application/pdf")
        assert photo["from_customer"] and photo["shared"]
        listed = api.get(url).json()
        assert [a["id"] for a in listed] == [photo["id"], pdf["id"]]
        image = api.get(f"{url}/{photo['id']}")
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/jpeg"
        assert image.headers["x-content-type-options"] == "nosniff"
        assert image.headers["content-disposition"].startswith("inline;")
        assert image.headers["etag"] == f'"{photo["sha256"]}"'
        assert "sandbox" in image.headers["content-security-policy"]
        assert dict(Image.open(io.BytesIO(image.content)).getexif()) == {}
        document = api.get(f"{url}/{pdf['id']}")
        assert document.headers["content-disposition"].startswith("attachment;")
        assert document.content == PDF

    def test_refusals_name_the_field_and_keep_nothing(
        self, api: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = create_customer(session)
        complaint = file(session, settings, customer.id)
        session.flush()
        url = f"/api/v1/complaints/{complaint.id}/attachments"
        wrong = api.post(
            url,
            files=[
                ("files", ("ok.jpg", jpeg(), "image/jpeg")),
                ("files", ("page.jpg", b"<svg onload=alert(1)>", "image/jpeg")),
            ],
        )
        assert wrong.status_code == 422
        assert wrong.headers["content-type"] == "application/problem+json"
        assert wrong.json()["errors"][0]["loc"] == ["files", 1]
        big = api.post(
            url, files=[("files", ("big.pdf", PDF + b"0" * attachments.MAX_BYTES, "x/y"))]
        )
        assert big.status_code == 413
        assert big.json()["errors"][0]["loc"] == ["files", 0]
        assert stored(session, complaint.id) == []

    def test_another_complaints_file_is_not_found(
        self, api: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = create_customer(session)
        one, two = file(session, settings, customer.id), file(session, settings, customer.id)
        [kept] = attachments.attach(
            session,
            complaint_id=one.id,
            files=[attachments.prepare(Upload(PDF))],
            from_customer=True,
            by="c",
        )
        session.flush()
        assert api.get(f"/api/v1/complaints/{two.id}/attachments/{kept.id}").status_code == 404


# --------------------------------------------------------------------------- the portal


def _portal_form(client: TestClient) -> dict[str, str]:
    page = client.get("/portal/feedback").text
    return {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
        "nonce": re.search(r'name="nonce" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
    }


class TestPortal:
    def test_a_customer_files_with_a_photo_and_sees_only_their_own(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = member(session, settings, name="Reza Mine")
        sign_in(client, session, settings, customer)
        form = {**_portal_form(client), "category": "damaged", "text": "The cup arrived broken."}
        sent = client.post(
            "/portal/feedback",
            data=form,
            files=[("files", ("cup.jpg", jpeg(), "image/jpeg"))],
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        [filed] = session.scalars(select(Complaint).where(Complaint.customer_id == customer.id))
        [photo] = stored(session, filed.id)
        assert photo.from_customer and photo.shared
        internal = attachments.attach(
            session,
            complaint_id=filed.id,
            files=[attachments.prepare(Upload(PDF, "internal.pdf"))],
            from_customer=False,
            shared=False,
            by="s",
        )[0]
        session.flush()
        page = client.get("/portal/feedback").text
        href = f"/portal/feedback/{filed.id}/files/{photo.id}"
        assert href in page and "internal.pdf" not in page
        served = client.get(href)
        assert served.status_code == 200 and served.headers["x-content-type-options"] == "nosniff"
        assert client.get(f"/portal/feedback/{filed.id}/files/{internal.id}").status_code == 404
        # Another customer, signed in on another browser, reaches nothing.
        other = member(session, settings, email="other@example.com")
        with TestClient(client.app) as stranger:
            sign_in(stranger, session, settings, other)
            assert stranger.get(href).status_code == 404

    def test_a_refused_file_files_nothing_and_says_which(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = member(session, settings)
        sign_in(client, session, settings, customer)
        form = {**_portal_form(client), "category": "damaged", "text": "Cracked."}
        sent = client.post(
            "/portal/feedback",
            data=form,
            files=[
                ("files", ("cup.jpg", jpeg(), "image/jpeg")),
                ("files", ("notes.docx", b"PK\x03\x04 not a photo", "image/jpeg")),
            ],
        )
        assert sent.status_code == 422
        assert "notes.docx" in sent.text and "Cracked." in sent.text
        assert (
            session.scalars(select(Complaint).where(Complaint.customer_id == customer.id)).all()
            == []
        )
        assert session.scalar(select(func.count()).select_from(ComplaintAttachment)) == 0

    def test_files_are_added_to_my_own_complaint_only(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = member(session, settings)
        other = member(session, settings, email="other@example.com")
        mine = file(session, settings, customer.id)
        theirs = file(session, settings, other.id)
        session.flush()
        sign_in(client, session, settings, customer)
        token = _portal_form(client)["csrf_token"]
        for _ in range(2):  # sent twice: kept once
            added = client.post(
                f"/portal/feedback/{mine.id}/files",
                data={"csrf_token": token},
                files=[("files", ("scan.png", png(), "image/png"))],
                follow_redirects=False,
            )
            assert added.status_code == 303
        assert [a.content_type for a in stored(session, mine.id)] == ["image/png"]
        refused = client.post(
            f"/portal/feedback/{theirs.id}/files",
            data={"csrf_token": token},
            files=[("files", ("scan.png", png(), "image/png"))],
        )
        assert refused.status_code == 404
        assert stored(session, theirs.id) == []


# --------------------------------------------------------------------------- the dashboard


class TestDashboard:
    def test_staff_attach_and_see_files_but_not_on_criticism_of_themselves(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        cashier_id = login(client, session, Role.cashier, "cashier@example.com")
        customer = create_customer(session)
        about_me = file(session, settings, customer.id, staff_id=cashier_id, category="staff")
        other = file(session, settings, customer.id)
        for complaint in (about_me, other):
            attachments.attach(
                session,
                complaint_id=complaint.id,
                files=[attachments.prepare(Upload(jpeg(), "cup.jpg"))],
                from_customer=True,
                by="customer",
            )
        session.flush()
        page = client.get(f"/feedback/complaints/{other.id}").text
        [href] = re.findall(rf'href="(/feedback/complaints/{other.id}/attachments/[^"]+)"', page)
        assert client.get(href).headers["content-type"] == "image/jpeg"
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        added = client.post(
            f"/feedback/complaints/{other.id}/attachments",
            data={"csrf_token": token, "shared": "true"},
            files=[("files", ("refund.pdf", PDF, "application/pdf"))],
            follow_redirects=False,
        )
        assert added.status_code == 303
        kept = {a.filename: a for a in stored(session, other.id)}
        assert kept["refund.pdf"].shared and not kept["refund.pdf"].from_customer
        hidden = client.get(f"/feedback/complaints/{about_me.id}").text
        assert "/attachments/" not in hidden
        [theirs] = stored(session, about_me.id)
        assert (
            client.get(f"/feedback/complaints/{about_me.id}/attachments/{theirs.id}").status_code
            == 404
        )
