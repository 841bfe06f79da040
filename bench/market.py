"""A full-universe synthetic market, generated in memory and landed straight into `jquants_raw`.

The simulation is the sample market's (`ingestion.sample`: factor returns with volatility clustering, 1:2 and 1:5
splits and 3:1 consolidations with their `AdjFactor`, late listings, delistings, days without trades, TOPIX as the
cap-weighted index, monthly master snapshots, weekly investor flows, quarterly statements), but nothing goes through
CSV: each dataset is cast to its raw table's Arrow schema and landed with `ingestion.landing.land`, which commits
the load in `_load_log` (staging sees committed loads only).

The last trading day is held back: `land_history` lands everything before it, `land_new_day` lands that day, which
is what the benchmark's incremental refresh then builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from ingestion import sample
from ingestion.landing import land, new_load_id
from ingestion.schema import DATASETS, Dataset, ensure_raw_tables

END = date(2025, 12, 30)  # the last trading day of the market (the held-back "new day")
SEED = 7

_POLARS_TYPE = {
    "Date": pl.Date,
    "Nullable(Date)": pl.Date,
    "Float64": pl.Float64,
    "Nullable(Float64)": pl.Float64,
    "String": pl.String,
    "Nullable(UInt8)": pl.UInt8,
}


@dataclass
class Market:
    frames: dict[str, pl.DataFrame]  # dataset name -> rows with v2 field names, all days
    start: date
    new_day: date  # the last trading day, landed by land_new_day
    trading_days: int  # trading days in [start, new_day]
    codes: int


def synthesize(codes: int, years: float, seed: int = SEED, end: date = END) -> Market:
    """Simulate `codes` stocks over the `years` up to `end` (vectorised numpy over (day, code) arrays)."""
    if codes < 2 or years <= 0:
        raise ValueError(f"need at least 2 codes and a positive number of years, got {codes} codes, {years} years")
    start = end - timedelta(days=round(365.25 * years) - 1)
    days = sample.trading_days(start, end)
    if len(days) < 30:
        raise ValueError(f"{years} years give {len(days)} trading days; the benchmark needs at least 30")
    ext_days = sample._d64(sample.trading_days(start - timedelta(days=14), date(end.year + 2, 1, 31)))
    sim = sample._simulate(codes, days, seed)
    frames = {
        "equities_bars_daily": sim.bars,
        "indices_topix": sim.topix,
        "markets_calendar": sample._calendar(start, end),
        "equities_master": sample._master(sim.universe, days),
        "equities_investor_types": sample._investor_types(sim, days, start, end, ext_days, seed),
        "fins_summary": sample._fins_summary(sim, days, start, end, ext_days, seed),
    }
    return Market(frames=frames, start=start, new_day=days[-1], trading_days=len(days), codes=codes)


def raw_table(ds: Dataset, frame: pl.DataFrame, load_id: str, loaded_at: datetime) -> pa.Table:
    """`frame` cast to the raw table's columns (missing fields NULL, or '' for text), with the load metadata.

    `_extra` is left out: the insert fills the column default, an empty map.
    """
    columns = []
    for name, ch_type in ds.fields.items():
        dtype = _POLARS_TYPE[ch_type]
        col = pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
        columns.append(col.fill_null("") if ch_type == "String" else col)
    typed = frame.select(columns).with_columns(
        pl.lit(load_id).alias("_load_id"),
        pl.lit(loaded_at).cast(pl.Datetime("ms", "UTC")).alias("_loaded_at"),
    )
    return typed.to_arrow(compat_level=pl.CompatLevel.oldest())


def _land_frame(client: Client, name: str, frame: pl.DataFrame, days: list[date], source: str) -> int:
    ds = DATASETS[name]
    table = raw_table(ds, frame, new_load_id(), datetime.now(UTC))
    return land(client, ds, table, days, source)


def land_history(client: Client, market: Market) -> dict[str, int]:
    """Land every dataset's rows dated before `market.new_day` (the calendar whole); returns rows per dataset.

    Each dataset lands one load per year.
    """
    ensure_raw_tables(client)
    rows: dict[str, int] = {}
    for name, frame in market.frames.items():
        day_field = DATASETS[name].day_field
        if name != "markets_calendar":
            frame = frame.filter(pl.col(day_field) < market.new_day)
        # One load per year, like a bulk backfill of yearly files: raw tables are partitioned by month, and
        # ClickHouse refuses an insert block spanning more than 100 partitions.
        years = frame.get_column(day_field).dt.year()
        for year in sorted(years.unique().to_list()):
            part = frame.filter(years == year)
            days = part.get_column(day_field).unique().sort().to_list()
            rows[name] = rows.get(name, 0) + _land_frame(client, name, part, days, f"bench:{name}:{year}")
    return rows


def land_new_day(client: Client, market: Market) -> dict[str, int]:
    """Land the rows of `market.new_day` (bars, TOPIX, and any master, flow or statement row of that day)."""
    rows = {}
    for name, frame in market.frames.items():
        if name == "markets_calendar":
            continue  # landed ahead with the history, as J-Quants publishes it
        day_field = DATASETS[name].day_field
        part = frame.filter(pl.col(day_field) == market.new_day)
        rows[name] = _land_frame(client, name, part, [market.new_day], f"bench:{name}:{market.new_day}")
    return rows


def describe(market: Market) -> dict[str, object]:
    bars = market.frames["equities_bars_daily"]
    return {
        "codes": market.codes,
        "start": market.start.isoformat(),
        "new_day": market.new_day.isoformat(),
        "trading_days": market.trading_days,
        "daily_bars": bars.height,
        "splits": int((bars.get_column("AdjFactor") != 1).sum()),
        "rows": {name: frame.height for name, frame in market.frames.items()},
        "bytes_in_memory": int(sum(frame.estimated_size() for frame in market.frames.values())),
    }
