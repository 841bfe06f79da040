"""Turn J-Quants payloads (JSON records or CSV text) into typed Arrow tables for the raw tables.

Everything arrives as text first (CSV is text; JSON numbers are stringified), then each v2 field is cast to
its ClickHouse type in one vectorised step. A value that does not parse, or a required field that is absent
or empty, raises `PayloadError` naming the field and where it came from (day, or file and line).
Fields the project does not know yet are kept in `_extra` (a Map of text) instead of being dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pyarrow as pa

from ingestion.schema import Dataset


class PayloadError(ValueError):
    """A payload that cannot be landed; the message names the dataset, the place and the field."""


_ARROW = {
    "Date": pa.date32(),
    "Nullable(Date)": pa.date32(),
    "Float64": pa.float64(),
    "Nullable(Float64)": pa.float64(),
    "String": pa.string(),
    "Nullable(UInt8)": pa.uint8(),
}
_TRUE = ("1", "true", "True", "TRUE")
_FALSE = ("0", "false", "False", "FALSE")


def frame_from_records(records: list[dict]) -> pl.DataFrame:
    """JSON records -> a frame of text columns (numbers and booleans stringified, nulls kept)."""
    if not records:  # an empty answer (a holiday, a day without disclosures); polars cannot infer from nothing
        return pl.DataFrame()
    keys: dict[str, None] = {}  # every field seen in any record, in first-seen order
    for rec in records:
        keys.update(dict.fromkeys(rec))
    return pl.from_dicts(records, schema={k: pl.String for k in keys}, strict=False)


def _parse(col: pl.Expr, ch_type: str) -> pl.Expr:
    text = col.str.strip_chars()
    text = pl.when(text == "").then(None).otherwise(text)
    if ch_type.endswith("Date)") or ch_type == "Date":
        return pl.coalesce(text.str.to_date("%Y-%m-%d", strict=False), text.str.to_date("%Y%m%d", strict=False))
    if "Float64" in ch_type:
        return text.str.replace_all(",", "").cast(pl.Float64, strict=False)
    if "UInt8" in ch_type:
        return pl.when(text.is_in(_TRUE)).then(1).when(text.is_in(_FALSE)).then(0).otherwise(None).cast(pl.UInt8)
    return col


def typed_table(
    ds: Dataset,
    raw: pl.DataFrame,
    where: Callable[[int | None], str],
    load_id: str,
    loaded_at: datetime | None = None,
) -> tuple[pa.Table, list[str]]:
    """Cast a text frame to the raw table's Arrow schema; return it with the names of unknown fields kept.

    `where(row)` describes a row's origin for error messages (e.g. "file.csv:17"; row None = the payload).
    """
    if not raw.columns:  # no records at all: an empty day, nothing to check
        raw = pl.DataFrame(schema=dict.fromkeys(ds.fields, pl.String))
    missing = [f for f in ds.required if f not in raw.columns]
    if missing:
        raise PayloadError(f"{ds.name} {where(None)}: payload is missing required field {missing[0]!r}")
    n = raw.height
    present = [f for f in ds.fields if f in raw.columns]
    parsed = raw.select(
        [_parse(pl.col(f), ds.fields[f]).alias(f) for f in present]
        + [pl.lit(None, pl.String).alias(f) for f in ds.fields if f not in raw.columns]
    ).select(list(ds.fields))

    for f in present:
        t = ds.fields[f]
        src = raw.get_column(f)
        given = src.is_not_null() & (src.str.strip_chars() != "")
        if t != "String":
            bad = given & parsed.get_column(f).is_null()
            if bad.any():
                row = int(bad.arg_true()[0])
                raise PayloadError(f"{ds.name} {where(row)}: field {f!r} has unreadable value {src[row]!r} for {t}")
        if f in ds.required:
            empty = ~given
            if empty.any():
                row = int(empty.arg_true()[0])
                raise PayloadError(f"{ds.name} {where(row)}: required field {f!r} is empty")

    # Non-nullable text columns take '' for a missing value, as ClickHouse would.
    parsed = parsed.with_columns([pl.col(f).fill_null("") for f, t in ds.fields.items() if t == "String"])
    unknown = [c for c in raw.columns if c not in ds.fields]
    arrays = [parsed.get_column(f).to_arrow().cast(_ARROW[t]) for f, t in ds.fields.items()]
    arrays.append(_extra_map(raw, unknown))
    arrays.append(pa.array([load_id] * n, pa.string()))
    stamp = loaded_at or datetime.now(UTC)
    arrays.append(pa.array([stamp] * n, pa.timestamp("ms", tz="UTC")))
    names = [*ds.fields, "_extra", "_load_id", "_loaded_at"]
    return pa.Table.from_arrays(arrays, names=names), unknown


def _extra_map(raw: pl.DataFrame, unknown: list[str]) -> pa.MapArray:
    """One map per row holding every unknown field (row-major), empty maps when there are none."""
    n, k = raw.height, len(unknown)
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * k)
    keys = np.tile(np.array(unknown, dtype=object), n)
    values = raw.select(pl.col(unknown).fill_null("")).to_numpy().reshape(-1) if k else np.array([], dtype=object)
    return pa.MapArray.from_arrays(offsets, pa.array(keys, pa.string()), pa.array(values, pa.string()))
