"""API ingestion end to end: the real J-Quants client against a local v2 server, landing in a real chDB warehouse."""

from __future__ import annotations

import logging
import math
import os
import secrets
import subprocess
import sys
import textwrap
from datetime import date, timedelta

import polars as pl
import pytest
from jquants_server import REDACTED, JQuantsServer
from polars.testing import assert_frame_equal
from warehouse_checks import Sample, expected_frame

from gogooku.cli import main
from gogooku.warehouse import open_warehouse
from ingestion.api import ApiError, JQuantsClient
from ingestion.ingest import ingest_api
from ingestion.schema import DATASETS, LOAD_LOG

pytestmark = pytest.mark.usefixtures("gogooku_home")

BARS = DATASETS["equities_bars_daily"]
MASTER = DATASETS["equities_master"]
TOPIX = DATASETS["indices_topix"]
# Two weeks with two weekends and a holiday (2024-02-12, substitute for National Foundation Day), in results
# season so that statements are disclosed, and with two Thursdays of investor-type publications.
START, END = date(2024, 2, 1), date(2024, 2, 14)
D1, D2, D3 = date(2024, 2, 5), date(2024, 2, 6), date(2024, 2, 7)  # Monday to Wednesday


def no_sleep(_seconds: float) -> None:
    pass


def api_client(**kwargs) -> JQuantsClient:
    return JQuantsClient(sleep=kwargs.pop("sleep", no_sleep), **kwargs)


def ingest(datasets, start: date, end: date, api: JQuantsClient | None = None, force: bool = False):
    with open_warehouse() as client:
        return ingest_api(client, api or api_client(), list(datasets), start, end, force=force)


def calendar_days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def test_api_ingest_lands_the_rows_of_the_bulk_files(
    sample: Sample, jquants_server: JQuantsServer, gogooku_home, raw, monkeypatch, tmp_path, capsys
) -> None:
    # What the bulk files land, in a warehouse of their own.
    monkeypatch.setenv("GOGOOKU_HOME", str(tmp_path / "bulk_home"))
    assert main(["ingest", "--bulk", str(sample.dir)]) == 0
    from_bulk = {name: raw.latest(name, START, END) for name in DATASETS}
    # Days the bulk files committed are not asked for again (a bulk file commits the days it has rows for).
    bulk_days = raw.committed_days(BARS.name)
    report = ingest(DATASETS.values(), START, END)
    assert report.errors == [] and sum(report.rows.values()) == 0
    asked = {date.fromisoformat(r.params["date"]) for r in jquants_server.requests_to(BARS.path)}
    assert asked == set(calendar_days(START, END)) - set(bulk_days)
    assert {d.weekday() for d in asked} == {5, 6, 0}  # weekends, and Monday 2024-02-12 (a holiday)
    jquants_server.reset_requests()

    monkeypatch.setenv("GOGOOKU_HOME", str(gogooku_home))
    capsys.readouterr()
    assert main(["ingest", "--start", START.isoformat(), "--end", END.isoformat()]) == 0
    out = capsys.readouterr().out
    for name, ds in DATASETS.items():
        bulk_rows = sample.rows(name, START, END)
        landed = raw.latest(name, START, END)
        assert landed.height == bulk_rows.height, name
        assert_frame_equal(landed, from_bulk[name], check_exact=True)
        # Each (dataset, calendar day) of the range is committed once, holidays and weekends included (empty).
        assert raw.committed_days(name) == calendar_days(START, END), name
        assert raw.committed_count(name) == bulk_rows.height, name
        assert f"{bulk_rows.height:,} rows" in next(line for line in out.splitlines() if line.startswith(name))
        # And both are what the CSV text says, derived independently of ingestion/.
        assert_frame_equal(landed.drop("_extra"), expected_frame(ds, bulk_rows, landed), check_exact=True)
        assert all(not extra for extra in landed["_extra"].to_list())
    assert sum(sample.rows(n, START, END).height for n in ("fins_summary", "equities_investor_types")) > 0


def test_pagination_is_followed(sample: Sample, jquants_server: JQuantsServer, raw) -> None:
    jquants_server.page_size = 7
    report = ingest([BARS, TOPIX], D1, D3)
    for day in (D1, D2, D3):
        n = sample.rows(BARS.name, day, day).height
        assert n > 7
        pages = jquants_server.requests_to(BARS.path, date=day.isoformat())
        assert len(pages) == math.ceil(n / 7)
        assert "pagination_key" not in pages[0].params
        assert all("pagination_key" in p.params for p in pages[1:])
        assert len({p.params["pagination_key"] for p in pages[1:]}) == len(pages) - 1
        assert all(p.status == 200 for p in pages)
    assert report.rows[BARS.name] == raw.committed_count(BARS.name) == sample.rows(BARS.name, D1, D3).height
    topix = jquants_server.requests_to(TOPIX.path, **{"from": D1.isoformat(), "to": D3.isoformat()})
    assert len(topix) == math.ceil(sample.rows(TOPIX.name, D1, D3).height / 7)
    assert raw.committed_count(TOPIX.name) == 3


def test_second_run_lands_nothing_and_force_lands_again_without_visible_duplicates(
    sample: Sample, jquants_server: JQuantsServer, raw, capsys
) -> None:
    start, end = START, date(2024, 2, 8)
    args = ["ingest", "--start", start.isoformat(), "--end", end.isoformat()]
    assert main(args) == 0
    counts = {name: raw.count(name) for name in DATASETS}
    latest = {name: raw.latest(name) for name in DATASETS}
    log_rows = raw.log().height
    assert log_rows == len(DATASETS) * len(calendar_days(start, end))

    jquants_server.reset_requests()
    capsys.readouterr()
    assert main(args) == 0
    assert jquants_server.requests == []  # nothing asked: every day is already committed
    out = capsys.readouterr().out
    assert all(f"{len(calendar_days(start, end)):>5} already landed" in line for line in out.splitlines())
    assert {name: raw.count(name) for name in DATASETS} == counts
    assert raw.log().height == log_rows

    report = ingest(DATASETS.values(), start, end, force=True)
    assert report.skipped == dict.fromkeys(DATASETS, 0)
    for name in DATASETS:
        assert report.rows.get(name, 0) == sample.rows(name, start, end).height
        assert raw.count(name) == 2 * counts[name]  # landed twice in the raw table...
        assert_frame_equal(raw.latest(name), latest[name])  # ...once in what staging sees
    log = raw.log()
    assert log.height == 2 * log_rows
    assert log.group_by("dataset", "day").agg(pl.col("load_id").n_unique().alias("n"))["n"].to_list() == [2] * log_rows


def test_a_later_range_asks_only_for_the_days_not_landed(sample: Sample, jquants_server: JQuantsServer, raw) -> None:
    ingest([BARS, TOPIX], D1, D2)
    jquants_server.reset_requests()
    report = ingest([BARS, TOPIX], D1, D3)
    assert report.skipped == {BARS.name: 2, TOPIX.name: 2}
    assert {r.params.get("date") for r in jquants_server.requests_to(BARS.path)} == {D3.isoformat()}
    assert [r.params for r in jquants_server.requests_to(TOPIX.path)] == [
        {"from": D3.isoformat(), "to": D3.isoformat()}
    ]
    assert raw.committed_count(BARS.name) == raw.count(BARS.name) == sample.rows(BARS.name, D1, D3).height


def test_transient_failures_are_retried_with_backoff(
    sample: Sample, jquants_server: JQuantsServer, raw, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    jquants_server.fail_next(BARS.path, [429, 500, "garbage"])
    sleeps: list[float] = []
    api = api_client(sleep=sleeps.append, backoff_s=0.5, max_backoff_s=30)
    report = ingest([BARS], D1, D1, api=api)

    asked = jquants_server.requests_to(BARS.path, date=D1.isoformat())
    assert [r.status for r in asked] == [429, 500, 200, 200]  # the third 200 carried an HTML body
    assert api.retries == 3
    assert len(sleeps) == 3
    for attempt, slept in enumerate(sleeps):  # exponential with jitter in [0.5, 1.5)
        assert 0.5 * 0.5 * 2**attempt <= slept < 1.5 * 0.5 * 2**attempt
    assert report.errors == []
    assert raw.committed_count(BARS.name) == sample.rows(BARS.name, D1, D1).height
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "retry" in r.getMessage()]
    assert len(warnings) == 3
    assert "HTTP 429" in warnings[0] and "HTTP 500" in warnings[1] and "not JSON" in warnings[2]
    assert jquants_server.api_key not in caplog.text


def test_truncated_json_and_dropped_connections_are_retried(sample: Sample, jquants_server: JQuantsServer, raw) -> None:
    jquants_server.page_size = 10
    jquants_server.fail_next(BARS.path, ["truncated", "disconnect"])
    api = api_client()
    ingest([BARS], D1, D1, api=api)
    assert api.retries == 2
    assert raw.committed_count(BARS.name) == sample.rows(BARS.name, D1, D1).height


def test_a_failed_page_is_asked_again_without_losing_or_repeating_records(
    sample: Sample, jquants_server: JQuantsServer, raw
) -> None:
    jquants_server.page_size = 7
    jquants_server.fail_next(BARS.path, [None, 503, None, "garbage"])  # the second and third pages fail once
    api = api_client()
    ingest([BARS], D1, D1, api=api)
    assert api.retries == 2
    keys = [r.params.get("pagination_key") for r in jquants_server.requests_to(BARS.path)]
    assert keys[1] == keys[2] and keys[3] == keys[4]  # the same page asked again
    n = sample.rows(BARS.name, D1, D1).height
    assert raw.count(BARS.name) == raw.committed_count(BARS.name) == n
    assert raw.latest(BARS.name).height == n


def test_a_client_error_is_not_retried_and_carries_the_message(jquants_server: JQuantsServer, raw) -> None:
    api = api_client()
    with pytest.raises(ApiError, match=r"HTTP 400 on /equities/bars/daily: either code or date is required"):
        api.fetch(BARS.path, {})
    with pytest.raises(ApiError, match="HTTP 400 .*pagination_key does not belong to this request"):
        api.fetch(BARS.path, {"date": D1.isoformat(), "pagination_key": "made-up"})
    jquants_server.fail_next(BARS.path, [404])
    with pytest.raises(ApiError, match="HTTP 404 on /equities/bars/daily: injected HTTP 404"):
        ingest([BARS], D1, D1, api=api)
    assert api.retries == 0 and len(jquants_server.requests) == 3
    assert raw.committed_days(BARS.name) == []


def test_api_that_stays_down_stops_the_run_and_commits_nothing_for_that_day(
    sample: Sample, jquants_server: JQuantsServer, raw
) -> None:
    jquants_server.fail_always(BARS.path, 503)
    sleeps: list[float] = []
    api = api_client(max_attempts=4, backoff_s=1.0, max_backoff_s=2.0, sleep=sleeps.append)
    with pytest.raises(ApiError) as err:
        ingest([MASTER, BARS, TOPIX], D1, D1, api=api)
    message = str(err.value)
    assert BARS.path in message and "503" in message and "4 times" in message
    assert len(jquants_server.requests_to(BARS.path)) == 4  # bounded
    assert len(sleeps) == 3 and max(sleeps) < 2.0 * 1.5  # capped backoff
    assert raw.committed_days(MASTER.name) == [D1]  # landed before the outage
    assert raw.committed_days(BARS.name) == [] and raw.count(BARS.name) == 0
    assert jquants_server.requests_to(TOPIX.path) == []  # the run stopped

    jquants_server.clear_faults()
    jquants_server.reset_requests()
    report = ingest([MASTER, BARS, TOPIX], D1, D1)
    assert report.skipped == {MASTER.name: 1, BARS.name: 0, TOPIX.name: 0}
    assert jquants_server.requests_to(MASTER.path) == []
    assert raw.committed_count(BARS.name) == sample.rows(BARS.name, D1, D1).height
    assert raw.committed_days(TOPIX.name) == [D1]


def test_wrong_key_fails_at_once_naming_the_variable_never_the_key(
    jquants_server: JQuantsServer, raw, monkeypatch, caplog, capsys
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = f"wrong-key-{secrets.token_hex(8)}"
    monkeypatch.setenv("JQUANTS_API_KEY", secret)
    rc = main(["ingest", "--start", D1.isoformat(), "--end", D1.isoformat(), "--datasets", BARS.name])
    captured = capsys.readouterr()
    assert rc != 0
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "JQUANTS_API_KEY" in lines[0] and "401" in lines[0]
    assert "Traceback" not in captured.err
    for text in (captured.err, captured.out, caplog.text):
        assert secret not in text
        assert jquants_server.api_key not in text
    (request,) = jquants_server.requests  # no retry on 401
    assert request.status == 401 and not request.key_ok
    assert request.headers["x-api-key"] == REDACTED
    assert secret not in repr(jquants_server.requests)
    assert raw.log().height == 0


def test_the_server_checks_the_key_it_was_given(jquants_server: JQuantsServer) -> None:
    with pytest.raises(ApiError, match="401"):
        JQuantsClient(api_key=jquants_server.api_key + "x", sleep=no_sleep).fetch(TOPIX.path, {})
    assert JQuantsClient(sleep=no_sleep).fetch(TOPIX.path, {"from": "2024-02-01", "to": "20240202"})
    assert [r.key_ok for r in jquants_server.requests] == [False, True]


@pytest.mark.parametrize("value", [None, ""])
def test_missing_key_is_a_clear_error(gogooku_home, monkeypatch, capsys, value) -> None:
    if value is None:
        monkeypatch.delenv("JQUANTS_API_KEY", raising=False)
    else:
        monkeypatch.setenv("JQUANTS_API_KEY", value)
    with pytest.raises(ApiError, match="JQUANTS_API_KEY is not set"):
        JQuantsClient()
    assert main(["ingest", "--start", "2024-02-01", "--end", "2024-02-02"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "JQUANTS_API_KEY" in err[0]
    assert not (gogooku_home / "clickhouse").exists()  # failed before touching the warehouse


def test_a_record_missing_a_required_field_fails_only_its_day(
    sample: Sample, jquants_server: JQuantsServer, raw
) -> None:
    jquants_server.drop_field(BARS.path, "AdjFactor", day=D2)
    report = ingest([BARS], D1, D3)
    assert len(report.errors) == 1
    assert "'AdjFactor'" in report.errors[0] and D2.isoformat() in report.errors[0]
    assert raw.committed_days(BARS.name) == [D1, D3]
    expected = sample.rows(BARS.name, D1, D1).height + sample.rows(BARS.name, D3, D3).height
    assert report.rows == {BARS.name: expected}
    assert raw.count(BARS.name) == raw.committed_count(BARS.name) == expected  # nothing of D2 was inserted

    # Once the feed is fixed the next run lands that day, and only that day.
    jquants_server.clear_mutations()
    jquants_server.reset_requests()
    report = ingest([BARS], D1, D3)
    assert report.errors == [] and report.skipped == {BARS.name: 2}
    assert {r.params["date"] for r in jquants_server.requests} == {D2.isoformat()}
    assert raw.committed_count(BARS.name) == sample.rows(BARS.name, D1, D3).height


def test_an_unreadable_value_fails_its_day_naming_the_field(sample: Sample, jquants_server: JQuantsServer, raw) -> None:
    jquants_server.add_field(BARS.path, "C", "n/a", day=D2)
    jquants_server.add_field(TOPIX.path, "O", None, day=D3)  # a required field present but null
    report = ingest([BARS, TOPIX], D1, D3)
    assert len(report.errors) == 2
    bars_error = next(e for e in report.errors if e.startswith(BARS.name))
    assert "'C'" in bars_error and "'n/a'" in bars_error and D2.isoformat() in bars_error
    topix_error = next(e for e in report.errors if e.startswith(TOPIX.name))
    assert "'O'" in topix_error and "empty" in topix_error and D3.isoformat() in topix_error
    assert raw.committed_days(BARS.name) == [D1, D3]
    assert raw.committed_days(TOPIX.name) == [D1, D2]


def test_an_unknown_field_is_kept_in_extra_and_reported_once(
    sample: Sample, jquants_server: JQuantsServer, raw, caplog
) -> None:
    caplog.set_level(logging.INFO)
    jquants_server.add_field(BARS.path, "NewMetric", 1.25)
    report = ingest([BARS], D1, D3)
    assert report.errors == []
    assert report.unknown_fields == {BARS.name: ["NewMetric"]}
    mentions = [r for r in caplog.records if "NewMetric" in r.getMessage()]
    assert len(mentions) == 1 and mentions[0].levelno == logging.WARNING
    n = sample.rows(BARS.name, D1, D3).height
    (row,) = raw.rows(
        f"SELECT count(), countIf(_extra['NewMetric'] = '1.25'), countIf(mapKeys(_extra) = ['NewMetric']) "
        f"FROM {BARS.table}"
    )
    assert row == (n, n, n)


def test_a_load_killed_before_its_commit_is_invisible_and_landed_again(
    sample: Sample, jquants_server: JQuantsServer, raw
) -> None:
    """A process killed between the data insert and the load-log insert: its rows stay invisible, the next run
    lands the day again, once."""
    script = textwrap.dedent(
        f"""
        import os
        from datetime import date
        from gogooku.warehouse import open_warehouse
        from ingestion.api import JQuantsClient
        from ingestion.ingest import ingest_api
        from ingestion.schema import DATASETS, LOAD_LOG

        with open_warehouse() as client:
            insert = client.insert_arrow
            def insert_then_die(table, data, *args, **kwargs):
                if table == LOAD_LOG and date({D2.year}, {D2.month}, {D2.day}) in data.column("day").to_pylist():
                    os._exit(17)  # killed after the rows of D2 went in, before they were committed
                return insert(table, data, *args, **kwargs)
            client.insert_arrow = insert_then_die
            ingest_api(client, JQuantsClient(), [DATASETS["{BARS.name}"]], date.fromisoformat("{D1}"),
                       date.fromisoformat("{D3}"))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env=os.environ.copy(), capture_output=True, timeout=120)
    assert proc.returncode == 17, proc.stderr.decode()[-2000:]
    n1, n2 = (sample.rows(BARS.name, d, d).height for d in (D1, D2))
    assert raw.committed_days(BARS.name) == [D1]
    assert raw.count(BARS.name) == n1 + n2  # D2's rows are in the table...
    assert raw.latest(BARS.name, D2, D2).height == 0  # ...but nothing downstream can see them

    report = ingest([BARS], D1, D3)
    assert report.skipped == {BARS.name: 1}
    assert raw.committed_days(BARS.name) == [D1, D2, D3]
    assert raw.committed_count(BARS.name) == sample.rows(BARS.name, D1, D3).height  # D2 once, not twice
    latest = raw.latest(BARS.name)
    assert latest.height == sample.rows(BARS.name, D1, D3).height
    assert latest.select(BARS.key).is_duplicated().sum() == 0


class SimulatedCrash(BaseException):
    """Stands for the process dying: nothing in the loader may catch it."""


class CrashBeforeCommit:
    """A client whose load-log insert dies, for the days given."""

    def __init__(self, client, days: set[date]) -> None:
        self._client = client
        self._days = days

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def insert_arrow(self, table, data, *args, **kwargs):
        if table == LOAD_LOG and self._days & set(data.column("day").to_pylist()):
            raise SimulatedCrash
        return self._client.insert_arrow(table, data, *args, **kwargs)


def test_a_forced_reload_killed_before_its_commit_keeps_the_committed_rows_visible(
    sample: Sample, jquants_server: JQuantsServer, raw
) -> None:
    """The uncommitted rows of a killed `--force` run are newer than the committed ones: merges of the raw
    table must not let them replace what staging sees."""
    ingest([BARS], D1, D1)
    before = raw.latest(BARS.name)
    with open_warehouse() as client, pytest.raises(SimulatedCrash):
        ingest_api(CrashBeforeCommit(client, {D1}), api_client(), [BARS], D1, D1, force=True)
    assert raw.count(BARS.name) == 2 * before.height
    with open_warehouse() as client:
        client.command(f"OPTIMIZE TABLE {BARS.table} FINAL")
    assert_frame_equal(raw.latest(BARS.name), before)
