"""A local HTTP server speaking J-Quants API v2, for tests that go through the real client.

It serves `/v2/...` on 127.0.0.1 (ephemeral port, its own thread) with the endpoints the project lands, checks
the `x-api-key` header, pages answers with `pagination_key`, and can be told to misbehave:

    server = JQuantsServer.from_bulk_dir(sample_dir, api_key="k", page_size=50).start()
    server.fail_next("/equities/bars/daily", [429, 500, "garbage"])  # then normal answers again
    server.fail_always("/equities/bars/daily", 503)                  # until clear_faults()
    server.add_field("/equities/bars/daily", "NewField", 1.5)        # an unknown v2 field on every record
    server.drop_field("/equities/bars/daily", "AdjFactor", day="2024-01-05")
    held = server.delay("/equities/bars/daily", 30, lambda q: q.get("date") == "2024-01-22")  # slow answers
    held.wait(10)                                                    # set once a held request came in
    server.requests                                                  # what it received (the key redacted)

The data comes from bulk files (the sample market's `<dataset>_<YYYY>.csv.gz`) turned into JSON the way the
API sends it: numbers as JSON numbers, empty values as null, dates as "YYYY-MM-DD", codes and times as text.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import polars as pl

from ingestion.ingest import bulk_files, dataset_of_file
from ingestion.schema import DATASETS, Dataset

log = logging.getLogger(__name__)

ROOT = "/v2"
REDACTED = "<redacted>"
Record = dict[str, Any]
# A scripted answer: an HTTP status (answered with {"message": ...}), "garbage" (200, an HTML body), "truncated"
# (200, JSON cut short), "disconnect" (the connection closed without an answer), a dict (200, that JSON body), or
# None (the normal answer: `fail_next(path, [None, 503])` fails the second request, e.g. the second page).
Fault = int | str | dict | None

# Query parameters each endpoint accepts (besides pagination_key); anything else is a 400, as a client bug would be.
PARAMS = {
    "/equities/master": {"code", "date"},
    "/equities/bars/daily": {"code", "date", "from", "to"},
    "/indices/bars/daily/topix": {"from", "to"},
    "/markets/calendar": {"hol_div", "from", "to"},
    "/equities/investor-types": {"section", "from", "to"},
    "/fins/summary": {"code", "date"},
}
NEEDS_CODE_OR_DATE = {"/equities/bars/daily", "/fins/summary"}
DATASET_OF_PATH: dict[str, Dataset] = {ds.path: ds for ds in DATASETS.values()}


@dataclass(frozen=True)
class Request:
    """One request as the server saw it; the API key is never stored (`headers["x-api-key"]` is redacted)."""

    path: str  # under the v2 root, e.g. "/equities/bars/daily"
    params: dict[str, str]
    headers: dict[str, str]
    key_ok: bool
    status: int = 0  # filled in by the handler through `Request.answered`

    def answered(self, status: int) -> Request:
        return Request(self.path, self.params, self.headers, self.key_ok, status)


@dataclass
class _Delay:
    seconds: float
    match: Callable[[dict[str, str]], bool] | None
    times: int | None  # None: until clear_faults()
    arrived: threading.Event


@dataclass
class _Mutation:
    add: list[tuple[str, Any, str | None]] = field(default_factory=list)  # (field, value, day or None = every day)
    drop: list[tuple[str, str | None]] = field(default_factory=list)  # (field, day or None = every day)


def records_from_bulk(path: Path, ds: Dataset) -> list[Record]:
    """One bulk CSV / CSV.gz file -> API records (v2 field names, JSON types)."""
    frame = pl.read_csv(path, infer_schema=False)
    exprs = []
    for name in frame.columns:
        col = pl.col(name).str.strip_chars()
        col = pl.when(col == "").then(None).otherwise(col)
        ch_type = ds.fields.get(name, "String")
        if "Float64" in ch_type:
            col = col.str.replace_all(",", "").cast(pl.Float64, strict=False)
        elif "Date" in ch_type:
            parsed = pl.coalesce(col.str.to_date("%Y-%m-%d", strict=False), col.str.to_date("%Y%m%d", strict=False))
            col = parsed.dt.strftime("%Y-%m-%d")
        exprs.append(col.alias(name))
    return frame.select(exprs).to_dicts()


def records_from_bulk_dir(directory: Path) -> dict[str, list[Record]]:
    """Every bulk file of `directory` -> {API path: records}, in file order."""
    out: dict[str, list[Record]] = {ds.path: [] for ds in DATASETS.values()}
    for path in bulk_files(Path(directory)):
        ds = dataset_of_file(path)
        if ds is not None:
            out[ds.path].extend(records_from_bulk(path, ds))
    return out


def _iso(text: str) -> str:
    """A query date ("YYYY-MM-DD" or "YYYYMMDD") -> "YYYY-MM-DD"; ValueError when it is neither."""
    fmt = "%Y%m%d" if len(text) == 8 and text.isdigit() else "%Y-%m-%d"
    return datetime.strptime(text, fmt).date().isoformat()


class JQuantsServer:
    """J-Quants v2 on http://127.0.0.1:<port>/v2, serving `records` ({API path: [record, ...]})."""

    def __init__(self, records: dict[str, list[Record]], api_key: str = "test-key", page_size: int = 1000) -> None:
        self.records = {path: list(recs) for path, recs in records.items()}
        self.api_key = api_key
        self.page_size = page_size
        self.requests: list[Request] = []
        self._faults: dict[str, deque[Fault]] = {}
        self._always: dict[str, Fault] = {}
        self._delays: dict[str, list[_Delay]] = {}
        self._release = threading.Event()  # set to end every delay in progress (clear_faults, stop)
        self._mutations: dict[str, _Mutation] = {}
        self._cursors: dict[str, tuple[str, tuple, int]] = {}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_bulk_dir(cls, directory: Path, **kwargs: Any) -> JQuantsServer:
        return cls(records_from_bulk_dir(directory), **kwargs)

    # --- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> JQuantsServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.app = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="jquants-v2-test-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> JQuantsServer:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{ROOT}"

    # --- scripting ------------------------------------------------------------------------------------------

    def fail_next(self, path: str, faults: Iterable[Fault]) -> None:
        """The next requests on `path` get these answers, one each, before normal service resumes."""
        with self._lock:
            self._faults.setdefault(_norm(path), deque()).extend(faults)

    def fail_always(self, path: str, fault: Fault) -> None:
        """Every request on `path` gets `fault` until `clear_faults()`."""
        with self._lock:
            self._always[_norm(path)] = fault

    def delay(
        self,
        path: str,
        seconds: float,
        match: Callable[[dict[str, str]], bool] | None = None,
        times: int | None = None,
    ) -> threading.Event:
        """Hold requests on `path` (those whose query parameters satisfy `match`) for `seconds` before answering
        them as usual, `times` requests (None: until `clear_faults()`, which also ends the holds in progress).
        Returns an event set when a held request has come in, e.g. to kill a client in the middle of a run."""
        entry = _Delay(seconds, match, times, threading.Event())
        with self._lock:
            self._delays.setdefault(_norm(path), []).append(entry)
        return entry.arrived

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._always.clear()
            self._delays.clear()
            release, self._release = self._release, threading.Event()
        release.set()

    def add_field(self, path: str, name: str, value: Any, day: str | date | None = None) -> None:
        """Serve records of `path` (of `day` only, when given) with field `name` set to `value`: a field J-Quants
        might add tomorrow, or a known one given an odd value."""
        with self._lock:
            self._mutations.setdefault(_norm(path), _Mutation()).add.append((name, value, _day_text(day)))

    def drop_field(self, path: str, name: str, day: str | date | None = None) -> None:
        """Serve records of `path` (of `day` only, by the dataset's day field, when given) without `name`."""
        with self._lock:
            self._mutations.setdefault(_norm(path), _Mutation()).drop.append((name, _day_text(day)))

    def clear_mutations(self) -> None:
        with self._lock:
            self._mutations.clear()

    # --- what was asked -------------------------------------------------------------------------------------

    def requests_to(self, path: str, **params: str) -> list[Request]:
        """Requests received on `path` whose params include `params`."""
        path = _norm(path)
        return [r for r in list(self.requests) if r.path == path and params.items() <= r.params.items()]

    def reset_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- serving --------------------------------------------------------------------------------------------

    def _hold(self, path: str, params: dict[str, str]) -> None:
        """Wait out a matching delay (or until the delays are cleared)."""
        with self._lock:
            entry = next(
                (d for d in self._delays.get(path, []) if d.times != 0 and (d.match is None or d.match(params))), None
            )
            if entry is None:
                return
            if entry.times is not None:
                entry.times -= 1
            release = self._release
        entry.arrived.set()
        release.wait(entry.seconds)

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(path)
            if queue:
                return queue.popleft()
            return self._always.get(path)

    def _select(self, path: str, params: dict[str, str]) -> list[Record]:
        """The records one (unpaged) request asks for; ValueError -> 400."""
        ds = DATASET_OF_PATH[path]
        recs = self.records.get(path, [])
        code = params.get("code")
        if path in NEEDS_CODE_OR_DATE and not (code or params.get("date")):
            raise ValueError("either code or date is required")
        if code:
            if not code.isdigit() or len(code) not in (4, 5):
                raise ValueError(f"invalid code {code!r}")
            recs = [r for r in recs if str(r.get("Code", "")).startswith(code)]
        if "date" in params:
            day = _iso(params["date"])
            recs = [r for r in recs if r.get(ds.day_field) == day]
        elif path == "/equities/master" and not code and recs:  # no date: the latest listing
            latest = max(str(r.get(ds.day_field)) for r in recs)
            recs = [r for r in recs if r.get(ds.day_field) == latest]
        if "from" in params:
            lo = _iso(params["from"])
            recs = [r for r in recs if str(r.get(ds.day_field)) >= lo]
        if "to" in params:
            hi = _iso(params["to"])
            recs = [r for r in recs if str(r.get(ds.day_field)) <= hi]
        if "hol_div" in params:
            recs = [r for r in recs if str(r.get("HolDiv")) == params["hol_div"]]
        if "section" in params:
            recs = [r for r in recs if r.get("Section") == params["section"]]
        mutation = self._mutations.get(path)
        if mutation:
            recs = [_mutate(r, mutation, ds.day_field) for r in recs]
        return recs

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, Any]:
        """(status, JSON body) of a normal, authenticated request."""
        if path not in PARAMS:
            return 404, {"message": f"{ROOT}{path} is not an endpoint of this server"}
        unknown = set(params) - PARAMS[path] - {"pagination_key"}
        if unknown:
            return 400, {"message": f"unknown query parameter(s): {', '.join(sorted(unknown))}"}
        query = dict(params)
        token = query.pop("pagination_key", None)
        signature = (path, tuple(sorted(query.items())))
        offset = 0
        if token is not None:
            with self._lock:
                cursor = self._cursors.get(token)
            if cursor is None or cursor[:2] != signature:
                return 400, {"message": "pagination_key does not belong to this request"}
            offset = cursor[2]
        try:
            recs = self._select(path, query)
        except ValueError as exc:
            return 400, {"message": str(exc)}
        page = recs[offset : offset + self.page_size]
        body: dict[str, Any] = {"data": page}
        if offset + self.page_size < len(recs):
            nxt = secrets.token_urlsafe(12)
            with self._lock:
                self._cursors[nxt] = (*signature, offset + self.page_size)
            body["pagination_key"] = nxt
        return 200, body


def _norm(path: str) -> str:
    path = path.removeprefix(ROOT)
    return path if path.startswith("/") else f"/{path}"


def _day_text(day: str | date | None) -> str | None:
    return day.isoformat() if isinstance(day, date) else day


def _mutate(rec: Record, mutation: _Mutation, day_field: str) -> Record:
    out = dict(rec)
    for name, value, day in mutation.add:
        if day is None or rec.get(day_field) == day:
            out[name] = value
    for name, day in mutation.drop:
        if day is None or rec.get(day_field) == day:
            out.pop(name, None)
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API; every answer carries Content-Length
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls
    server_version = "jquants-v2-test"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        app: JQuantsServer = self.server.app  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        given = headers.get("x-api-key")
        key_ok = given is not None and secrets.compare_digest(given, app.api_key)
        if given is not None:
            headers["x-api-key"] = REDACTED
        path = url.path
        request = Request(_norm(path), params, headers, key_ok)

        if not path.startswith(ROOT + "/"):
            status, body = 404, {"message": f"not found: {path}"}
        elif not key_ok:
            status, body = 401, {"message": "The incoming token is invalid or expired."}
        else:
            app._hold(request.path, params)
            fault = app._next_fault(request.path)
            if fault == "disconnect":
                with app._lock:
                    app.requests.append(request.answered(0))
                self.close_connection = True
                return
            if fault is None:
                status, body = app.answer(request.path, params)
            elif isinstance(fault, int):
                status, body = fault, {"message": f"injected HTTP {fault}"}
            elif isinstance(fault, dict):
                status, body = 200, fault
            elif fault == "garbage":
                status, body = 200, b"<html><body>502 Bad Gateway</body></html>"
            elif fault == "truncated":
                status, body = 200, b'{"data": [{"Date": "2024-01-'
            else:
                raise ValueError(f"unknown fault {fault!r}")
        with app._lock:
            app.requests.append(request.answered(status))
        self._send(status, body)

    def _send(self, status: int, body: Any) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client went away (killed while a request was held)
            self.close_connection = True


def serve(records: dict[str, list[Record]], **kwargs: Any) -> JQuantsServer:
    """Start a server on `records` (stop it with `.stop()` or use it as a context manager)."""
    return JQuantsServer(records, **kwargs).start()
