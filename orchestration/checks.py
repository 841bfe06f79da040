"""`dbt source freshness` as asset checks on the ingestion assets.

One check per dbt source that has a freshness rule and whose `meta.dagster.asset_key` is an ingestion asset.
dbt measures `max(loaded_at_field)` (when rows were landed) against `warn_after`/`error_after`: `warn` fails the
check with WARN severity, `error` (or a source that cannot be read) with ERROR.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetsDefinition,
    multi_asset_check,
)
from dagster_dbt import DbtCliResource

from orchestration.assets.dbt import dbt_environment, dbt_target_path
from orchestration.assets.ingestion import INGESTION_ASSETS
from orchestration.dbt_project import load_manifest
from orchestration.instance import WAREHOUSE_POOL

FRESHNESS_CHECK = "dbt_source_freshness"


def _has_rule(freshness: Mapping[str, Any] | None) -> bool:
    rules = [(freshness or {}).get(k) or {} for k in ("warn_after", "error_after")]
    return any(rule.get("count") for rule in rules)


def freshness_sources(manifest: Mapping[str, Any], asset_keys: set[AssetKey]) -> dict[str, AssetKey]:
    """{source unique_id: asset key} of the dbt sources with a freshness rule that an asset in `asset_keys` lands."""
    out = {}
    for unique_id, source in manifest.get("sources", {}).items():
        key = source.get("meta", {}).get("dagster", {}).get("asset_key")
        if key and AssetKey(key) in asset_keys and _has_rule(source.get("freshness")):
            out[unique_id] = AssetKey(key)
    return out


def build_freshness_checks(landing_assets: list[AssetsDefinition]) -> AssetChecksDefinition:
    keys = {key for a in landing_assets for key in a.keys}
    manifest = load_manifest()
    sources = freshness_sources(manifest, keys)
    selection = " ".join(
        f"source:{manifest['sources'][uid]['source_name']}.{manifest['sources'][uid]['name']}" for uid in sources
    )

    @multi_asset_check(
        name="jquants_source_freshness",
        specs=[
            AssetCheckSpec(FRESHNESS_CHECK, asset=key, description="dbt source freshness of the landed table")
            for key in sources.values()
        ],
        pool=WAREHOUSE_POOL,
    )
    def jquants_source_freshness(
        context: AssetCheckExecutionContext, dbt: DbtCliResource
    ) -> Iterator[AssetCheckResult]:
        with dbt_environment(context.run.run_id):
            invocation = dbt.cli(
                ["source", "freshness", "--select", selection],
                manifest=manifest,
                raise_on_error=False,
                target_path=dbt_target_path("source_freshness"),
            )
        invocation.wait()
        try:
            results = {r["unique_id"]: r for r in invocation.get_artifact("sources.json").get("results", [])}
        except FileNotFoundError:
            results = {}
        for unique_id, key in sources.items():
            yield freshness_result(key, results.get(unique_id))

    return jquants_source_freshness


def freshness_result(key: AssetKey, result: Mapping[str, Any] | None) -> AssetCheckResult:
    if result is None:
        return AssetCheckResult(
            asset_key=key,
            check_name=FRESHNESS_CHECK,
            passed=False,
            severity=AssetCheckSeverity.ERROR,
            metadata={"status": "no result (dbt source freshness did not run)"},
        )
    status = result.get("status", "runtime error")
    age = result.get("max_loaded_at_time_ago_in_s")
    metadata: dict[str, Any] = {"status": status, "max_loaded_at": str(result.get("max_loaded_at"))}
    if isinstance(age, int | float):
        metadata["age_hours"] = round(age / 3600, 2)
    if status not in ("pass", "warn"):
        metadata["error"] = str(result.get("error") or result.get("message") or "")[:500]
    return AssetCheckResult(
        asset_key=key,
        check_name=FRESHNESS_CHECK,
        passed=status == "pass",
        severity=AssetCheckSeverity.WARN if status in ("pass", "warn") else AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


jquants_source_freshness = build_freshness_checks(list(INGESTION_ASSETS.values()))
