"""A real local HTTP server that takes pushes the way a Prometheus Pushgateway does, for tests.

It accepts PUT/POST/DELETE on `/metrics/job/<job>[/<label>/<value>...]` (127.0.0.1, ephemeral port, its own thread),
answers 200 (or `status`, to play a failing gateway), and records every push with its body parsed:

    with PushgatewayStub() as gw:
        monkeypatch.setenv("PUSHGATEWAY_URL", gw.url)
        ...
        gw.pushes[-1].method, gw.pushes[-1].job, gw.pushes[-1].value("gogooku_data_test_failures")
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Push:
    method: str
    path: str
    body: str

    @property
    def job(self) -> str:
        parts = self.path.split("/")  # ["", "metrics", "job", "<job>", ...]
        return parts[3] if len(parts) > 3 and parts[1:3] == ["metrics", "job"] else ""

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """(labels, value) of every sample of metric `name` in the body."""
        return [
            (dict(s.labels), s.value)
            for family in text_string_to_metric_families(self.body)
            for s in family.samples
            if s.name == name
        ]

    def value(self, name: str, **labels: str) -> float | None:
        """The value of the one sample of `name` whose labels include `labels` (None when there is none)."""
        found = [v for lab, v in self.samples(name) if labels.items() <= lab.items()]
        assert len(found) <= 1, f"{len(found)} samples of {name} with {labels}"
        return found[0] if found else None


class PushgatewayStub:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.pushes: list[Push] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> PushgatewayStub:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.app = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> PushgatewayStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def pushes_for(self, job: str) -> list[Push]:
        return [p for p in self.pushes if p.job == job]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass

    def _record(self) -> None:
        app: PushgatewayStub = self.server.app  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        ok = self.path.startswith("/metrics/job/")
        if ok:
            app.pushes.append(Push(self.command, self.path, body))
        status = app.status if ok else 404
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = do_POST = do_DELETE = _record  # noqa: N815 - the stdlib's names
