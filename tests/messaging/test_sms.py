"""SMS and WhatsApp through provider adapters, against a fake provider served on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import make_settings
from tests.messaging.helpers import queue, reload, subscriber
from wafa.core.settings import Settings
from wafa.messaging.channels import Outcome, Outgoing
from wafa.messaging.channels.http import ProviderConfigError, build_provider
from wafa.messaging.pipeline import Pipeline
from wafa.messaging.queue import Content
from wafa.messaging.sms import count_segments

pytestmark = pytest.mark.usefixtures("daytime")


@dataclass
class Provider:
    """Records requests; answers with ``replies[number]`` or 201/200 and an id."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)

    def base(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
def provider() -> Iterator[Provider]:
    state = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Type", "").startswith("application/json"):
                body = json.loads(raw)
            else:
                body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            state.requests.append(
                {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
            )
            number = body.get("To") or body.get("receptor") or body.get("to") or ""
            status, answer = state.replies.get(
                number.removeprefix("whatsapp:"),
                (
                    201,
                    {
                        "sid": "SM123",
                        "id": "g-1",
                        "return": {"status": 200},
                        "entries": [{"messageid": 42}],
                    },
                ),
            )
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _sms(text: str = "Hello", to: str = "+15550100", kind: str = "transactional") -> Outgoing:
    import uuid

    return Outgoing(message_id=uuid.uuid4(), channel="sms", kind=kind, to=to, text=text)


class TestTwilio:
    def test_posts_the_documented_form_with_basic_auth(self, provider: Provider) -> None:
        sms = build_provider(
            f"twilio+http://AC1:tok@{provider.base()}?from=%2B15550001", channel="sms", rate=0
        )
        result = sms.send(_sms())
        assert (result.outcome, result.provider_id) == (Outcome.sent, "SM123")
        [request] = provider.requests
        assert request["path"] == "/2010-04-01/Accounts/AC1/Messages.json"
        assert request["body"] == {"To": "+15550100", "From": "+15550001", "Body": "Hello"}
        assert request["auth"].startswith("Basic ")

    def test_whatsapp_numbers_carry_the_prefix(self, provider: Provider) -> None:
        wa = build_provider(
            f"twilio+http://AC1:tok@{provider.base()}?from=%2B15550001", channel="whatsapp", rate=0
        )
        wa.send(_sms())
        assert provider.requests[0]["body"]["To"] == "whatsapp:+15550100"
        assert provider.requests[0]["body"]["From"] == "whatsapp:+15550001"

    def test_an_invalid_number_is_a_permanent_address_fault(self, provider: Provider) -> None:
        provider.replies["+15550199"] = (
            400,
            {"code": 21211, "message": "Invalid 'To' Phone Number"},
        )
        sms = build_provider(
            f"twilio+http://AC1:tok@{provider.base()}?from=1", channel="sms", rate=0
        )
        result = sms.send(_sms(to="+15550199"))
        assert result.outcome is Outcome.permanent and result.address_fault

    def test_a_server_error_is_temporary(self, provider: Provider) -> None:
        provider.replies["+15550198"] = (503, {"message": "busy"})
        sms = build_provider(
            f"twilio+http://AC1:tok@{provider.base()}?from=1", channel="sms", rate=0
        )
        assert sms.send(_sms(to="+15550198")).outcome is Outcome.temporary


class TestKavenegar:
    def test_posts_receptor_sender_message(self, provider: Provider) -> None:
        sms = build_provider(
            f"kavenegar+http://KEY@{provider.base()}?sender=10004346", channel="sms", rate=0
        )
        result = sms.send(_sms(text="سلام", to="+989121234567"))
        assert (result.outcome, result.provider_id) == (Outcome.sent, "42")
        [request] = provider.requests
        assert request["path"] == "/v1/KEY/sms/send.json"
        assert request["body"] == {
            "receptor": "+989121234567",
            "message": "سلام",
            "sender": "10004346",
        }

    def test_an_invalid_receptor_is_an_address_fault(self, provider: Provider) -> None:
        provider.replies["+98912"] = (411, {"return": {"status": 411, "message": "receptor"}})
        sms = build_provider(f"kavenegar+http://KEY@{provider.base()}", channel="sms", rate=0)
        result = sms.send(_sms(to="+98912"))
        assert result.outcome is Outcome.permanent and result.address_fault

    def test_sends_no_whatsapp(self) -> None:
        with pytest.raises(ProviderConfigError):
            build_provider("kavenegar://KEY@", channel="whatsapp", rate=0)


class TestGeneric:
    def test_json_with_named_fields_and_a_bearer_token(self, provider: Provider) -> None:
        sms = build_provider(
            f"json+http://{provider.base()}/send?to_field=msisdn&text_field=content"
            "&from=Shop&from_field=sender&bearer=T0K&account=7",
            channel="sms",
            rate=0,
        )
        assert sms.send(_sms()).outcome is Outcome.sent
        [request] = provider.requests
        assert request["path"] == "/send?account=7"
        assert request["body"] == {"msisdn": "+15550100", "content": "Hello", "sender": "Shop"}
        assert request["auth"] == "Bearer T0K"

    def test_form_encoding(self, provider: Provider) -> None:
        sms = build_provider(f"form+http://u:p@{provider.base()}/sms", channel="sms", rate=0)
        assert sms.send(_sms()).outcome is Outcome.sent
        assert provider.requests[0]["body"] == {"to": "+15550100", "text": "Hello"}

    def test_unknown_scheme_is_refused(self) -> None:
        with pytest.raises(ProviderConfigError):
            build_provider("carrier-pigeon://x", channel="sms", rate=0)


class TestSegments:
    def test_gsm7_and_ucs2(self) -> None:
        assert count_segments("a" * 160).segments == 1
        assert count_segments("a" * 161).segments == 2  # 153 per part
        assert count_segments("{" * 80).units == 160  # extension characters count twice
        persian = count_segments("س" * 70)
        assert (persian.encoding, persian.segments) == ("UCS-2", 1)
        assert count_segments("س" * 71).segments == 2  # 67 per part
        assert count_segments("😀" * 35).units == 70  # an emoji is two UTF-16 units


class TestPipelineSms:
    def test_marketing_sms_carries_the_opt_out_word_and_its_segments(
        self,
        session: Session,
        settings: Settings,
        session_factory: sessionmaker[Session],
        provider: Provider,
    ) -> None:
        sms_settings = make_settings(
            settings.database_url,
            sms_url=f"twilio+http://AC1:tok@{provider.base()}?from=%2B15550001",
            sms_rate=0,
        )
        pipe = Pipeline(sms_settings, session_factory)
        customer = subscriber(session, phone="+15550123", language="fa", name="مریم")
        message = queue(
            session,
            customer,
            channel="sms",
            content=Content(text={"fa": "سلام {{ customer.first_name }}، تخفیف امروز برای شما"}),
        )
        pipe.run_once()
        stored = reload(session, message)
        assert stored.status == "sent" and stored.provider_id == "SM123"
        body = provider.requests[0]["body"]["Body"]
        assert body.startswith("سلام مریم")
        assert body.rstrip().endswith("\nلغو11")  # the opt-out word Iranian senders must carry
        assert stored.sms_segments == count_segments(body).segments
