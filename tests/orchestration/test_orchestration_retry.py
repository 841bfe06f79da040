"""Landing assets against a local J-Quants v2 server that fails: the client's backoff, the asset's RetryPolicy,
and a recent trading day J-Quants has not published yet (fails instead of committing an empty day)."""

from __future__ import annotations

import dagster as dg
import pytest

from gogooku.warehouse import lock_holder, open_warehouse
from ingestion.schema import DATASETS
from orchestration.assets.ingestion import DataNotPublished, build_ingestion_asset
from orchestration.resources import JQuantsResource

BARS = DATASETS["equities_bars_daily"]
DAY = "2024-01-05"


def jquants(server, **kwargs) -> JQuantsResource:
    return JQuantsResource(api_key=server.api_key, base_url=server.base_url, **{"backoff_s": 0.01, **kwargs})


def landed_rows(day: str) -> int:
    with open_warehouse() as client:
        return client.command(f"SELECT count() FROM {BARS.table} WHERE Date = {{d:Date}}", parameters={"d": day})


def statuses(server) -> list[int]:
    return [r.status for r in server.requests_to(BARS.path, date=DAY)]


def test_client_backoff_retries_a_503(jquants_server, instance, sample, gogooku_home) -> None:
    jquants_server.fail_next(BARS.path, [503])
    result = dg.materialize(
        [build_ingestion_asset(BARS)],
        partition_key=DAY,
        instance=instance,
        resources={"jquants": jquants(jquants_server)},
    )
    assert result.success
    assert statuses(jquants_server) == [503, 200]
    [materialization] = result.asset_materializations_for_node("jquants_raw__equities_bars_daily")
    assert materialization.metadata["api_retries"].value == 1
    assert materialization.partition == DAY
    assert landed_rows(DAY) == sample.rows(BARS.name).filter(sample.rows(BARS.name)["Date"] == DAY).height > 0
    assert lock_holder(gogooku_home / "clickhouse") is None  # the step closed its client


def test_retry_policy_reruns_the_step_after_the_client_gives_up(jquants_server, instance, sample) -> None:
    fast = dg.RetryPolicy(max_retries=3, delay=0.05, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
    jquants_server.fail_next(BARS.path, [503, 503])
    result = dg.materialize(
        [build_ingestion_asset(BARS, retry_policy=fast)],
        partition_key=DAY,
        instance=instance,
        resources={"jquants": jquants(jquants_server, max_attempts=1)},  # no client retries: the step fails
    )
    assert result.success
    assert statuses(jquants_server) == [503, 503, 200]
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retries) == 2
    assert landed_rows(DAY) > 0


def test_retry_policy_gives_up_after_max_retries(jquants_server, instance) -> None:
    fast = dg.RetryPolicy(max_retries=1, delay=0.01)
    jquants_server.fail_always(BARS.path, 503)
    result = dg.materialize(
        [build_ingestion_asset(BARS, retry_policy=fast)],
        partition_key=DAY,
        instance=instance,
        resources={"jquants": jquants(jquants_server, max_attempts=2)},
        raise_on_error=False,
    )
    assert not result.success
    assert statuses(jquants_server) == [503] * 4  # (1 + 1 retry) steps x 2 client attempts
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    error = failure.step_failure_data.error
    assert "Exceeded max_retries of 1" in error.message
    assert error.cause.cls_name == "ApiError" and "HTTP 503" in error.cause.message


def test_an_unpublished_recent_day_fails_without_committing_it(
    jquants_server, instance, tokyo_clock, gogooku_home
) -> None:
    tokyo_clock("2024-04-01 18:40")  # Monday after the sample's last day: J-Quants has nothing for it
    result = dg.materialize(
        [build_ingestion_asset(BARS, retry_policy=dg.RetryPolicy(max_retries=0))],
        partition_key="2024-04-01",
        instance=instance,
        resources={"jquants": jquants(jquants_server)},
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_failure_data.error.cause.cls_name == DataNotPublished.__name__
    assert not jquants_server.requests_to(BARS.path)  # nothing fetched ...
    assert not (gogooku_home / "clickhouse").exists()  # ... and the warehouse never opened: no empty day committed


@pytest.mark.parametrize("day", ["2024-01-06", "2024-01-08"])  # Saturday; Coming of Age Day
def test_a_non_trading_day_lands_as_an_empty_day(jquants_server, instance, tokyo_clock, day) -> None:
    tokyo_clock("2024-01-08 20:00")
    result = dg.materialize(
        [build_ingestion_asset(BARS)],
        partition_key=day,
        instance=instance,
        resources={"jquants": jquants(jquants_server)},
    )
    [materialization] = result.asset_materializations_for_node("jquants_raw__equities_bars_daily")
    assert materialization.metadata["rows_landed"].value == 0
    assert materialization.metadata["days_landed"].value == 1
    assert not jquants_server.requests_to("/indices/bars/daily/topix")  # no publication probe off trading days
