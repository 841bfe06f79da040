"""Reliability under faults, through the real `gogooku` command in subprocesses on this machine:

(a) an ingest killed with SIGKILL in the middle of a day, then run again, loses and duplicates nothing;
(b) two ingests started at once on one embedded warehouse: the second waits for the first (or, told to wait
    briefly, refuses in one line naming the holder), and the data is what one run lands;
(c) a failing dbt data test fails `gogooku build` visibly, and the marts keep their last good data;
(d) the J-Quants API key never appears in the output, debug logging, retries and a 401 included.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from jquants_server import JQuantsServer
from pushgateway_stub import PushgatewayStub
from warehouse_checks import RawWarehouse, iso_date

from gogooku.cli import main
from gogooku.settings import DBT_SKIP_UNIT_TESTS, REPO_ROOT
from gogooku.warehouse import open_warehouse
from ingestion.ingest import ingest_bulk
from ingestion.schema import DATASETS, LOAD_LOG

BARS = DATASETS["equities_bars_daily"]


def gogooku(*args: str) -> list[str]:
    return [sys.executable, "-m", "gogooku.cli", *args]


def env_for(home: Path, server: JQuantsServer | None = None, key: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a `gogooku` subprocess on `home` (and the test J-Quants server)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PUSHGATEWAY_URL", "GOGOOKU_LOCK_WAIT_S")}
    env.update(GOGOOKU_HOME=str(home), GOGOOKU_TARGET="embedded", **extra)
    if server is not None:
        env["JQUANTS_API_BASE_URL"] = server.base_url
        env["JQUANTS_API_KEY"] = key if key is not None else server.api_key
    return env


def run(cmd: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def committed_rows_per_day(raw: RawWarehouse, dataset: str) -> dict[str, int]:
    """Rows visible to staging per day: committed loads only, every row counted (a duplicate would show)."""
    ds = DATASETS[dataset]
    rows = raw.rows(
        f"SELECT toString(`{ds.day_field}`) AS d, count() FROM {ds.table} "
        f"WHERE _load_id IN (SELECT load_id FROM {LOAD_LOG}) GROUP BY d"
    )
    return dict(rows)


def expected_rows_per_day(sample, dataset: str, start: date, end: date) -> dict[str, int]:
    day = DATASETS[dataset].day_field
    counts = sample.rows(dataset, start, end).group_by(day).agg(pl.len().alias("n"))
    return dict(zip(counts[day].to_list(), counts["n"].to_list(), strict=True))


def assert_landed_exactly_once(raw: RawWarehouse, sample, start: date, end: date) -> None:
    """Every dataset: each day of [start, end] committed once, and its committed rows are the sample's, no more."""
    for name, ds in DATASETS.items():
        log = raw.rows(f"SELECT day, count() FROM {LOAD_LOG} WHERE dataset = '{name}' GROUP BY day ORDER BY day")
        assert [d for d, _ in log] == days(start, end), f"{name}: committed days"
        assert all(n == 1 for _, n in log), f"{name}: a day committed twice: {[d for d, n in log if n > 1]}"
        assert committed_rows_per_day(raw, name) == expected_rows_per_day(sample, name, start, end), name
        keys = ", ".join(f"`{k}`" for k in ds.key)
        total, distinct = raw.rows(
            f"SELECT count(), uniqExact({keys}) FROM {ds.table} WHERE _load_id IN (SELECT load_id FROM {LOAD_LOG})"
        )[0]
        assert total == distinct, f"{name}: {total - distinct} duplicate keys visible"


def report_lines(stdout: str) -> dict[str, tuple[int, int, int]]:
    """`gogooku ingest` output -> {dataset: (rows, days landed, days already landed)}."""
    out = {}
    for m in re.finditer(r"^(\w+)\s+([\d,]+) rows\s+(\d+) landed\s+(\d+) already landed$", stdout, flags=re.M):
        out[m.group(1)] = (int(m.group(2).replace(",", "")), int(m.group(3)), int(m.group(4)))
    return out


@pytest.fixture
def api_server(sample_records):
    """A J-Quants v2 test server on the sample market, 10 records a page (a day of bars is 3 pages)."""
    server = JQuantsServer(sample_records, api_key=f"key-{secrets.token_hex(8)}", page_size=10).start()
    try:
        yield server
    finally:
        server.stop()


# --- (a) killed mid-day ------------------------------------------------------------------------------------------


def test_an_ingest_killed_mid_day_then_run_again_loses_and_duplicates_nothing(
    sample, api_server, gogooku_home, raw
) -> None:
    start, end, kill_day = date(2024, 1, 4), date(2024, 2, 9), "2024-01-22"
    # The second page of the bars of 2024-01-22 is held: the process is killed with that day half-read, after
    # the listings of every day and the bars of the days before were committed.
    held = api_server.delay(BARS.path, 120, lambda q: q.get("date") == kill_day and "pagination_key" in q, times=1)
    cmd = gogooku("ingest", "--start", start.isoformat(), "--end", end.isoformat())
    env = env_for(gogooku_home, api_server)
    proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert held.wait(90), f"the ingest never reached {kill_day}: {proc.communicate(timeout=5)}"
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    api_server.clear_faults()
    page_one = [r for r in api_server.requests_to(BARS.path, date=kill_day) if "pagination_key" not in r.params]
    assert [r.status for r in page_one] == [200], "the kill did not land in the middle of the day"

    # What the killed run left: whole days only, up to the day before the kill.
    kill = date.fromisoformat(kill_day)
    assert raw.committed_days("equities_master") == days(start, end)
    assert raw.committed_days("equities_bars_daily") == days(start, kill - timedelta(days=1))
    for name in ("indices_topix", "markets_calendar", "equities_investor_types", "fins_summary"):
        assert raw.committed_days(name) == [], name
    assert committed_rows_per_day(raw, "equities_bars_daily") == expected_rows_per_day(
        sample, "equities_bars_daily", start, kill - timedelta(days=1)
    )

    rerun = run(cmd, env)
    assert rerun.returncode == 0, rerun.stderr
    lines = report_lines(rerun.stdout)
    assert lines["equities_master"][2] == len(days(start, end))  # nothing fetched again
    assert lines["equities_bars_daily"][1:] == ((end - kill).days + 1, (kill - start).days)
    assert_landed_exactly_once(raw, sample, start, end)


# --- (b) two processes on one embedded warehouse ------------------------------------------------------------------


def test_two_ingests_started_at_once_take_turns_and_land_the_data_once(sample, api_server, gogooku_home, raw) -> None:
    start, end = date(2024, 1, 4), date(2024, 1, 12)
    # Whoever gets the warehouse first holds it a few seconds (its TOPIX request is slow).
    api_server.delay(DATASETS["indices_topix"].path, 4, times=1)
    cmd = gogooku("ingest", "--start", start.isoformat(), "--end", end.isoformat())
    env = env_for(gogooku_home, api_server)
    procs = [
        subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    waited = [i for i, (_, err) in enumerate(outs) if "is in use by" in err]
    assert len(waited) == 1, [err for _, err in outs]
    second, first = waited[0], 1 - waited[0]
    assert f"in use by PID {procs[first].pid}" in outs[second][1]
    first_lines, second_lines = report_lines(outs[first][0]), report_lines(outs[second][0])
    assert set(first_lines) == set(second_lines) == set(DATASETS)
    assert all(rows == 0 and landed == 0 for rows, landed, _ in second_lines.values()), outs[second][0]
    assert sum(rows for rows, _, _ in first_lines.values()) > 0
    assert_landed_exactly_once(raw, sample, start, end)


def test_a_second_ingest_told_to_wait_briefly_refuses_in_one_line_and_the_first_completes(
    sample, api_server, gogooku_home, raw, monkeypatch, capsys
) -> None:
    start, end = date(2024, 1, 4), date(2024, 1, 12)
    held = api_server.delay(DATASETS["indices_topix"].path, 120, times=1)
    cmd = gogooku("ingest", "--start", start.isoformat(), "--end", end.isoformat())
    first = subprocess.Popen(
        cmd,
        env=env_for(gogooku_home, api_server),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert held.wait(90), "the first ingest never got to TOPIX"
        second = run(cmd, env_for(gogooku_home, api_server, GOGOOKU_LOCK_WAIT_S="0.5"), timeout=60)
    finally:
        api_server.clear_faults()  # let the first one go on
        out, err = first.communicate(timeout=120)
    assert second.returncode == 1
    # Log lines while it waited (INFO), then the error in one line, no traceback.
    errors = [line for line in second.stderr.splitlines() if " INFO " not in line]
    assert len(errors) == 1 and "Traceback" not in second.stderr, second.stderr
    assert errors[0].startswith("error: embedded warehouse ")
    assert str(gogooku_home / "clickhouse") in errors[0] and f"in use by PID {first.pid}" in errors[0]
    assert "(waited 0.5s)" in errors[0]
    assert second.stdout == ""
    assert first.returncode == 0, err
    assert_landed_exactly_once(raw, sample, start, end)

    monkeypatch.setenv("GOGOOKU_LOCK_WAIT_S", "soon")
    assert main(["sql", "SELECT 1"]) == 1
    assert capsys.readouterr().err.strip() == "error: GOGOOKU_LOCK_WAIT_S='soon' is not a number of seconds"


# --- (c) a failing data test ----------------------------------------------------------------------------------------

MARTS = ("dim_trading_calendar", "fct_daily_prices_adjusted", "fct_topix_daily", "fct_daily_features")


def marts_state(raw: RawWarehouse) -> dict[str, tuple[int, int]]:
    """(rows, content hash) of every mart table."""
    return {t: tuple(raw.rows(f"SELECT count(), sum(cityHash64(*)) FROM marts.{t}")[0]) for t in MARTS}


def test_a_failing_data_test_fails_the_build_visibly_and_the_marts_keep_the_last_good_data(
    sample, gogooku_home, raw, tmp_path
) -> None:
    with open_warehouse() as client:
        assert not ingest_bulk(client, sample.dir).errors
    with PushgatewayStub() as gw:
        env = env_for(
            gogooku_home,
            DBT_TARGET_PATH=str(tmp_path / "dbt_target"),
            DBT_LOG_PATH=str(tmp_path / "dbt_logs"),
            PUSHGATEWAY_URL=gw.url,
        )
        # unit tests check SQL on fixed rows (tests/dbt/test_unit_tests.py): not what this test is about
        good = run(gogooku("build", *DBT_SKIP_UNIT_TESTS), env, timeout=300)
        assert good.returncode == 0, good.stdout[-4000:]
        before = marts_state(raw)
        assert before["fct_daily_prices_adjusted"][0] == sample.counts["equities_bars_daily"]

        # A corrected file re-lands one bar of the last day with AdjFactor 0 (and another close): it violates
        # accepted_range on stg_jquants__daily_bars.adj_factor.
        path = next(sample.dir.glob("equities_bars_daily_2024*"))
        bars = pl.read_csv(path, infer_schema=False)
        last = bars.filter(iso_date(pl.col("Date")) == "2024-03-29").head(1)
        code = last["Code"][0]
        bad = last.with_columns(pl.lit("0").alias("AdjFactor"), (pl.col("C").cast(pl.Float64) * 2).cast(pl.String))
        bad_dir = tmp_path / "correction"
        bad_dir.mkdir()
        bad.write_csv(bad_dir / "equities_bars_daily_correction.csv")
        with open_warehouse() as client:
            report = ingest_bulk(client, bad_dir)
        assert not report.errors and report.rows == {"equities_bars_daily": 1}

        failed = run(gogooku("build", *DBT_SKIP_UNIT_TESTS), env, timeout=300)
    assert failed.returncode != 0
    fail_lines = [line for line in failed.stdout.splitlines() if "FAIL" in line and "accepted_range" in line]
    assert any("adj_factor" in line for line in fail_lines), failed.stdout[-4000:]
    assert re.search(r"ERROR=[1-9]\d* SKIP=[1-9]", failed.stdout), failed.stdout[-2000:]  # downstream skipped
    # The bad row reached staging, and nothing downstream of the failed test was rebuilt.
    staged = raw.rows(
        "SELECT adj_factor FROM staging.stg_jquants__daily_bars WHERE code = {c:String} AND date = '2024-03-29'",
        c=code,
    )
    assert staged == [(0.0,)]
    assert marts_state(raw) == before

    good_push, failed_push = gw.pushes_for("build")
    assert good_push.samples("gogooku_data_test_failures")[0][1] == 0
    assert good_push.value("gogooku_last_success_timestamp_seconds", job="build") is not None
    (labels, failures), *_ = failed_push.samples("gogooku_data_test_failures")
    assert failures >= 1 and labels["run"] != good_push.samples("gogooku_data_test_failures")[0][0]["run"]
    assert failed_push.value("gogooku_last_success_timestamp_seconds") is None  # the last success stays as it was
    assert failed_push.value("gogooku_run_duration_seconds", job="build", step="dbt_build") > 0


# --- (d) the API key stays out of the logs ---------------------------------------------------------------------------


def test_the_api_key_never_appears_in_the_output_even_with_debug_logging(sample_records, gogooku_home) -> None:
    key = f"JQ-SECRET-{secrets.token_hex(16)}"
    with JQuantsServer(sample_records, api_key=key, page_size=10) as server, PushgatewayStub() as gw:
        server.fail_next(BARS.path, [429, 503, "garbage"])
        server.fail_next(DATASETS["indices_topix"].path, [429])
        env = env_for(gogooku_home, server, PUSHGATEWAY_URL=gw.url)
        ok = run(gogooku("-v", "ingest", "--start", "2024-01-04", "--end", "2024-01-05"), env)
        assert ok.returncode == 0, ok.stderr[-3000:]
        assert " DEBUG " in ok.stderr and "answered HTTP 429; retry" in ok.stderr and "HTTP 503" in ok.stderr

        wrong = f"JQ-WRONG-{secrets.token_hex(16)}"
        outputs = [ok.stdout, ok.stderr]
        for verbose in (["-v"], []):
            bad = run(
                gogooku(*verbose, "ingest", "--start", "2024-01-04", "--end", "2024-01-05", "--force"),
                {**env, "JQUANTS_API_KEY": wrong},
            )
            assert bad.returncode == 1
            assert "answered 401" in bad.stderr and "JQUANTS_API_KEY is missing, wrong or expired" in bad.stderr
            outputs += [bad.stdout, bad.stderr]
        assert any(r.status == 401 for r in server.requests)
        assert len(gw.pushes) == 3
        outputs += [p.body for p in gw.pushes]
    for text in outputs:
        assert key not in text and wrong not in text
