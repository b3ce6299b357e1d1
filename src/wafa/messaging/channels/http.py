"""SMS and WhatsApp through providers' HTTP APIs: Twilio, Kavenegar and a generic adapter.

Each provider is one URL setting (``WAFA_SMS_URL``, ``WAFA_WHATSAPP_URL``); its scheme
names the adapter:

- ``twilio://ACCOUNT_SID:AUTH_TOKEN@?from=+15550100`` (or ``messaging_service=MG...``):
  Twilio's Programmable Messaging API, ``POST /2010-04-01/Accounts/{sid}/Messages.json``
  with ``To``, ``From``, ``Body`` and basic auth. For WhatsApp both numbers carry the
  ``whatsapp:`` prefix. ``twilio+http://SID:TOKEN@127.0.0.1:8080?from=...`` talks to a
  compatible server at that address (tests, gateways).
- ``kavenegar://API_KEY@?sender=10004346``: Kavenegar's
  ``POST /v1/{API-KEY}/sms/send.json`` with ``receptor``, ``sender``, ``message``; the
  answer's ``return.status`` is the verdict (411: invalid receptor).
- ``json+https://[user:pass@]host/path?to_field=to&text_field=text&from=...&from_field=from&id_field=id&bearer=TOKEN``
  (or ``form+https://``): any provider that takes one JSON object (or form) per message.
  The ``*_field`` parameters name the fields; other query parameters stay on the URL.

Outcomes: 2xx is ``sent`` (with the provider's message id); a refusal naming the
number (Twilio 21211/21614/21610, Kavenegar 411, generic 400/404/422) is ``permanent``
and suppresses the number; 401/403/429/5xx and connection failures before the request
was sent are ``temporary``; a timeout or a dropped connection after the request was
sent is ``unknown`` (the provider may have sent it), never retried.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import httpx2 as httpx

from wafa.messaging.channels.base import Health, Outcome, Outgoing, RateLimiter, SendResult

TWILIO_HOST = "api.twilio.com"
KAVENEGAR_HOST = "api.kavenegar.com"
TWILIO_ADDRESS_ERRORS = frozenset({21211, 21612, 21614, 21610, 63003})
KAVENEGAR_ADDRESS_ERRORS = frozenset({411})


class ProviderConfigError(ValueError):
    """A provider URL that cannot be read."""


@dataclass(frozen=True)
class Request:
    url: str
    data: dict[str, str] | None = None
    json_body: dict[str, Any] | None = None
    auth: tuple[str, str] | None = None
    headers: dict[str, str] | None = None


class HttpProvider:
    """Common sending and outcome mapping; subclasses build the request and read the answer."""

    name = "http"

    def __init__(self, *, channel: str, rate: float, timeout: float = 15.0) -> None:
        self.channel = channel
        self.limiter = RateLimiter(rate)
        self.client = httpx.Client(timeout=timeout)

    def request(self, message: Outgoing) -> Request:
        raise NotImplementedError

    def verdict(self, response: httpx.Response) -> SendResult:
        """Map a response to an outcome (the default: 2xx sent, with ``id`` from JSON)."""
        if 200 <= response.status_code < 300:
            return SendResult(Outcome.sent, provider_id=_json_field(response, "id"))
        return _status_outcome(
            response.status_code, _body(response), address=response.status_code in (400, 404, 422)
        )

    def send(self, message: Outgoing) -> SendResult:
        req = self.request(message)
        self.limiter.wait()
        try:
            options: dict[str, Any] = {
                "data": req.data,
                "json": req.json_body,
                "headers": req.headers,
            }
            if req.auth is not None:
                options["auth"] = req.auth
            response = self.client.post(req.url, **options)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return SendResult(Outcome.temporary, detail=f"cannot reach the provider: {exc}")
        except httpx.HTTPError as exc:
            # The request went out; whether the provider acted on it is unknown.
            return SendResult(Outcome.unknown, detail=f"no answer from the provider: {exc}")
        return self.verdict(response)

    def health(self) -> Health:
        host = urlsplit(self.request_url()).netloc
        try:
            response = self.client.get(f"{urlsplit(self.request_url()).scheme}://{host}/")
        except httpx.HTTPError as exc:
            return Health(False, f"{self.name} at {host}: {exc}")
        return Health(
            response.status_code < 500, f"{self.name} at {host}: HTTP {response.status_code}"
        )

    def request_url(self) -> str:
        raise NotImplementedError

    def close(self) -> None:
        self.client.close()


def _body(response: httpx.Response) -> str:
    return response.text[:300]


def _json_field(response: httpx.Response, *path: str) -> str | None:
    try:
        value: Any = response.json()
    except (json.JSONDecodeError, ValueError):
        return None
    for key in path:
        if isinstance(value, list):
            value = value[0] if value else None
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return None if value is None else str(value)


def _status_outcome(status: int, detail: str, *, address: bool) -> SendResult:
    if status in (401, 403, 408, 429) or status >= 500:
        return SendResult(Outcome.temporary, detail=f"HTTP {status}: {detail}")
    return SendResult(Outcome.permanent, detail=f"HTTP {status}: {detail}", address_fault=address)


def _split(url: str) -> tuple[Any, dict[str, str]]:
    parts = urlsplit(url)
    return parts, dict(parse_qsl(parts.query))


class Twilio(HttpProvider):
    name = "twilio"

    def __init__(self, url: str, *, channel: str, rate: float) -> None:
        super().__init__(channel=channel, rate=rate)
        parts, query = _split(url)
        if not parts.username or not parts.password:
            raise ProviderConfigError("twilio:// needs ACCOUNT_SID:AUTH_TOKEN@")
        self.sid, self.token = unquote(parts.username), unquote(parts.password)
        scheme = "http" if parts.scheme.endswith("+http") else "https"
        host = parts.hostname or TWILIO_HOST
        port = f":{parts.port}" if parts.port else ""
        self.base = f"{scheme}://{host}{port}"
        self.sender = query.get("from")
        self.service = query.get("messaging_service")
        if not self.sender and not self.service:
            raise ProviderConfigError("twilio:// needs ?from=+E164 or ?messaging_service=MG...")

    def request_url(self) -> str:
        return f"{self.base}/2010-04-01/Accounts/{self.sid}/Messages.json"

    def _address(self, number: str) -> str:
        return f"whatsapp:{number}" if self.channel == "whatsapp" else number

    def request(self, message: Outgoing) -> Request:
        data = {"To": self._address(message.to), "Body": message.text}
        if self.service:
            data["MessagingServiceSid"] = self.service
        else:
            assert self.sender is not None
            data["From"] = self._address(self.sender)
        return Request(self.request_url(), data=data, auth=(self.sid, self.token))

    def verdict(self, response: httpx.Response) -> SendResult:
        if 200 <= response.status_code < 300:
            return SendResult(Outcome.sent, provider_id=_json_field(response, "sid"))
        code = _json_field(response, "code")
        fault = code is not None and code.isdigit() and int(code) in TWILIO_ADDRESS_ERRORS
        return _status_outcome(response.status_code, _body(response), address=fault)


class Kavenegar(HttpProvider):
    name = "kavenegar"

    def __init__(self, url: str, *, channel: str, rate: float) -> None:
        super().__init__(channel=channel, rate=rate)
        if channel != "sms":
            raise ProviderConfigError("Kavenegar sends SMS only")
        parts, query = _split(url)
        if not parts.username:
            raise ProviderConfigError("kavenegar:// needs the API key: kavenegar://API_KEY@")
        self.key = unquote(parts.username)
        scheme = "http" if parts.scheme.endswith("+http") else "https"
        host = parts.hostname or KAVENEGAR_HOST
        port = f":{parts.port}" if parts.port else ""
        self.base = f"{scheme}://{host}{port}"
        self.sender = query.get("sender")

    def request_url(self) -> str:
        return f"{self.base}/v1/{self.key}/sms/send.json"

    def request(self, message: Outgoing) -> Request:
        data = {"receptor": message.to, "message": message.text}
        if self.sender:
            data["sender"] = self.sender
        return Request(self.request_url(), data=data)

    def verdict(self, response: httpx.Response) -> SendResult:
        status = _json_field(response, "return", "status")
        code = int(status) if status and status.isdigit() else response.status_code
        if code == 200 and 200 <= response.status_code < 300:
            return SendResult(
                Outcome.sent, provider_id=_json_field(response, "entries", "messageid")
            )
        return _status_outcome(code, _body(response), address=code in KAVENEGAR_ADDRESS_ERRORS)


GENERIC_KEYS = ("to_field", "text_field", "from_field", "from", "id_field", "bearer")


class Generic(HttpProvider):
    name = "generic"

    def __init__(self, url: str, *, channel: str, rate: float) -> None:
        super().__init__(channel=channel, rate=rate)
        parts, query = _split(url)
        kind, _, transport = parts.scheme.partition("+")
        if kind not in ("json", "form") or transport not in ("http", "https"):
            raise ProviderConfigError("use json+https://... or form+https://...")
        self.form = kind == "form"
        self.to_field = query.get("to_field", "to")
        self.text_field = query.get("text_field", "text")
        self.from_field = query.get("from_field", "from")
        self.sender = query.get("from")
        self.id_field = query.get("id_field", "id")
        self.bearer = query.get("bearer")
        self.auth = (
            (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
        )
        rest = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in GENERIC_KEYS])
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        self.url = urlunsplit((transport, netloc, parts.path, rest, ""))

    def request_url(self) -> str:
        return str(self.url)

    def request(self, message: Outgoing) -> Request:
        body: dict[str, str] = {self.to_field: message.to, self.text_field: message.text}
        if self.sender:
            body[self.from_field] = self.sender
        headers = {"Authorization": f"Bearer {self.bearer}"} if self.bearer else None
        if self.form:
            return Request(self.url, data=body, auth=self.auth, headers=headers)
        return Request(self.url, json_body=body, auth=self.auth, headers=headers)

    def verdict(self, response: httpx.Response) -> SendResult:
        if 200 <= response.status_code < 300:
            return SendResult(Outcome.sent, provider_id=_json_field(response, self.id_field))
        return _status_outcome(
            response.status_code, _body(response), address=response.status_code in (400, 404, 422)
        )


def build_provider(url: str, *, channel: str, rate: float) -> HttpProvider:
    """The adapter a provider URL names."""
    scheme = urlsplit(url).scheme
    if scheme in ("twilio", "twilio+http", "twilio+https"):
        return Twilio(url, channel=channel, rate=rate)
    if scheme in ("kavenegar", "kavenegar+http", "kavenegar+https"):
        return Kavenegar(url, channel=channel, rate=rate)
    if scheme.startswith(("json+", "form+")):
        return Generic(url, channel=channel, rate=rate)
    raise ProviderConfigError(
        f"unknown provider {scheme!r}: use twilio://, kavenegar://, json+https:// or form+https://"
    )
