"""Helpers for tests that land J-Quants data: the sample market's rows as text, SQL reads of `jquants_raw` in the
active warehouse, and what a bulk CSV cell must land as, derived from its text alone (not through ingestion/)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from ingestion.schema import DATASETS, LOAD_LOG, RAW_DB, Dataset


@dataclass(frozen=True)
class Sample:
    """The sample market's bulk files and their rows as text (v2 field names, days as "YYYY-MM-DD"), per dataset."""

    dir: Path
    counts: dict[str, int]
    frames: dict[str, pl.DataFrame]

    def rows(self, dataset: str, start: date | None = None, end: date | None = None) -> pl.DataFrame:
        """Bulk rows of `dataset` whose day field is in [start, end]."""
        frame = self.frames[dataset]
        day = pl.col(DATASETS[dataset].day_field)
        if start is not None:
            frame = frame.filter(day >= pl.lit(start.isoformat()))
        if end is not None:
            frame = frame.filter(day <= pl.lit(end.isoformat()))
        return frame


def iso_date(col: pl.Expr) -> pl.Expr:
    """Bulk dates ("YYYY-MM-DD" or "YYYYMMDD") as "YYYY-MM-DD" text."""
    parsed = pl.coalesce(col.str.to_date("%Y-%m-%d", strict=False), col.str.to_date("%Y%m%d", strict=False))
    return parsed.dt.strftime("%Y-%m-%d")


def expected_value(text: str | None, ch_type: str) -> object:
    """The value a bulk CSV cell must land as in a column of `ch_type`."""
    if text is None or text.strip() == "":
        return "" if ch_type == "String" else None
    text = text.strip()
    if "Date" in ch_type:
        return date.fromisoformat(text) if "-" in text else date(int(text[:4]), int(text[4:6]), int(text[6:]))
    if "Float64" in ch_type:
        return float(text.replace(",", ""))
    if "UInt8" in ch_type:
        return 1 if text.lower() in ("1", "true") else 0
    return text


def expected_frame(ds: Dataset, rows: pl.DataFrame, like: pl.DataFrame) -> pl.DataFrame:
    """The v2 fields of bulk `rows` as they must land, typed like the landed frame `like`, sorted by key."""
    records = rows.to_dicts()
    data = {f: [expected_value(r.get(f), t) for r in records] for f, t in ds.fields.items()}
    return pl.DataFrame(data, schema={f: like.schema[f] for f in ds.fields}).sort(list(ds.key))


class RawWarehouse:
    """Reads of `jquants_raw` in the active GOGOOKU_HOME; each call opens and closes the warehouse."""

    def rows(self, sql: str, **parameters: object) -> list[tuple]:
        from gogooku.warehouse import open_warehouse

        with open_warehouse(wait_s=5) as client:
            return client.query(sql, parameters=parameters or None).result_rows

    def scalar(self, sql: str, **parameters: object) -> object:
        return self.rows(sql, **parameters)[0][0]

    def frame(self, sql: str, **parameters: object) -> pl.DataFrame:
        from gogooku.warehouse import open_warehouse

        with open_warehouse(wait_s=5) as client:
            return pl.from_arrow(client.query_arrow(sql, parameters=parameters or None))

    def count(self, dataset: str) -> int:
        """Every row of the raw table, committed or not, duplicates included."""
        return self.scalar(f"SELECT count() FROM {RAW_DB}.{dataset}")

    def committed_count(self, dataset: str) -> int:
        """Rows of committed loads (the duplicates of a re-landing included)."""
        return self.scalar(f"SELECT count() FROM {RAW_DB}.{dataset} WHERE _load_id IN (SELECT load_id FROM {LOAD_LOG})")

    def latest(self, dataset: str, start: date | None = None, end: date | None = None) -> pl.DataFrame:
        """What staging sees: committed rows, the latest landing of each key; v2 fields and _extra, sorted by key."""
        ds = DATASETS[dataset]
        keys = ", ".join(f"`{k}`" for k in ds.key)
        where = [f"_load_id IN (SELECT load_id FROM {LOAD_LOG})"]
        if start is not None:
            where.append(f"`{ds.day_field}` >= toDate('{start}')")
        if end is not None:
            where.append(f"`{ds.day_field}` <= toDate('{end}')")
        return self.frame(
            f"SELECT * EXCEPT (_load_id, _loaded_at) FROM (SELECT * FROM {ds.table} WHERE {' AND '.join(where)} "
            f"ORDER BY _loaded_at DESC LIMIT 1 BY {keys}) ORDER BY {keys}"
        )

    def log(self, dataset: str | None = None) -> pl.DataFrame:
        """The load log (of one dataset), oldest first."""
        where = f"WHERE dataset = '{dataset}'" if dataset else ""
        return self.frame(f"SELECT * FROM {LOAD_LOG} {where} ORDER BY loaded_at, dataset, day")

    def committed_days(self, dataset: str) -> list[date]:
        sql = f"SELECT DISTINCT day FROM {LOAD_LOG} WHERE dataset = '{dataset}' ORDER BY day"
        return [r[0] for r in self.rows(sql)]
