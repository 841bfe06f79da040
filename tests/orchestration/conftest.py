"""Fixtures for orchestration/: the loaded Definitions, a settable Tokyo clock, a fresh Dagster instance, and
small local HTTP servers (J-Quants comes from tests/conftest.py).

Sensors and schedules read the clock through `orchestration.calendar.now_tokyo`; `tokyo_clock` replaces it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from orchestration import calendar as tse


@pytest.fixture(scope="session")
def defs() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs


@pytest.fixture
def tokyo_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], datetime]:
    """`set_now("2024-03-29 21:00")` makes every sensor and asset read that time (Asia/Tokyo)."""

    def set_now(text: str) -> datetime:
        now = datetime.fromisoformat(text).replace(tzinfo=tse.TOKYO)
        monkeypatch.setattr(tse, "now_tokyo", lambda: now)
        return now

    return set_now


@pytest.fixture
def instance(gogooku_home: Path) -> Iterator[dg.DagsterInstance]:
    """An ephemeral Dagster instance (in memory), with GOGOOKU_HOME fresh for alerts and the warehouse."""
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def slack_webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    """A local stand-in for a Slack incoming webhook; SLACK_WEBHOOK_URL points at it. Yields the posted bodies."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    httpd.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"http://127.0.0.1:{httpd.server_address[1]}/services/T/B/X")
    try:
        yield httpd.received  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
