"""Write typed tables into `jquants_raw` and commit them in the load log.

A load is visible downstream only once its (dataset, day) rows are in `_load_log` (staging reads raw rows
whose `_load_id` is committed there). The data insert comes first and the log insert last, so a process
killed in between leaves rows no model can see, and the next run lands the day again under a new load id.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime

import pyarrow as pa
from clickhouse_connect.driver.client import Client

from ingestion.schema import LOAD_LOG, Dataset


def new_load_id() -> str:
    return uuid.uuid4().hex


def landed_days(client: Client, ds: Dataset, start: date, end: date) -> set[date]:
    """Days of `ds` in [start, end] already committed."""
    rows = client.query(
        f"SELECT DISTINCT day FROM {LOAD_LOG} WHERE dataset = {{ds:String}} AND day BETWEEN {{a:Date}} AND {{b:Date}}",
        parameters={"ds": ds.name, "a": start, "b": end},
    ).result_rows
    return {r[0] for r in rows}


def source_landed(client: Client, source: str) -> bool:
    """Whether a load from `source` (e.g. a bulk file with its content hash) was committed."""
    return bool(client.command(f"SELECT count() FROM {LOAD_LOG} WHERE source = {{s:String}}", parameters={"s": source}))


def land(client: Client, ds: Dataset, table: pa.Table, days: Iterable[date], source: str) -> int:
    """Insert `table` into the raw table of `ds`, then commit `days` for its load id; returns rows landed.

    Every row of `table` carries the same `_load_id`. `days` may include days without rows (a holiday, a day
    nothing was disclosed): committing them records that the day was asked for and found empty.
    """
    load_ids = set(table.column("_load_id").unique().to_pylist()) if table.num_rows else set()
    if len(load_ids) > 1:
        raise ValueError(f"{ds.name}: one load id per landing, got {len(load_ids)}")
    load_id = load_ids.pop() if load_ids else new_load_id()
    if table.num_rows:
        client.insert_arrow(ds.table, table)
    counts = _rows_per_day(table, ds.day_field) if table.num_rows else {}
    now = datetime.now(UTC)
    days = sorted(set(days))
    log = pa.table(
        {
            "dataset": pa.array([ds.name] * len(days), pa.string()),
            "day": pa.array(days, pa.date32()),
            "load_id": pa.array([load_id] * len(days), pa.string()),
            "source": pa.array([source] * len(days), pa.string()),
            "rows": pa.array([counts.get(d, 0) for d in days], pa.uint64()),
            "loaded_at": pa.array([now] * len(days), pa.timestamp("ms", tz="UTC")),
        }
    )
    if days:
        client.insert_arrow(LOAD_LOG, log)
    return table.num_rows


def _rows_per_day(table: pa.Table, day_field: str) -> dict[date, int]:
    counts = table.group_by(day_field).aggregate([(day_field, "count")])
    return dict(zip(counts.column(day_field).to_pylist(), counts.column(f"{day_field}_count").to_pylist(), strict=True))
