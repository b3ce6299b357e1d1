"""Email over SMTP: one reused connection, STARTTLS or implicit TLS, AUTH, DKIM.

``WAFA_SMTP_URL``: ``smtp://[user:pass@]host:port`` speaks plain SMTP and upgrades with
STARTTLS when the server offers it; ``smtps://...`` opens with TLS (port 465). The
connection stays open between messages (checked with NOOP after an idle spell) and is
opened again when the server drops it between messages.

The three steps of a send are told apart so that a failure means what it says: a
refusal or a dropped connection during ``MAIL FROM``/``RCPT TO`` or before the data's
end was sent is nothing delivered (``temporary``, or ``permanent`` for 5xx); a dropped
connection while waiting for the answer to the data is ``unknown`` — the server may
have accepted the message — and the pipeline never sends that message again.
"""

from __future__ import annotations

import base64
import contextlib
import smtplib
import ssl
import time
from email.headerregistry import Address
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dkim

from wafa.core.time import utcnow
from wafa.messaging.channels.base import Health, Outcome, Outgoing, RateLimiter, SendResult

# Headers DKIM signs: what a receiver shows and what an unsubscribe relies on (RFC 8058 §4).
DKIM_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"reply-to",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)
IDLE_CHECK_SECONDS = 20.0


class SmtpConfigError(ValueError):
    """``WAFA_SMTP_URL`` cannot be read."""


class SmtpUrl:
    """The parts of an ``smtp://`` or ``smtps://`` URL."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise SmtpConfigError("WAFA_SMTP_URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise SmtpConfigError("WAFA_SMTP_URL has no host")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None

    def __str__(self) -> str:
        who = f"{self.user}@" if self.user else ""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{who}{self.host}:{self.port}"


class Dkim:
    """Signs messages with an RSA private key read from a PEM file (rsa-sha256, relaxed/relaxed)."""

    def __init__(self, key_file: str, *, selector: str, domain: str) -> None:
        self.key = Path(key_file).read_bytes()
        self.selector = selector.encode()
        self.domain = domain.encode()

    def sign(self, raw: bytes) -> bytes:
        """``raw`` with a ``DKIM-Signature`` header in front."""
        present = {
            line.split(b":", 1)[0].strip().lower()
            for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            if b":" in line and not line.startswith((b" ", b"\t"))
        }
        headers = [h for h in DKIM_HEADERS if h in present]
        signature = dkim.sign(
            raw,
            self.selector,
            self.domain,
            self.key,
            include_headers=headers,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=b"rsa-sha256",
        )
        return bytes(signature) + raw


@lru_cache(maxsize=64)
def _address_header(value: str) -> str:
    """``Name <addr>`` with a non-ASCII name encoded (RFC 2047), quoted where needed (the
    few senders of a worker: cached)."""
    name, addr = parseaddr(value)
    return formataddr((name, addr), charset="utf-8") if name else addr


# An encoded word is at most 75 characters (RFC 2047 §2): "=?utf-8?b?" + 60 + "?=" carries
# 45 bytes of UTF-8.
_WORD_BYTES = 45


def _encoded(value: str) -> str:
    """A header value as ASCII: RFC 2047 base64 encoded words when it is not ASCII already,
    split between characters (never inside one), folded with CRLF and a space."""
    if value.isascii():
        return value
    words: list[bytes] = []
    chunk = bytearray()
    for char in value:
        data = char.encode("utf-8")
        if len(chunk) + len(data) > _WORD_BYTES:
            words.append(bytes(chunk))
            chunk.clear()
        chunk += data
    words.append(bytes(chunk))
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


def _base64_lines(text: str) -> str:
    """UTF-8 ``text`` in base64 lines of 76 characters, CRLF line ends."""
    return base64.encodebytes(text.encode("utf-8")).decode("ascii").replace("\n", "\r\n")


def build_email(
    message: Outgoing, *, sender: str, reply_to: str | None, message_domain: str
) -> tuple[bytes, str]:
    """The MIME message (text, and HTML as an alternative) and its Message-ID.

    The worker's hot path: the ``email`` package's generators re-parse or re-fold every
    header, milliseconds a message, so the few lines of a ``multipart/alternative`` are
    written here directly: ASCII headers (RFC 2047 encoded words for names and subjects
    that are not ASCII), UTF-8 bodies in base64 lines of 76 characters, CRLF line ends.
    The tests read every message back with the ``email`` package and verify DKIM over it.
    """
    if any(c in message.to for c in "\r\n<>,"):
        raise ValueError(f"not a single address: {message.to!r}")
    message_id = make_msgid(idstring=message.message_id.hex, domain=message_domain)
    lines = [
        f"From: {_address_header(sender)}",
        f"To: {message.to}",
    ]
    if reply_to:
        lines.append(f"Reply-To: {_address_header(reply_to)}")
    lines += [
        # A staff template may render line breaks into a subject: never a header break.
        f"Subject: {_encoded(' '.join((message.subject or '').split()))}",
        f"Date: {format_datetime(utcnow())}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        f"Content-Language: {message.locale}",
    ]
    for name, value in message.headers.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name} may not contain a line break")
        lines.append(f"{name}: {value}")
    plain = (
        'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + _base64_lines(message.text)
    )
    if message.html is None:
        lines.append(plain)
    else:
        boundary = f"=_wafa_{message.message_id.hex}"
        html = (
            'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            + _base64_lines(message.html)
        )
        lines.append(
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\n{plain}--{boundary}\r\n{html}--{boundary}--\r\n"
        )
    return "\r\n".join(lines).encode("ascii"), message_id


@lru_cache(maxsize=64)
def _domain(address: str) -> str:
    try:
        return Address(addr_spec=address.split("<")[-1].rstrip(">").strip()).domain or "localhost"
    except (ValueError, IndexError):
        return address.rsplit("@", 1)[-1].rstrip(">") or "localhost"


class SmtpChannel:
    """The email channel."""

    name = "smtp"

    def __init__(
        self,
        url: str,
        *,
        mail_from: str,
        marketing_from: str | None = None,
        reply_to: str | None = None,
        dkim_signer: Dkim | None = None,
        rate: float = 0.0,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.url = SmtpUrl(url)
        self.mail_from = mail_from
        self.marketing_from = marketing_from or mail_from
        self.reply_to = reply_to
        self.dkim = dkim_signer
        self.timeout = timeout
        self.limiter = RateLimiter(rate)
        self.tls_context = tls_context or ssl.create_default_context()
        self._conn: smtplib.SMTP | None = None
        self._last_used = 0.0

    # ------------------------------------------------------------------ connection

    def _connect(self) -> smtplib.SMTP:
        host, port = self.url.host, self.url.port
        conn: smtplib.SMTP
        if self.url.implicit_tls:
            conn = smtplib.SMTP_SSL(host, port, timeout=self.timeout, context=self.tls_context)
        else:
            conn = smtplib.SMTP(host, port, timeout=self.timeout)
        conn.ehlo()
        if not self.url.implicit_tls and conn.has_extn("starttls"):
            conn.starttls(context=self.tls_context)
            conn.ehlo()
        if self.url.user:
            conn.login(self.url.user, self.url.password or "")
        return conn

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None and time.monotonic() - self._last_used > IDLE_CHECK_SECONDS:
            try:
                code, _ = self._conn.noop()
                if code != 250:
                    raise smtplib.SMTPServerDisconnected("NOOP refused")
            except (smtplib.SMTPException, OSError):
                self._drop()
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        """Say QUIT and close the connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    # ------------------------------------------------------------------ sending

    def sender_for(self, kind: str) -> str:
        """The From of a message of ``kind``."""
        return self.marketing_from if kind == "marketing" else self.mail_from

    def render(self, message: Outgoing) -> tuple[bytes, str, str]:
        """The bytes that go on the wire (signed), the Message-ID and the envelope sender."""
        sender = self.sender_for(message.kind)
        raw, message_id = build_email(
            message, sender=sender, reply_to=self.reply_to, message_domain=_domain(sender)
        )
        if self.dkim is not None:
            raw = self.dkim.sign(raw)
        envelope = sender.split("<")[-1].rstrip(">").strip()
        if any(c in envelope for c in "\r\n<> "):
            raise ValueError(f"not a single sender address: {envelope!r}")
        return raw, message_id, envelope

    def send(self, message: Outgoing) -> SendResult:
        try:
            raw, message_id, envelope = self.render(message)
        except ValueError as exc:  # nothing was handed over: the message itself is unusable
            return SendResult(Outcome.permanent, detail=f"invalid message: {exc}")
        self.limiter.wait()
        try:
            conn = self._connection()
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return SendResult(Outcome.temporary, detail=f"cannot connect: {exc}")
        stage = "MAIL FROM"
        try:
            # (docmd, not mail()/rcpt(): their parseaddr per message is a tenth of the
            # worker's sending; both addresses are single addresses checked above.)
            code, reply = conn.docmd("mail", f"FROM:<{envelope}>")
            if code != 250:
                conn.rset()
                return self._refused(code, reply, stage)
            stage = "RCPT TO"
            code, reply = conn.docmd("rcpt", f"TO:<{message.to}>")
            if code not in (250, 251):
                conn.rset()
                return self._refused(code, reply, stage, address=True)
            stage = "DATA"
            code, reply = conn.data(raw)
        except smtplib.SMTPDataError as exc:
            # The server answered the data with a refusal: nothing was delivered.
            return self._refused(exc.smtp_code, exc.smtp_error, stage)
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop()
            if stage == "DATA":
                return SendResult(
                    Outcome.unknown, provider_id=message_id, detail=f"no answer to DATA: {exc}"
                )
            return SendResult(Outcome.temporary, detail=f"{stage}: {exc}")
        finally:
            self._last_used = time.monotonic()
        if code != 250:
            return self._refused(code, reply, stage)
        return SendResult(Outcome.sent, provider_id=message_id)

    @staticmethod
    def _refused(code: int, reply: bytes | str, stage: str, *, address: bool = False) -> SendResult:
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        detail = f"{stage} {code} {text}".strip()
        if 500 <= code < 600:
            # 5xx to RCPT (or 550/551/553 to DATA) is about this address: suppress it.
            fault = address or code in (550, 551, 553)
            return SendResult(Outcome.permanent, detail=detail, address_fault=fault)
        return SendResult(Outcome.temporary, detail=detail)

    def health(self) -> Health:
        """Connect, greet, NOOP and quit."""
        try:
            conn = self._connect()
            code, _ = conn.noop()
            conn.quit()
        except (smtplib.SMTPException, OSError) as exc:
            return Health(False, f"{self.url}: {exc}")
        return Health(code == 250, f"{self.url}: {'ready' if code == 250 else code}")
