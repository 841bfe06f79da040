"""The pipeline's Prometheus metrics: scraped over HTTP, pushed to a (stub) Pushgateway, and named as the alert rules
and dashboards expect."""

from __future__ import annotations

import json
import logging
import re
import socket
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from pushgateway_stub import PushgatewayStub

from gogooku import metrics
from gogooku.cli import main
from gogooku.settings import REPO_ROOT
from gogooku.warehouse import open_warehouse
from ingestion.api import JQuantsClient
from ingestion.ingest import ingest_api, ingest_bulk
from ingestion.schema import DATASETS

DEPLOY = REPO_ROOT / "deploy"


@pytest.fixture(autouse=True)
def fresh_metrics():
    metrics.reset()
    yield
    metrics.reset()


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    """GET /metrics -> {metric name: [(labels, value), ...]}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode("utf-8")
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def expected_rows_per_day(sample, dataset: str, start: date | None = None, end: date | None = None) -> dict[str, int]:
    """{"YYYY-MM-DD": rows} of the sample's bulk rows of `dataset`."""
    day = DATASETS[dataset].day_field
    counts = sample.rows(dataset, start, end).group_by(day).agg(pl.len().alias("n"))
    return dict(zip(counts[day].to_list(), counts["n"].to_list(), strict=True))


@pytest.fixture
def endpoint():
    server, thread = metrics.serve(0, "127.0.0.1")
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_scraped_metrics_show_the_rows_landed_per_dataset_and_day_and_the_freshness_lag(
    sample, gogooku_home, endpoint
) -> None:
    today = date(2024, 4, 8)  # a Monday: the sample's last session, Friday 2024-03-29, is 10 days back
    with open_warehouse() as client:
        since = datetime.now(UTC)
        report = ingest_bulk(client, sample.dir)
        assert not report.errors
        metrics.record_ingest(report, client, since)
        lags = metrics.record_freshness(client, today=today)
    metrics.record_success("ingest", when=1_700_000_000)

    scraped = scrape(endpoint)
    landed = {(lab["dataset"], lab["day"]): v for lab, v in scraped["gogooku_rows_landed_total"]}
    expected = {(ds, day): float(n) for ds in DATASETS for day, n in expected_rows_per_day(sample, ds).items() if day}
    assert landed == expected
    assert sum(landed.values()) == sum(sample.counts.values())

    freshness = {lab["dataset"]: v for lab, v in scraped["gogooku_data_freshness_lag_days"]}
    assert freshness["equities_bars_daily"] == 10
    assert freshness["indices_topix"] == 10
    newest = {ds: max(d for d in expected_rows_per_day(sample, ds) if d) for ds in DATASETS}
    assert freshness == {ds: (today - date.fromisoformat(day)).days for ds, day in newest.items()}
    assert lags == {ds: int(v) for ds, v in freshness.items()}

    assert scraped["gogooku_last_success_timestamp_seconds"] == [({"job": "ingest"}, 1_700_000_000)]


def test_a_new_run_replaces_the_last_runs_rows_and_already_landed_files_count_nothing(
    sample, gogooku_home, endpoint
) -> None:
    with open_warehouse() as client:
        ingest_bulk(client, sample.dir)
        since = datetime.now(UTC)
        report = ingest_bulk(client, sample.dir)  # every file already landed
        assert sum(report.rows.values()) == 0
        assert metrics.record_ingest(report, client, since) == {}
    assert "gogooku_rows_landed_total" not in scrape(endpoint)


def test_api_days_landed_empty_count_only_on_trading_days_of_daily_datasets(jquants_server, gogooku_home) -> None:
    # 2024-01-06/07 are a weekend and 01-08 a holiday (Coming of Age Day); 01-05 is a trading day the API answers
    # empty (an outage upstream): that one must show as 0 rows, for the GogookuNoRowsLanded alert.
    jquants_server.fail_next("/equities/bars/daily", [None, {"data": []}])
    datasets = [DATASETS[n] for n in ("equities_bars_daily", "markets_calendar", "fins_summary")]
    start, end = date(2024, 1, 4), date(2024, 1, 9)
    with open_warehouse() as client:
        since = datetime.now(UTC)
        report = ingest_api(client, JQuantsClient(sleep=lambda s: None), datasets, start, end)
        assert not report.errors
        landed = metrics.record_ingest(report, client, since)
    bars = {day: n for (ds, day), n in landed.items() if ds == "equities_bars_daily"}
    assert set(bars) == {"2024-01-04", "2024-01-05", "2024-01-09"}
    assert bars["2024-01-05"] == 0
    assert bars["2024-01-04"] > 0 and bars["2024-01-09"] > 0
    calendar = {day for (ds, day) in landed if ds == "markets_calendar"}
    assert calendar == {(start + timedelta(days=i)).isoformat() for i in range(6)}  # one row every calendar day
    assert all(n > 0 for (ds, _), n in landed.items() if ds == "fins_summary")


def test_tokyo_today_is_the_date_in_japan() -> None:
    assert metrics.tokyo_today(datetime(2024, 4, 7, 14, 59, tzinfo=UTC)) == date(2024, 4, 7)
    assert metrics.tokyo_today(datetime(2024, 4, 7, 15, 0, tzinfo=UTC)) == date(2024, 4, 8)


def test_dbt_run_results_give_the_failing_data_tests_of_the_run(tmp_path) -> None:
    results = {
        "metadata": {"invocation_id": "inv-1"},
        "results": [
            {"unique_id": "model.gogooku.stg_a", "status": "success"},
            {"unique_id": "model.gogooku.fct_b", "status": "error"},  # a model error is not a data test failure
            {"unique_id": "test.gogooku.not_null_a_x.1", "status": "pass"},
            {"unique_id": "test.gogooku.unique_a_x.2", "status": "fail"},
            {"unique_id": "test.gogooku.accepted_range_a_y.3", "status": "error"},
            {"unique_id": "test.gogooku.relationships_b.4", "status": "warn"},
            {"unique_id": "test.gogooku.relationships_b.5", "status": "skipped"},
            {"unique_id": "unit_test.gogooku.fct_b.t", "status": "pass"},
        ],
    }
    path = tmp_path / "run_results.json"
    path.write_text(json.dumps(results))
    assert metrics.record_dbt_results(path) == 2
    assert metrics.DATA_TEST_FAILURES.labels(run="inv-1")._value.get() == 2
    # A file older than the run it is read for is a previous run's: not used.
    assert metrics.record_dbt_results(path, newer_than=path.stat().st_mtime + 60) is None
    assert metrics.record_dbt_results(tmp_path / "missing.json") is None  # logged, not raised


def test_run_results_path_follows_dbt_target_path(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    assert metrics.run_results_path() == REPO_ROOT / "dbt_project" / "target" / "run_results.json"
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path))
    assert metrics.run_results_path() == tmp_path / "run_results.json"
    assert metrics.run_results_path(["--target-path", str(tmp_path / "t")]) == tmp_path / "t" / "run_results.json"


def test_model_rank_ic_comes_from_the_train_result() -> None:
    class Result:  # the fields of ml.training.TrainResult that matter here
        model_name = "gogooku_ranker"
        metrics = {"rank_ic_mean": 0.042, "rank_ic_std": 0.1}

    assert metrics.record_model(Result()) == pytest.approx(0.042)
    assert metrics.MODEL_RANK_IC.labels(model="gogooku_ranker", split="validation")._value.get() == 0.042
    Result.metrics = {"rank_ic_mean": float("nan")}
    metrics.reset()
    assert metrics.record_model(Result()) is None
    assert b"gogooku_model_rank_ic{" not in metrics.exposition()


def test_timed_records_the_duration_even_when_the_step_fails() -> None:
    with pytest.raises(RuntimeError), metrics.timed("daily_refresh", "dbt_build"):
        raise RuntimeError("boom")
    assert metrics.RUN_DURATION.labels(job="daily_refresh", step="dbt_build")._value.get() >= 0


# --- push -------------------------------------------------------------------------------------------------------


def test_push_sends_the_jobs_metrics_to_the_pushgateway(monkeypatch) -> None:
    metrics.ROWS_LANDED.labels(dataset="equities_bars_daily", day="2024-01-04").set(28)
    metrics.record_duration("ingest", "ingest_api", 1.5)
    metrics.record_duration("build", "dbt_build", 9.0)  # another job's: pushed under that job, not this one
    metrics.record_success("ingest", when=1_700_000_000)
    with PushgatewayStub() as gw:
        monkeypatch.setenv("PUSHGATEWAY_URL", gw.url)
        assert metrics.push("ingest") is True
        assert metrics.push("build") is True
    ingest, build = gw.pushes
    assert (ingest.method, ingest.path) == ("POST", "/metrics/job/ingest")
    assert ingest.value("gogooku_rows_landed_total", dataset="equities_bars_daily", day="2024-01-04") == 28
    assert ingest.value("gogooku_run_duration_seconds", job="ingest", step="ingest_api") == 1.5
    assert ingest.value("gogooku_last_success_timestamp_seconds", job="ingest") == 1_700_000_000
    assert ingest.value("gogooku_run_duration_seconds", job="build") is None
    assert "gogooku_model_rank_ic" not in ingest.body  # nothing recorded: not pushed (would empty the gateway's)
    assert build.path == "/metrics/job/build"
    assert build.value("gogooku_run_duration_seconds", job="build", step="dbt_build") == 9.0
    assert build.value("gogooku_last_success_timestamp_seconds") is None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_or_failing_pushgateway_is_logged_and_never_raises(monkeypatch, caplog) -> None:
    metrics.record_success("ingest")
    monkeypatch.setenv("PUSHGATEWAY_URL", f"http://user:s3cret@127.0.0.1:{free_port()}")
    with caplog.at_level(logging.WARNING, logger="gogooku.metrics"):
        assert metrics.push("ingest") is False
    assert "push of job ingest" in caplog.text and "s3cret" not in caplog.text
    with PushgatewayStub(status=500) as gw:
        monkeypatch.setenv("PUSHGATEWAY_URL", gw.url)
        assert metrics.push("ingest") is False
        assert len(gw.pushes) == 1
    monkeypatch.delenv("PUSHGATEWAY_URL")
    assert metrics.push("ingest") is False  # unset: no push at all


def test_gogooku_ingest_pushes_its_metrics_and_a_dead_gateway_does_not_fail_it(
    sample, gogooku_home, monkeypatch, capsys
) -> None:
    with PushgatewayStub() as gw:
        monkeypatch.setenv("PUSHGATEWAY_URL", gw.url)
        assert main(["ingest", "--bulk", str(sample.dir)]) == 0
    (push,) = gw.pushes_for("ingest")
    bars = expected_rows_per_day(sample, "equities_bars_daily")
    landed = {
        lab["day"]: v for lab, v in push.samples("gogooku_rows_landed_total") if lab["dataset"] == "equities_bars_daily"
    }
    assert landed == {day: float(n) for day, n in bars.items()}
    assert push.value("gogooku_run_duration_seconds", job="ingest", step="ingest_bulk") > 0
    assert push.value("gogooku_last_success_timestamp_seconds", job="ingest") > datetime.now(UTC).timestamp() - 600
    lag = push.value("gogooku_data_freshness_lag_days", dataset="equities_bars_daily")
    assert lag in {(metrics.tokyo_today() - date(2024, 3, 29)).days + d for d in (-1, 0)}

    metrics.reset()
    monkeypatch.setenv("PUSHGATEWAY_URL", f"http://127.0.0.1:{free_port()}")
    assert main(["ingest", "--bulk", str(sample.dir)]) == 0  # nothing new, and nowhere to push: still fine
    assert "already landed" in capsys.readouterr().out


def test_gogooku_metrics_once_prints_the_freshness_from_the_warehouse(sample, gogooku_home, capsys) -> None:
    with open_warehouse() as client:
        ingest_bulk(client, sample.dir)
    before = metrics.tokyo_today()
    assert main(["metrics", "--once"]) == 0
    families = {f.name: f for f in text_string_to_metric_families(capsys.readouterr().out)}
    lag = {s.labels["dataset"]: s.value for s in families["gogooku_data_freshness_lag_days"].samples}
    assert lag["equities_bars_daily"] in {(d - date(2024, 3, 29)).days for d in (before, metrics.tokyo_today())}
    assert set(lag) == set(DATASETS)


# --- the contract with the alert rules and dashboards -------------------------------------------------------------

METRIC_NAME = re.compile(r"\bgogooku_[a-z0-9_]*[a-z0-9]")


def names_used(path: Path) -> set[str]:
    return set(METRIC_NAME.findall(path.read_text()))


def test_every_metric_the_alerts_and_dashboards_use_is_defined() -> None:
    files = [DEPLOY / "prometheus" / "alerts.yml", *sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))]
    assert len(files) >= 2
    used = {name: path.name for path in files for name in names_used(path)}
    assert len(used) >= 6, used
    exposed = {f.name for f in text_string_to_metric_families(metrics.exposition().decode())}
    undefined = {name: where for name, where in used.items() if name not in metrics.METRIC_NAMES | exposed}
    assert not undefined, f"used by alerts/dashboards but not defined in gogooku/metrics.py: {undefined}"
    assert metrics.METRIC_NAMES == exposed


def test_metric_labels_match_the_contract_written_in_the_alert_rules() -> None:
    text = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    yaml.safe_load(text)  # still valid YAML
    contract = dict(re.findall(r"^#\s+(gogooku_[a-z_]+)\{([a-z_,]+)\}", text, flags=re.M))
    assert set(contract) == metrics.METRIC_NAMES
    for gauge in metrics.GAUGES:
        assert ",".join(gauge._labelnames) == contract[gauge._name], gauge._name
