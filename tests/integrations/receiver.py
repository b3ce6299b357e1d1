"""A webhook receiver on loopback that checks each request with the ``standardwebhooks``
package, as an integrator's code would, and answers as a test tells it to."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Receiver:
    secret: str = ""
    #: ``answer(n)``: the status for the n-th request (1-based) and seconds to wait first.
    answer: Callable[[int], tuple[int, float]] = lambda n: (200, 0.0)
    requests: int = 0
    verified: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    forged: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def ids(self) -> list[str]:
        with self.lock:
            return [i for i, _ in self.verified]


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            with receiver.lock:
                receiver.requests += 1
                n = receiver.requests
            status, wait = receiver.answer(n)
            if wait:
                time.sleep(wait)
            try:
                payload = Webhook(receiver.secret).verify(raw, dict(self.headers.items()))
            except WebhookVerificationError:
                with receiver.lock:
                    receiver.forged += 1
                status = 401
            else:
                if status < 300:
                    with receiver.lock:
                        receiver.verified.append((self.headers["webhook-id"], payload))
            try:
                self.send_response(status)
                self.end_headers()
            except OSError:
                pass  # the sender hung up (a killed worker)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/wafa"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
