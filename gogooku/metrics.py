"""The pipeline's Prometheus metrics: recorded by the commands, pushed to a Pushgateway, or served over HTTP.

The names and labels are a contract with `deploy/prometheus/alerts.yml` and the Grafana dashboards:

    gogooku_rows_landed_total{dataset,day}          rows a run landed for a dataset and day (gauge)
    gogooku_data_test_failures{run}                 failing dbt data tests of a dbt run (gauge)
    gogooku_data_freshness_lag_days{dataset}        calendar days from the newest day with committed rows to
                                                    today in Asia/Tokyo (gauge)
    gogooku_run_duration_seconds{job,step}          wall time of a step of a job (gauge)
    gogooku_model_rank_ic{model,split}              rank IC of a trained model on a split (gauge)
    gogooku_last_success_timestamp_seconds{job}     unix time of the job's last successful run (gauge)

They live in this module's own `REGISTRY` (not prometheus_client's global one). Batch commands record into it
and call `push(job)`, which sends them to `$PUSHGATEWAY_URL` (nothing when unset); `serve()` / `gogooku metrics`
exposes them over HTTP instead. Recording and pushing never fail the pipeline: a problem is logged.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, Gauge, generate_latest, pushadd_to_gateway, start_http_server
from prometheus_client.metrics_core import Metric

from gogooku.settings import DBT_PROJECT_DIR

log = logging.getLogger(__name__)

PUSHGATEWAY_ENV = "PUSHGATEWAY_URL"
PUSH_TIMEOUT_S = 5.0
DEFAULT_PORT = 9108
TOKYO = timezone(timedelta(hours=9), "JST")  # Japan keeps no daylight saving time: always UTC+9
TRADING_HOLDIV = ("1", "2")  # J-Quants HolDiv: 1 open, 2 half day (0 and 3 are closed for the cash market)
# Datasets with rows on every trading day: a trading day landed empty is worth an alert. The others are
# sparse by nature (listings change monthly in the sample, statements and flows come out on some days only).
DAILY_DATASETS = ("equities_bars_daily", "indices_topix", "markets_calendar")

REGISTRY = CollectorRegistry(auto_describe=True)

ROWS_LANDED = Gauge(
    "gogooku_rows_landed_total",
    "Rows landed (committed) for a dataset and day by the last run",
    ["dataset", "day"],
    registry=REGISTRY,
)
DATA_TEST_FAILURES = Gauge(
    "gogooku_data_test_failures",
    "dbt data tests that failed or errored in a dbt run (run = dbt invocation id)",
    ["run"],
    registry=REGISTRY,
)
FRESHNESS_LAG = Gauge(
    "gogooku_data_freshness_lag_days",
    "Calendar days between today (Asia/Tokyo) and the newest day of the dataset with committed rows",
    ["dataset"],
    registry=REGISTRY,
)
RUN_DURATION = Gauge(
    "gogooku_run_duration_seconds",
    "Wall time of a step of a job",
    ["job", "step"],
    registry=REGISTRY,
)
MODEL_RANK_IC = Gauge(
    "gogooku_model_rank_ic",
    "Mean daily rank IC of a trained model on a split",
    ["model", "split"],
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "gogooku_last_success_timestamp_seconds",
    "Unix time of the job's last successful run",
    ["job"],
    registry=REGISTRY,
)
GAUGES = (ROWS_LANDED, DATA_TEST_FAILURES, FRESHNESS_LAG, RUN_DURATION, MODEL_RANK_IC, LAST_SUCCESS)
METRIC_NAMES = frozenset(family.name for family in REGISTRY.collect())

T = TypeVar("T")


def _never_raises(fn: Callable[..., T]) -> Callable[..., T | None]:
    """Metrics are a side channel: a failure to record one is logged, never raised into the pipeline."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T | None:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - by design
            log.warning("%s failed: %s", fn.__name__, str(exc).splitlines()[0] if str(exc) else exc)
            log.debug("%s failed", fn.__name__, exc_info=True)
            return None

    return wrapper


def reset() -> None:
    """Forget every recorded value (a long-lived process between runs, tests)."""
    for gauge in GAUGES:
        gauge.clear()


def tokyo_today(now: datetime | None = None) -> date:
    """Today's date in Asia/Tokyo (J-Quants' calendar), for `now` (default: the current time)."""
    return (now or datetime.now(UTC)).astimezone(TOKYO).date()


# --- ingestion ----------------------------------------------------------------------------------------------


def landed_since(client, since: datetime) -> list[tuple[str, date, int]]:
    """(dataset, day, rows) of every load committed in `jquants_raw._load_log` at or after `since`."""
    from ingestion.schema import LOAD_LOG

    stamp = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    rows = client.query(
        f"SELECT dataset, day, sum(rows) FROM {LOAD_LOG} "
        "WHERE loaded_at >= toDateTime64({since:String}, 3, 'UTC') GROUP BY dataset, day ORDER BY dataset, day",
        parameters={"since": stamp},
    ).result_rows
    return [(str(ds), day, int(n)) for ds, day, n in rows]


def trading_days(client, days: Sequence[date]) -> set[date]:
    """Which of `days` the TSE cash market trades: the committed J-Quants calendar where landed, else Mon-Fri."""
    from ingestion.schema import DATASETS, LOAD_LOG

    if not days:
        return set()
    known = dict(
        client.query(
            f"SELECT Date, HolDiv FROM {DATASETS['markets_calendar'].table} "
            f"WHERE _load_id IN (SELECT load_id FROM {LOAD_LOG}) AND Date BETWEEN {{a:Date}} AND {{b:Date}} "
            "ORDER BY _loaded_at DESC LIMIT 1 BY Date",
            parameters={"a": min(days), "b": max(days)},
        ).result_rows
    )
    return {d for d in days if (known[d] in TRADING_HOLDIV if d in known else d.weekday() < 5)}


@_never_raises
def record_ingest(report=None, client=None, since: datetime | None = None) -> dict[tuple[str, str], int]:
    """Set `gogooku_rows_landed_total{dataset,day}` to what this run landed (the previous run's series go).

    With `client` and `since` (the run's start, taken once the warehouse is open), the rows per day are read
    from the loads committed since then, so a run that failed half-way still reports what it committed. A day
    committed empty counts (as 0) only for a dataset expected every trading day, on a trading day: a weekend,
    or a day without disclosures, is not news. Without a client, the `ingestion.ingest.IngestReport` gives
    rows per dataset only, under `day="all"`.
    """
    ROWS_LANDED.clear()
    out: dict[tuple[str, str], int] = {}
    if client is not None and since is not None:
        landed = landed_since(client, since)
        empty = [day for ds, day, n in landed if n == 0 and ds in DAILY_DATASETS]
        trading = trading_days(client, empty) if empty else set()
        for ds, day, n in landed:
            if n > 0 or (ds in DAILY_DATASETS and day in trading):
                out[(ds, day.isoformat())] = n
    elif report is not None:
        out = {(ds, "all"): n for ds, n in report.rows.items()}
    for (ds, day), n in out.items():
        ROWS_LANDED.labels(dataset=ds, day=day).set(n)
    return out


@_never_raises
def record_freshness(client, today: date | None = None) -> dict[str, int]:
    """Set `gogooku_data_freshness_lag_days{dataset}`: days from the newest day with committed rows to today.

    Days committed empty (a weekend asked for) do not count as data: on a Monday morning the bars are 3 days
    behind, which is what the alert's thresholds are written for.
    """
    from ingestion.schema import LOAD_LOG, RAW_DB

    today = today or tokyo_today()
    FRESHNESS_LAG.clear()
    if not client.command(f"EXISTS TABLE {LOAD_LOG}"):
        log.info("no %s yet, nothing landed: no freshness to report", LOAD_LOG)
        return {}
    newest = client.query(f"SELECT dataset, max(day) FROM {LOAD_LOG} WHERE rows > 0 GROUP BY dataset").result_rows
    lags = {str(ds): (today - day).days for ds, day in newest}
    for ds, lag in lags.items():
        FRESHNESS_LAG.labels(dataset=ds).set(lag)
    log.debug("freshness of %s: %s", RAW_DB, lags)
    return lags


# --- dbt ------------------------------------------------------------------------------------------------------


def run_results_path(dbt_args: Sequence[str] = ()) -> Path:
    """Where dbt writes run_results.json: `--target-path`, else `$DBT_TARGET_PATH`, else `target/` of the project."""
    target = os.environ.get("DBT_TARGET_PATH") or "target"
    args = list(dbt_args)
    for i, arg in enumerate(args):
        if arg == "--target-path" and i + 1 < len(args):
            target = args[i + 1]
        elif arg.startswith("--target-path="):
            target = arg.split("=", 1)[1]
    return (DBT_PROJECT_DIR / target / "run_results.json").resolve()


def failed_data_tests(run_results: Mapping[str, Any]) -> list[str]:
    """unique_ids of the data tests that failed or errored in a parsed run_results.json."""
    return [
        r["unique_id"]
        for r in run_results.get("results", [])
        if str(r.get("unique_id", "")).startswith("test.") and r.get("status") in ("fail", "error")
    ]


@_never_raises
def record_dbt_results(path: str | Path, run: str | None = None, newer_than: float | None = None) -> int | None:
    """Set `gogooku_data_test_failures{run}` from dbt's run_results.json; returns the count (None: no results).

    `run` defaults to dbt's invocation id. With `newer_than` (a unix time), a file older than that is a previous
    run's (dbt stopped before writing one) and is not used.
    """
    path = Path(path)
    if not path.exists():
        log.warning("no dbt results at %s", path)
        return None
    if newer_than is not None and path.stat().st_mtime < newer_than - 1:
        log.warning("%s is from an earlier dbt run; data test failures not recorded", path)
        return None
    results = json.loads(path.read_text())
    failed = failed_data_tests(results)
    run = run or results.get("metadata", {}).get("invocation_id") or "unknown"
    DATA_TEST_FAILURES.clear()
    DATA_TEST_FAILURES.labels(run=run).set(len(failed))
    for unique_id in failed:
        log.info("data test failed: %s", unique_id)
    return len(failed)


# --- runs and models ------------------------------------------------------------------------------------------


def record_duration(job: str, step: str, seconds: float) -> None:
    RUN_DURATION.labels(job=job, step=step).set(seconds)


@contextmanager
def timed(job: str, step: str) -> Iterator[None]:
    """Record the wall time of the block as `gogooku_run_duration_seconds{job,step}` (also when it raises)."""
    started = time.monotonic()
    try:
        yield
    finally:
        record_duration(job, step, time.monotonic() - started)


def record_success(job: str, when: float | None = None) -> None:
    LAST_SUCCESS.labels(job=job).set(time.time() if when is None else when)


@_never_raises
def record_model(result, split: str = "validation") -> float | None:
    """Set `gogooku_model_rank_ic{model,split}` from an `ml.training.TrainResult` (`metrics['rank_ic_mean']`,
    the pooled out-of-fold validation rank IC)."""
    value = result.metrics.get("rank_ic_mean")
    if value is None or not math.isfinite(value):
        log.warning("model %s has no finite rank_ic_mean (%r); not recorded", result.model_name, value)
        return None
    MODEL_RANK_IC.labels(model=result.model_name, split=split).set(value)
    return float(value)


# --- exposition -------------------------------------------------------------------------------------------------


class _JobView:
    """The registry as pushed for one job: families with samples, without series labelled with another job.

    The Pushgateway overwrites a pushed series' `job` label with the grouping key's, so another job's series
    would be relabelled (they are pushed under their own job instead).
    """

    def __init__(self, job: str) -> None:
        self.job = job

    def collect(self) -> Iterator[Metric]:
        for family in REGISTRY.collect():
            samples = [s for s in family.samples if s.labels.get("job", self.job) == self.job]
            if samples:
                view = Metric(family.name, family.documentation, family.type, family.unit)
                view.samples = samples
                yield view


def _redact(url: str) -> str:
    """`url` without user:password (for logs)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def push(job: str, gateway: str | None = None) -> bool:
    """Push what this process recorded to the Pushgateway under `job`; True when it was accepted.

    `gateway` defaults to `$PUSHGATEWAY_URL`; unset means no push (False). It is an HTTP POST (pushadd): only the
    metric families pushed now replace the job's previous ones, so a failed run leaves the job's last success
    time in place for the overdue alert. An unreachable or failing gateway is logged, never raised.
    """
    gateway = gateway if gateway is not None else os.environ.get(PUSHGATEWAY_ENV, "").strip()
    if not gateway:
        log.debug("%s not set, nothing pushed", PUSHGATEWAY_ENV)
        return False
    try:
        pushadd_to_gateway(gateway, job=job, registry=_JobView(job), timeout=PUSH_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - monitoring must not fail the pipeline
        log.warning("push of job %s to %s failed: %s", job, _redact(gateway), exc)
        return False
    log.info("pushed job %s to %s", job, _redact(gateway))
    return True


def exposition() -> bytes:
    """The registry in the Prometheus text format (what GET /metrics answers)."""
    return generate_latest(REGISTRY)


def serve(port: int = DEFAULT_PORT, addr: str = "127.0.0.1"):
    """Expose the registry on http://addr:port/metrics in a background thread; returns (server, thread).

    Port 0 picks a free port: `server.server_address[1]`. Stop with `server.shutdown(); server.server_close()`.
    """
    return start_http_server(port, addr=addr, registry=REGISTRY)


@_never_raises
def refresh_freshness(wait_s: float = 10.0) -> dict[str, int]:
    """Recompute the freshness gauges from the active warehouse (keeps the last values when it is busy)."""
    from gogooku.warehouse import open_warehouse

    with open_warehouse(wait_s=wait_s) as client:
        return record_freshness(client)


def run_server(port: int = DEFAULT_PORT, addr: str = "127.0.0.1", interval_s: float = 300.0) -> None:
    """`gogooku metrics`: serve the registry, recomputing freshness every `interval_s` (blocks until interrupted).

    The embedded warehouse is opened only for the moment of each refresh, so pipeline runs are not blocked.
    """
    server, _thread = serve(port, addr)
    host, bound = server.server_address[:2]
    print(f"serving metrics on http://{host}:{bound}/metrics (freshness refreshed every {interval_s:g}s)", flush=True)
    stop = threading.Event()
    try:
        while not stop.wait(interval_s):
            refresh_freshness(wait_s=min(10.0, interval_s))
    finally:
        server.shutdown()
        server.server_close()
