"""The SMTP channel on its own: DKIM, TLS settings, outcomes, health."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

import dkim
import pytest

from tests.messaging.conftest import Sink, free_port
from wafa.messaging.channels import Outcome, Outgoing
from wafa.messaging.channels.smtp import Dkim, SmtpChannel, SmtpConfigError, SmtpUrl


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """An RSA key made by openssl, and its public half as a DNS TXT record."""
    folder = tmp_path_factory.mktemp("dkim")
    key = folder / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(key), "2048"],
        check=True,
        capture_output=True,
    )
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def _outgoing(**overrides: object) -> Outgoing:
    values: dict[str, object] = {
        "message_id": uuid.uuid4(),
        "channel": "email",
        "kind": "marketing",
        "to": "dk@example.com",
        "text": "سلام",
        "subject": "Offer",
        "html": "<p dir='rtl'>سلام</p>",
        "locale": "fa",
        "headers": {
            "List-Unsubscribe": "<https://shop.example/u/abc>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }
    values.update(overrides)
    return Outgoing(**values)  # type: ignore[arg-type]


class TestDkim:
    def test_signature_verifies_and_covers_the_unsubscribe_headers(
        self, smtp_sink: Sink, dkim_key: tuple[Path, bytes]
    ) -> None:
        key, record = dkim_key
        channel = SmtpChannel(
            smtp_sink.url,
            mail_from="Shop <shop@example.com>",
            dkim_signer=Dkim(str(key), selector="wafa", domain="example.com"),
        )
        assert channel.send(_outgoing()).outcome is Outcome.sent
        channel.close()
        [got] = smtp_sink.received

        def dns(name: bytes, timeout: int = 5) -> bytes:
            assert name == b"wafa._domainkey.example.com."
            return record

        assert dkim.verify(got.data, dnsfunc=dns)
        signature = got.message["DKIM-Signature"]
        signed = signature.split("h=")[1].split(";")[0].replace(" ", "").lower().split(":")
        assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} <= set(signed)

    def test_a_changed_header_breaks_the_signature(
        self, smtp_sink: Sink, dkim_key: tuple[Path, bytes]
    ) -> None:
        key, record = dkim_key
        channel = SmtpChannel(
            smtp_sink.url,
            mail_from="shop@example.com",
            dkim_signer=Dkim(str(key), selector="wafa", domain="example.com"),
        )
        channel.send(_outgoing())
        channel.close()
        tampered = smtp_sink.received[0].data.replace(b"/u/abc", b"/u/xyz")
        assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: record)


class TestConnection:
    def test_one_connection_serves_many_messages(self, smtp_sink: Sink) -> None:
        channel = SmtpChannel(smtp_sink.url, mail_from="shop@example.com")
        for n in range(5):
            assert channel.send(_outgoing(to=f"r{n}@example.com")).outcome is Outcome.sent
        first = channel._conn
        assert first is not None
        channel.send(_outgoing(to="r5@example.com"))
        assert channel._conn is first
        channel.close()
        assert len(smtp_sink.received) == 6

    def test_a_refused_recipient_is_permanent_and_about_the_address(self, smtp_sink: Sink) -> None:
        smtp_sink.reply_to_rcpt("nobody@example.com", "550 5.1.1 User unknown")
        channel = SmtpChannel(smtp_sink.url, mail_from="shop@example.com")
        result = channel.send(_outgoing(to="nobody@example.com"))
        assert result.outcome is Outcome.permanent and result.address_fault
        assert channel.send(_outgoing(to="somebody@example.com")).outcome is Outcome.sent
        channel.close()

    def test_no_server_is_temporary(self) -> None:
        channel = SmtpChannel(f"smtp://127.0.0.1:{free_port()}", mail_from="shop@example.com")
        assert channel.send(_outgoing()).outcome is Outcome.temporary
        assert not channel.health().ok

    def test_health_of_a_running_server(self, smtp_sink: Sink) -> None:
        assert SmtpChannel(smtp_sink.url, mail_from="shop@example.com").health().ok


class TestSmtpUrl:
    def test_forms(self) -> None:
        plain = SmtpUrl("smtp://user%40shop:p%3Ass@mail.example.com:587")
        assert (plain.host, plain.port, plain.user, plain.password, plain.implicit_tls) == (
            "mail.example.com",
            587,
            "user@shop",
            "p:ss",
            False,
        )
        tls = SmtpUrl("smtps://mail.example.com")
        assert (tls.port, tls.implicit_tls) == (465, True)
        with pytest.raises(SmtpConfigError):
            SmtpUrl("http://mail.example.com")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made by openssl)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class TestTls:
    def _server(
        self, certificate: tuple[Path, Path], **options: object
    ) -> tuple[object, int, list[bytes]]:
        import ssl

        from aiosmtpd.controller import Controller

        cert, key = certificate
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
        received: list[bytes] = []

        class Handler:
            async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
                received.append(envelope.original_content)  # type: ignore[attr-defined]
                return "250 OK"

        def check(
            server: object, session: object, envelope: object, mechanism: str, auth_data: object
        ) -> object:
            from aiosmtpd.smtp import AuthResult, LoginPassword

            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == b"shop"
                and auth_data.password == b"s3cret:pw"
            )
            return AuthResult(success=ok)

        port = free_port()
        if options.pop("implicit", False):
            controller = Controller(
                Handler(),
                hostname="127.0.0.1",
                port=port,
                ssl_context=context,
                authenticator=check,
                auth_require_tls=False,
            )
        else:
            controller = Controller(
                Handler(),
                hostname="127.0.0.1",
                port=port,
                tls_context=context,
                require_starttls=True,
                authenticator=check,
            )
        controller.start()
        return controller, port, received

    def _client_context(self, certificate: tuple[Path, Path]) -> object:
        import ssl

        context = ssl.create_default_context()
        context.load_verify_locations(str(certificate[0]))
        return context

    def test_starttls_then_auth(self, certificate: tuple[Path, Path]) -> None:
        controller, port, received = self._server(certificate)
        try:
            channel = SmtpChannel(
                f"smtp://shop:s3cret%3Apw@127.0.0.1:{port}",
                mail_from="shop@example.com",
                tls_context=self._client_context(certificate),  # type: ignore[arg-type]
            )
            assert channel.send(_outgoing()).outcome is Outcome.sent
            assert channel.health().ok
            channel.close()
        finally:
            controller.stop()  # type: ignore[attr-defined]
        assert len(received) == 1

    def test_implicit_tls(self, certificate: tuple[Path, Path]) -> None:
        controller, port, received = self._server(certificate, implicit=True)
        try:
            channel = SmtpChannel(
                f"smtps://shop:s3cret%3Apw@127.0.0.1:{port}",
                mail_from="shop@example.com",
                tls_context=self._client_context(certificate),  # type: ignore[arg-type]
            )
            assert channel.send(_outgoing()).outcome is Outcome.sent
            channel.close()
        finally:
            controller.stop()  # type: ignore[attr-defined]
        assert len(received) == 1
