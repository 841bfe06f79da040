"""One asset per J-Quants dataset: a daily partition lands that day through the API into `jquants_raw`.

Keys are `Dataset.asset_key` (`["jquants_raw", name]`), the keys dbt's sources carry in `meta.dagster.asset_key`,
so the staging models hang off these assets. Landing is idempotent (`ingest_api` skips committed days unless
`force`). Transient API trouble is retried twice over: by the client (seconds, `JQuantsClient` backoff) and by
the asset's `RetryPolicy` (minutes, for an API that is down or a day not yet published).
"""

from datetime import timedelta

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    Backoff,
    Config,
    Failure,
    Jitter,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
)
from pydantic import Field

from gogooku.warehouse import open_warehouse
from ingestion.api import JQuantsClient
from ingestion.ingest import ingest_api
from ingestion.schema import DATASETS, LOAD_LOG, RAW_DB, Dataset
from orchestration import calendar as tse
from orchestration.instance import WAREHOUSE_POOL
from orchestration.partitions import DAILY_PARTITIONS, partition_days
from orchestration.resources import JQuantsResource

INGEST_RETRY = RetryPolicy(max_retries=3, delay=300, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)
# The endpoint whose answer says a trading day has been published: one record per day, so probing is cheap.
PUBLICATION_PROBE = "/indices/bars/daily/topix"
# Only this recent a day may be "not yet published"; older gaps are the data's (or the plan's) and land empty.
PUBLICATION_HORIZON = timedelta(days=7)


class IngestConfig(Config):
    force: bool = Field(default=False, description="Land the days again even when already committed.")


class DataNotPublished(RuntimeError):
    """J-Quants has no data yet for a recent trading day (the run is retried later)."""


def day_published(api: JQuantsClient, day: str) -> bool:
    """Whether J-Quants serves data for trading day `day` (YYYY-MM-DD) yet: TOPIX has that day's bar."""
    return bool(api.fetch(PUBLICATION_PROBE, {"from": day, "to": day}))


def land_partition(context: AssetExecutionContext, ds: Dataset, api: JQuantsClient, force: bool) -> MaterializeResult:
    """Land the run's days of `ds` (one partition or a range), closing the warehouse before returning."""
    first, last = partition_days(context)
    recent = tse.now_tokyo().date() - PUBLICATION_HORIZON
    if tse.is_tse_trading_day(last) and last >= recent and not day_published(api, last.isoformat()):
        # Landing now would commit an empty day that later runs skip; fail and let the RetryPolicy come back.
        raise DataNotPublished(f"J-Quants has not published {last} yet ({PUBLICATION_PROBE} is empty)")
    with open_warehouse() as client:
        report = ingest_api(client, api, [ds], first, last, force=force)
    if report.errors:
        # A payload J-Quants answered but the schema rejects: retrying gets the same answer.
        raise Failure(
            description=f"{ds.name}: {len(report.errors)} day(s) failed: {report.errors[0]}",
            metadata={"errors": MetadataValue.json(report.errors[:20])},
            allow_retries=False,
        )
    rows = report.rows.get(ds.name, 0)
    context.log.info(
        f"{ds.name} {first}..{last}: {rows} rows over {report.days.get(ds.name, 0)} day(s), "
        f"{report.skipped.get(ds.name, 0)} already landed, {api.retries} API retries"
    )
    return MaterializeResult(
        metadata={
            "first_day": first.isoformat(),
            "last_day": last.isoformat(),
            "rows_landed": rows,
            "days_landed": report.days.get(ds.name, 0),
            "days_already_landed": report.skipped.get(ds.name, 0),
            "api_retries": api.retries,
            "unknown_fields": MetadataValue.json(report.unknown_fields.get(ds.name, [])),
        }
    )


def build_ingestion_asset(ds: Dataset, retry_policy: RetryPolicy = INGEST_RETRY) -> AssetsDefinition:
    """The landing asset of `ds` (tests build one with a short retry delay)."""

    @asset(
        key=AssetKey(ds.asset_key),
        description=f"J-Quants v2 `{ds.path}` landed in `{ds.table}`, one partition per {ds.day_field} day.",
        group_name=RAW_DB,
        kinds={"python", "clickhouse"},
        partitions_def=DAILY_PARTITIONS,
        backfill_policy=BackfillPolicy.single_run(),
        retry_policy=retry_policy,
        pool=WAREHOUSE_POOL,
        metadata={"table": ds.table, "api_path": ds.path, "dagster/table_name": ds.table},
    )
    def _land(context: AssetExecutionContext, config: IngestConfig, jquants: JQuantsResource) -> MaterializeResult:
        return land_partition(context, ds, jquants.client(), config.force)

    return _land


INGESTION_ASSETS: dict[str, AssetsDefinition] = {name: build_ingestion_asset(ds) for name, ds in DATASETS.items()}

# The commit log every landing asset writes (dbt source `jquants.load_log`, meta.dagster.asset_key): declared so
# the graph shows where it comes from; Dagster never materializes it by itself.
LOAD_LOG_ASSET = AssetSpec(
    key=AssetKey([RAW_DB, "load_log"]),
    deps=[key for a in INGESTION_ASSETS.values() for key in a.keys],
    description=f"`{LOAD_LOG}`: one row per (dataset, day) committed by a landing; staging reads committed loads only.",
    group_name=RAW_DB,
    kinds={"clickhouse"},
)
