"""Sensors. None of them opens the warehouse (chDB admits one process, and runs need it): they read the J-Quants
API, the Dagster instance (runs, materializations, check results) and the MLflow registry.
"""

from datetime import UTC, date, datetime, time
from pathlib import Path

from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    EventLogEntry,
    RunFailureSensorContext,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from orchestration import calendar as tse
from orchestration.alerts import send_alert
from orchestration.assets.dbt import DBT_ASSETS
from orchestration.assets.ingestion import INGESTION_ASSETS, day_published
from orchestration.assets.ml import run_report
from orchestration.checks import jquants_source_freshness
from orchestration.jobs import daily_refresh_job, data_quality_job, model_report_job
from orchestration.resources import JQuantsResource

LANDING_KEYS = [key for a in INGESTION_ASSETS.values() for key in a.keys]
# dbt tests, and dbt source freshness (whose failures do not fail a step, so only this sensor reports them)
CHECK_KEYS = sorted(
    {key for a in DBT_ASSETS for key in a.check_keys} | set(jquants_source_freshness.check_keys),
    key=lambda k: k.to_user_string(),
)
MAX_DAYS_PER_TICK = 5
# Landing is expected within this long after publication (tse.PUBLISHED_AT) before a freshness alert.
FRESHNESS_DEADLINE = time(22, 0)


def landed_through(instance: DagsterInstance) -> date | None:
    """The newest day every landing asset has materialized (from the instance's records), or None."""
    newest = []
    for key in LANDING_KEYS:
        partitions = instance.get_materialized_partitions(key)
        if not partitions:
            return None
        newest.append(max(partitions))
    return date.fromisoformat(min(newest)) if newest else None


def refresh_requested(instance: DagsterInstance, day: date) -> bool:
    """Whether a daily_refresh_job run for `day` is queued, running or succeeded (by the schedule, say)."""
    runs = instance.get_runs(
        RunsFilter(
            job_name=daily_refresh_job.name,
            tags={"dagster/partition": day.isoformat()},
            statuses=[s for s in DagsterRunStatus if s not in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)],
        ),
        limit=1,
    )
    return bool(runs)


# --- new J-Quants data --------------------------------------------------------------------------------------------


@sensor(
    job=daily_refresh_job,
    minimum_interval_seconds=15 * 60,
    description="Polls J-Quants for trading days after the last landed one and requests their daily refresh.",
)
def jquants_new_data_sensor(context: SensorEvaluationContext, jquants: JQuantsResource) -> SensorResult:
    today = tse.now_tokyo().date()
    cursor = date.fromisoformat(context.cursor) if context.cursor else None
    landed = landed_through(context.instance)
    after = max(d for d in (cursor, landed) if d) if (cursor or landed) else None
    if after is None:  # nothing landed or requested yet: only the latest trading day (history is a backfill's job)
        candidates = [today if tse.is_tse_trading_day(today) else tse.previous_trading_day(today)]
    else:
        candidates = list(tse.trading_days(tse.next_trading_day(after), today))[:MAX_DAYS_PER_TICK]
    if not candidates:
        return SensorResult(
            skip_reason=SkipReason(f"landed through {after}; no trading day since"), cursor=context.cursor
        )
    api = jquants.client()
    requests, last = [], cursor
    for day in candidates:
        if not day_published(api, day.isoformat()):
            break
        if not refresh_requested(context.instance, day):
            requests.append(RunRequest(run_key=f"jquants-data-{day}", partition_key=day.isoformat()))
        last = day
    if last == cursor:
        return SensorResult(
            skip_reason=SkipReason(f"J-Quants has not published {candidates[0]} yet"), cursor=context.cursor
        )
    if not requests:
        skip = SkipReason(f"J-Quants has data through {last}; its refresh runs were already requested")
        return SensorResult(skip_reason=skip, cursor=last.isoformat())
    context.log.info(f"J-Quants has data for {', '.join(r.partition_key for r in requests)}")
    return SensorResult(run_requests=requests, cursor=last.isoformat() if last else None)


# --- dbt test failures -------------------------------------------------------------------------------------------


@sensor(
    job=data_quality_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Alerts on dbt tests and source freshness checks that failed since the last tick; for an ERROR failure in "
        "a run other than data_quality_job, requests data_quality_job to re-test everything."
    ),
)
def dbt_test_failure_sensor(context: SensorEvaluationContext) -> SensorResult:
    seen = int(context.cursor or 0)
    records = context.instance.event_log_storage.get_latest_asset_check_execution_by_key(CHECK_KEYS)
    evaluated = [(r, ev) for r in records.values() if r.id > seen and (ev := _evaluation(r.event)) is not None]
    cursor = str(max([seen, *(r.id for r, _ in evaluated)]))
    failed = [(r, ev) for r, ev in evaluated if not ev.passed]
    if not failed:
        return SensorResult(skip_reason=SkipReason("no new dbt test failures"), cursor=cursor)
    by_run: dict[str, list[str]] = {}
    errors_in: set[str] = set()
    for record, evaluation in sorted(failed, key=lambda pair: pair[0].id):
        by_run.setdefault(record.run_id, []).append(record.key.name)
        if evaluation.severity == AssetCheckSeverity.ERROR:
            errors_in.add(record.run_id)
    requests = []
    for run_id, names in by_run.items():
        run = context.instance.get_run_by_id(run_id)
        job = run.job_name if run else "?"
        level = "ERROR" if run_id in errors_in else "WARN"
        send_alert(
            f"{len(names)} data check(s) failed in run {run_id} of {job}: {', '.join(sorted(names)[:10])}", level
        )
        if run_id in errors_in and job != data_quality_job.name:
            requests.append(RunRequest(run_key=f"retest-after-{run_id}", tags={"gogooku/after_run": run_id}))
    return SensorResult(
        run_requests=requests,
        skip_reason=None if requests else SkipReason("alerted; failures came from data_quality_job or warn"),
        cursor=cursor,
    )


def _evaluation(event: EventLogEntry | None) -> AssetCheckEvaluation | None:
    """The evaluation an execution record carries (None while the check is only planned)."""
    data = event.dagster_event.event_specific_data if event and event.dagster_event else None
    return data if isinstance(data, AssetCheckEvaluation) else None


# --- run failures -----------------------------------------------------------------------------------------------


@run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=DefaultSensorStatus.RUNNING,
    description="Alerts ($GOGOOKU_HOME/alerts.log, the log, Slack if SLACK_WEBHOOK_URL) on every failed run.",
)
def run_failure_alert_sensor(context: RunFailureSensorContext) -> None:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition") or run.tags.get("dagster/asset_partition_range_start")
    where = f" (partition {partition})" if partition else ""
    reason = context.failure_event.message or "see the run's logs"
    send_alert(f"run {run.run_id} of {run.job_name}{where} failed: {reason}"[:1000])


# --- freshness ---------------------------------------------------------------------------------------------------


def expected_landed_day(now: datetime) -> date:
    """The newest trading day that should be landed by `now`: published and past FRESHNESS_DEADLINE."""
    return tse.latest_published_trading_day(now, published_at=FRESHNESS_DEADLINE)


@sensor(
    minimum_interval_seconds=30 * 60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Alerts once per day when a landing asset's newest materialized partition is behind schedule.",
)
def freshness_breach_sensor(context: SensorEvaluationContext) -> SensorResult:
    expected = expected_landed_day(tse.now_tokyo())
    newest = {key: context.instance.get_materialized_partitions(key) for key in LANDING_KEYS}
    if not any(newest.values()):
        return SensorResult(skip_reason=SkipReason("nothing landed yet: no freshness to check"), cursor=context.cursor)
    behind = {
        key.to_user_string(): (max(parts) if parts else "never")
        for key, parts in newest.items()
        if not parts or max(parts) < expected.isoformat()
    }
    if not behind:
        return SensorResult(skip_reason=SkipReason(f"every landing asset has {expected}"), cursor=context.cursor)
    if context.cursor == expected.isoformat():
        return SensorResult(skip_reason=SkipReason(f"already alerted for {expected}"), cursor=context.cursor)
    detail = ", ".join(f"{k} at {v}" for k, v in sorted(behind.items()))
    send_alert(f"freshness breach: expected {expected} landed by now; {detail}")
    return SensorResult(skip_reason=SkipReason(f"alerted: behind {expected}: {detail}"), cursor=expected.isoformat())


# --- MLflow registry ---------------------------------------------------------------------------------------------


def registered_versions(model_name: str, tracking_uri: str) -> list[tuple[int, float, dict[str, str]]]:
    """(version, creation time in s, aliases/tags summary) of `model_name` in the registry, oldest first."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    out = []
    for v in client.search_model_versions(f"name = '{model_name}'"):
        out.append((int(v.version), v.creation_timestamp / 1000.0, {"run_id": v.run_id or "", **(v.tags or {})}))
    return sorted(out)


@sensor(
    job=model_report_job,
    minimum_interval_seconds=10 * 60,
    description=(
        "Polls the MLflow registry for new versions of the ranker; logs them and rewrites the report when the "
        "version is newer than the last report (training itself moves the champion alias)."
    ),
)
def model_registered_sensor(context: SensorEvaluationContext) -> SensorResult:
    from ml.training import MODEL_NAME, tracking_uri

    uri = tracking_uri()
    if uri.startswith("sqlite:///") and not _sqlite_exists(uri):
        return SensorResult(skip_reason=SkipReason(f"no MLflow store at {uri} yet"), cursor=context.cursor)
    seen = int(context.cursor or 0)
    versions = [v for v in registered_versions(MODEL_NAME, uri) if v[0] > seen]
    if not versions:
        return SensorResult(
            skip_reason=SkipReason(f"no new version of {MODEL_NAME} after v{seen}"), cursor=context.cursor
        )
    for version, _created, info in versions:
        context.log.info(f"{MODEL_NAME} v{version} registered (run {info.get('run_id')})")
    newest, created, _ = versions[-1]
    report = context.instance.get_latest_materialization_event(run_report.key)
    if report is not None and report.timestamp >= created:
        skip = SkipReason(
            f"{MODEL_NAME} v{newest} is already in the report of {datetime.fromtimestamp(report.timestamp, UTC)}"
        )
        return SensorResult(skip_reason=skip, cursor=str(newest))
    return SensorResult(run_requests=[RunRequest(run_key=f"report-v{newest}")], cursor=str(newest))


def _sqlite_exists(uri: str) -> bool:
    return Path(uri.removeprefix("sqlite:///")).exists()


SENSORS = [
    jquants_new_data_sensor,
    dbt_test_failure_sensor,
    run_failure_alert_sensor,
    freshness_breach_sensor,
    model_registered_sensor,
]
