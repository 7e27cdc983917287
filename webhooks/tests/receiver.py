"""A webhook receiver on the loopback interface, for tests and the benchmark.

It records every request (headers, body) and answers from a script: ``answer(status,
body=..., headers=..., sleep=...)`` queues answers (the last one repeats), ``down()`` /
``up()`` stop and start the listener on the same port. ``verified(secret)`` checks every
request's signature with ``standardwebhooks.Webhook(secret).verify`` — what a receiver does.
"""

from __future__ import annotations

import contextlib
import http.server
import socketserver
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verify(self, secret: str) -> Any:
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Answer:
    status: int = 204
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    sleep: float = 0.0


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class Receiver:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.received: list[Received] = []
        # When each webhook-id first arrived (time.time()), for latency measurements.
        self.first_seen: dict[str, float] = {}
        self.answers: list[Answer] = [Answer()]
        self.lock = threading.Condition()
        self.server: _Server | None = None
        self.thread: threading.Thread | None = None

    # --- control

    def up(self) -> Receiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer = receiver._next_answer()
                with receiver.lock:
                    receiver.first_seen.setdefault(headers.get("webhook-id", ""), time.time())
                    receiver.received.append(Received(self.path, headers, body))
                    receiver.lock.notify_all()
                if answer.sleep:
                    time.sleep(answer.sleep)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(answer.body)

        self.server = _Server((self.host, self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def answer(self, *answers: Answer | int) -> None:
        """Answer the next requests with these (the last one repeats)."""
        self.answers = [a if isinstance(a, Answer) else Answer(a) for a in answers]

    def _next_answer(self) -> Answer:
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    # --- reading

    def url(self, path: str = "/hook", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 60) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"the receiver got {len(self.received)} requests, expected {count}"
                    )
                self.lock.wait(left)
            return list(self.received)

    def verified(self, *secrets: str) -> list[Any]:
        """Every request's payload, each request verified with every one of ``secrets``."""
        payloads = []
        for received in list(self.received):
            payloads += [received.verify(secret) for secret in secrets][:1]
        return payloads
