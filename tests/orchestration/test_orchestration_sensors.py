"""Each sensor evaluated against real state: a local J-Quants v2 server, Dagster instances holding real runs and
check results, an MLflow registry on SQLite. No sensor may open the warehouse: the tests never create one."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import pytest

from ingestion.schema import DATASETS
from orchestration.alerts import alert_on_step_failure, alerts_path
from orchestration.checks import FRESHNESS_CHECK
from orchestration.resources import JQuantsResource
from orchestration.sensors import (
    dbt_test_failure_sensor,
    freshness_breach_sensor,
    jquants_new_data_sensor,
    model_registered_sensor,
    run_failure_alert_sensor,
)

LANDING_KEYS = [dg.AssetKey(ds.asset_key) for ds in DATASETS.values()]
DBT_CHECK = dg.AssetCheckKey(
    dg.AssetKey(["staging", "stg_jquants__daily_bars"]), "not_null_stg_jquants__daily_bars_code"
)


def alert_lines() -> list[str]:
    path = alerts_path()
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def land(instance: dg.DagsterInstance, day: str, keys: list[dg.AssetKey] = LANDING_KEYS) -> None:
    """Record landing materializations for `day` the way runs do (the sensors read only these records)."""
    for key in keys:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=day))


def warehouse_untouched(home: Path) -> bool:
    return not (home / "clickhouse").exists()


# --- new J-Quants data ------------------------------------------------------------------------------------------


@pytest.fixture
def jquants_context(jquants_server, instance):
    def build(cursor: str | None = None) -> dg.SensorEvaluationContext:
        resource = JQuantsResource(api_key=jquants_server.api_key, base_url=jquants_server.base_url, backoff_s=0.01)
        return dg.build_sensor_context(instance=instance, cursor=cursor, resources={"jquants": resource})

    return build


def test_new_data_sensor_requests_each_published_day_after_the_cursor(
    jquants_context, jquants_server, tokyo_clock, gogooku_home
) -> None:
    tokyo_clock("2024-04-02 20:00")  # the sample market ends on Friday 2024-03-29
    result = jquants_new_data_sensor(jquants_context("2024-03-26"))
    assert [r.partition_key for r in result.run_requests] == ["2024-03-27", "2024-03-28", "2024-03-29"]
    assert [r.run_key for r in result.run_requests][0] == "jquants-data-2024-03-27"
    assert result.cursor == "2024-03-29"
    probes = jquants_server.requests_to("/indices/bars/daily/topix")
    assert [r.params["from"] for r in probes] == ["2024-03-27", "2024-03-28", "2024-03-29", "2024-04-01"]
    assert warehouse_untouched(gogooku_home)


def test_new_data_sensor_skips_until_the_next_day_is_published(jquants_context, tokyo_clock) -> None:
    tokyo_clock("2024-04-02 20:00")
    result = jquants_new_data_sensor(jquants_context("2024-03-29"))
    assert not result.run_requests
    assert "2024-04-01" in result.skip_reason.skip_message
    assert result.cursor == "2024-03-29"


def test_new_data_sensor_starts_from_what_the_instance_has_landed(jquants_context, instance, tokyo_clock) -> None:
    tokyo_clock("2024-03-29 19:00")
    first = jquants_new_data_sensor(jquants_context(None))  # nothing landed: the latest trading day only
    assert [r.partition_key for r in first.run_requests] == ["2024-03-29"]
    land(instance, "2024-03-26")
    land(instance, "2024-03-27")
    after_landed = jquants_new_data_sensor(jquants_context(None))
    assert [r.partition_key for r in after_landed.run_requests] == ["2024-03-28", "2024-03-29"]


def test_new_data_sensor_leaves_days_the_schedule_already_requested(jquants_context, instance, tokyo_clock) -> None:
    tokyo_clock("2024-03-29 19:00")
    for day, status in (("2024-03-27", dg.DagsterRunStatus.STARTED), ("2024-03-28", dg.DagsterRunStatus.FAILURE)):
        instance.add_run(dg.DagsterRun("daily_refresh_job", status=status, tags={"dagster/partition": day}))
    result = jquants_new_data_sensor(jquants_context("2024-03-26"))
    assert [r.partition_key for r in result.run_requests] == ["2024-03-28", "2024-03-29"]  # a failed day again
    assert result.cursor == "2024-03-29"


def test_new_data_sensor_over_the_weekend_has_nothing_to_do(jquants_context, tokyo_clock) -> None:
    tokyo_clock("2024-03-31 12:00")  # Sunday
    result = jquants_new_data_sensor(jquants_context("2024-03-29"))
    assert not result.run_requests and "no trading day since" in result.skip_reason.skip_message


# --- dbt test failures ------------------------------------------------------------------------------------------


def run_check(
    instance: dg.DagsterInstance, passed: bool, severity: dg.AssetCheckSeverity, check: dg.AssetCheckKey = DBT_CHECK
) -> str:
    """A run that evaluates a check the way dagster-dbt reports a dbt test; returns its run id."""

    @dg.asset(key=check.asset_key, check_specs=[dg.AssetCheckSpec(check.name, asset=check.asset_key)])
    def checked() -> dg.MaterializeResult:
        result = dg.AssetCheckResult(check_name=check.name, passed=passed, severity=severity)
        return dg.MaterializeResult(check_results=[result])

    return dg.materialize([checked], instance=instance).run_id


def test_dbt_test_failure_sensor_alerts_and_requests_a_quality_run(instance, gogooku_home) -> None:
    context = dg.build_sensor_context(instance=instance)
    assert "no new dbt test failures" in dbt_test_failure_sensor(context).skip_reason.skip_message

    run_id = run_check(instance, passed=False, severity=dg.AssetCheckSeverity.ERROR)
    result = dbt_test_failure_sensor(dg.build_sensor_context(instance=instance))
    assert [r.run_key for r in result.run_requests] == [f"retest-after-{run_id}"]
    assert result.run_requests[0].tags["gogooku/after_run"] == run_id
    [line] = alert_lines()
    assert " ERROR " in line and run_id in line and DBT_CHECK.name in line

    again = dbt_test_failure_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor))
    assert not again.run_requests and len(alert_lines()) == 1  # each failure alerts once

    run_check(instance, passed=False, severity=dg.AssetCheckSeverity.WARN)
    warned = dbt_test_failure_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor))
    assert not warned.run_requests  # a warning is alerted, not re-tested
    assert " WARN " in alert_lines()[-1]

    run_check(instance, passed=True, severity=dg.AssetCheckSeverity.ERROR)
    passed = dbt_test_failure_sensor(dg.build_sensor_context(instance=instance, cursor=warned.cursor))
    assert not passed.run_requests and int(passed.cursor) > int(warned.cursor)

    stale = dg.AssetCheckKey(LANDING_KEYS[0], FRESHNESS_CHECK)  # source freshness failures alert too
    run_check(instance, passed=False, severity=dg.AssetCheckSeverity.WARN, check=stale)
    dbt_test_failure_sensor(dg.build_sensor_context(instance=instance, cursor=passed.cursor))
    assert FRESHNESS_CHECK in alert_lines()[-1]
    assert warehouse_untouched(gogooku_home)


# --- run failures -----------------------------------------------------------------------------------------------


@dg.op
def fetch_something() -> None:
    raise RuntimeError("J-Quants answered HTTP 503 six times")


@dg.job(hooks={alert_on_step_failure})
def flaky_job() -> None:
    fetch_something()


def test_run_failure_sensor_alerts_to_the_log_file_and_slack(instance, slack_webhook) -> None:
    result = flaky_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    [hook_line] = alert_lines()  # the failure hook alerts per step, also without a daemon
    assert "fetch_something" in hook_line and "RuntimeError" in hook_line

    run = instance.get_run_by_id(result.run_id)
    [failure] = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    context = dg.build_run_status_sensor_context(
        sensor_name=run_failure_alert_sensor.name,
        dagster_event=failure.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()
    run_failure_alert_sensor(context)
    line = alert_lines()[-1]
    assert result.run_id in line and "flaky_job" in line and " ERROR " in line
    assert [body["text"] for body in slack_webhook][-1].startswith("[gogooku3 ERROR] run " + result.run_id)
    assert len(slack_webhook) == 2


def test_alerts_survive_a_dead_slack_webhook(monkeypatch, gogooku_home) -> None:
    from orchestration.alerts import send_alert

    monkeypatch.setenv("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/nothing-listens-here")
    path = send_alert("multi\nline   message")
    assert path == gogooku_home / "alerts.log"
    assert alert_lines()[-1].endswith("ERROR multi line message")


# --- freshness ---------------------------------------------------------------------------------------------------


def test_freshness_breach_sensor_alerts_once_per_missed_day(instance, tokyo_clock, gogooku_home) -> None:
    context = lambda cursor=None: dg.build_sensor_context(instance=instance, cursor=cursor)  # noqa: E731
    tokyo_clock("2024-03-29 23:00")
    assert "nothing landed yet" in freshness_breach_sensor(context()).skip_reason.skip_message

    land(instance, "2024-03-28")
    land(instance, "2024-03-29", LANDING_KEYS[:2])  # the rest of Friday did not land
    result = freshness_breach_sensor(context())
    assert result.cursor == "2024-03-29"
    [line] = alert_lines()
    assert "freshness breach" in line and "2024-03-29" in line
    assert f"{LANDING_KEYS[2].to_user_string()} at 2024-03-28" in line
    assert LANDING_KEYS[0].to_user_string() not in line

    assert "already alerted" in freshness_breach_sensor(context(result.cursor)).skip_reason.skip_message
    land(instance, "2024-03-29")
    assert "every landing asset" in freshness_breach_sensor(context(result.cursor)).skip_reason.skip_message
    assert len(alert_lines()) == 1
    assert warehouse_untouched(gogooku_home)


def test_freshness_breach_sensor_allows_the_evening_to_land(instance, tokyo_clock) -> None:
    land(instance, "2024-03-28")
    tokyo_clock("2024-03-29 21:59")  # Friday's data may still be landing until 22:00
    result = freshness_breach_sensor(dg.build_sensor_context(instance=instance))
    assert "every landing asset has 2024-03-28" in result.skip_reason.skip_message
    assert not alert_lines()
    tokyo_clock("2024-04-01 12:00")  # Monday noon: Friday is overdue
    assert freshness_breach_sensor(dg.build_sensor_context(instance=instance)).cursor == "2024-03-29"
    assert "expected 2024-03-29" in alert_lines()[-1]


# --- MLflow registry ---------------------------------------------------------------------------------------------


def test_model_registered_sensor_rewrites_the_report_for_a_new_version(instance, gogooku_home) -> None:
    training = pytest.importorskip("ml.training", reason="ml/training.py (another helper's) provides the registry URI")
    context = lambda cursor=None: dg.build_sensor_context(instance=instance, cursor=cursor)  # noqa: E731
    assert "no MLflow store" in model_registered_sensor(context()).skip_reason.skip_message

    from mlflow import MlflowClient

    uri = training.tracking_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(training.MODEL_NAME)
    client.create_model_version(training.MODEL_NAME, source=(gogooku_home / "model").as_uri())
    result = model_registered_sensor(context())
    assert [r.run_key for r in result.run_requests] == ["report-v1"] and result.cursor == "1"
    assert "no new version" in model_registered_sensor(context("1")).skip_reason.skip_message

    client.create_model_version(training.MODEL_NAME, source=(gogooku_home / "model").as_uri())
    time.sleep(0.01)
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="run_report"))  # weekly training's report
    covered = model_registered_sensor(context("1"))
    assert not covered.run_requests and covered.cursor == "2"
    assert "already in the report" in covered.skip_reason.skip_message
