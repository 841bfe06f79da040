"""The one place that opens the warehouse.

`embedded` is chDB (the ClickHouse engine in process) on `$GOGOOKU_HOME/clickhouse`; `server` is a ClickHouse
server over HTTP. chDB lets one process hold a data directory at a time (it flocks `<dir>/status`), so
`open_warehouse` waits with backoff while another process holds it (`$GOGOOKU_LOCK_WAIT_S` seconds, default 60),
then fails naming the directory and the holder. Always use it as a context manager: closing the client releases
the directory for the next process (for example the dbt subprocess that Dagster starts).
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from gogooku.settings import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)

DEFAULT_LOCK_WAIT_S = 60.0
LOCK_WAIT_ENV = "GOGOOKU_LOCK_WAIT_S"


class WarehouseBusy(RuntimeError):
    """The embedded data directory stayed locked by another process past the wait."""


def lock_holder(data_dir: Path) -> str | None:
    """The process holding `data_dir` ("PID 123"), or None when it is free.

    chDB, like clickhouse-server, holds an exclusive flock on `<dir>/status` and writes its PID there.
    """
    status = data_dir / "status"
    if not status.exists():
        return None
    with open(status, "rb") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            match = re.search(rb"PID: (\d+)", fh.read(200))
            return f"PID {match.group(1).decode()}" if match else "another process"
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


def lock_wait_s() -> float:
    """How long to wait for a busy embedded warehouse: `$GOGOOKU_LOCK_WAIT_S` seconds, else 60."""
    raw = os.environ.get(LOCK_WAIT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_WAIT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ConfigError(f"{LOCK_WAIT_ENV}={raw!r} is not a number of seconds")
    return value


def _open_embedded(data_dir: Path, wait_s: float) -> Client:
    data_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    delay = 0.2
    failed_opens = 0
    while True:
        holder = lock_holder(data_dir)
        if holder is None:
            try:
                return clickhouse_connect.get_client(interface="chdb", path=str(data_dir))
            except Exception as exc:
                # Another process may have taken the directory between the check and the open, or only been
                # probing its lock (lock_holder holds the flock for an instant): retry a few times; an open
                # that keeps failing with nobody holding the directory is a real error.
                holder = lock_holder(data_dir)
                failed_opens += 1
                if holder is None and failed_opens > 3:
                    raise
                log.debug("chDB open raced with %s: %s", holder or "a lock probe", exc)
                holder = holder or "a lock probe"
        if time.monotonic() >= deadline:
            raise WarehouseBusy(
                f"embedded warehouse {data_dir} is in use by {holder} (waited {wait_s:g}s); "
                "wait for that run to finish or stop it"
            )
        log.info("embedded warehouse %s is in use by %s; waiting %.1fs", data_dir, holder, delay)
        time.sleep(min(delay * (1 + random.random() / 2), max(deadline - time.monotonic(), 0.05)))
        delay = min(delay * 2, 5.0)


def connect(settings: Settings | None = None, wait_s: float | None = None) -> Client:
    """A clickhouse-connect client on the active target. The caller closes it (prefer `open_warehouse`)."""
    settings = settings or load_settings()
    if settings.target == "embedded":
        return _open_embedded(settings.chdb_path, lock_wait_s() if wait_s is None else wait_s)
    return clickhouse_connect.get_client(
        host=settings.ch_host,
        port=settings.ch_port,
        username=settings.ch_user,
        password=settings.ch_password,
        secure=settings.ch_secure,
    )


@contextmanager
def open_warehouse(settings: Settings | None = None, wait_s: float | None = None) -> Iterator[Client]:
    """Open the warehouse, yield a client, and always close it (releasing the chDB directory)."""
    client = connect(settings, wait_s)
    try:
        yield client
    finally:
        client.close()
