"""`gogooku ingest`: land J-Quants v2 days (API) or bulk files into `jquants_raw`, idempotently."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from clickhouse_connect.driver.client import Client

from ingestion.api import JQuantsClient
from ingestion.frames import PayloadError, frame_from_records, typed_table
from ingestion.landing import land, landed_days, new_load_id, source_landed
from ingestion.schema import DATASETS, Dataset, ensure_raw_tables

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    rows: dict[str, int] = field(default_factory=dict)  # dataset -> rows landed
    days: dict[str, int] = field(default_factory=dict)  # dataset -> days (or files) committed
    skipped: dict[str, int] = field(default_factory=dict)  # dataset -> days (or files) already landed
    errors: list[str] = field(default_factory=list)
    unknown_fields: dict[str, list[str]] = field(default_factory=dict)

    def add(self, ds: str, rows: int, units: int = 1) -> None:
        self.rows[ds] = self.rows.get(ds, 0) + rows
        self.days[ds] = self.days.get(ds, 0) + units

    def note_unknown(self, ds: str, names: list[str]) -> None:
        new = [n for n in names if n not in self.unknown_fields.get(ds, [])]
        if new:  # reported once per run and dataset
            self.unknown_fields.setdefault(ds, []).extend(new)
            log.warning("%s: new J-Quants fields kept in _extra: %s", ds, ", ".join(new))


def _days(start: date, end: date) -> Iterator[date]:
    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)


def ingest_api(
    client: Client,
    api: JQuantsClient,
    datasets: list[Dataset],
    start: date,
    end: date,
    force: bool = False,
) -> IngestReport:
    """Land every (dataset, day) of [start, end] not yet landed (all of them with `force`).

    A payload error fails its day (reported, others go on); an API that stays down stops the run.
    """
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    ensure_raw_tables(client)
    report = IngestReport()
    for ds in datasets:
        done = set() if force else landed_days(client, ds, start, end)
        pending = [d for d in _days(start, end) if d not in done]
        report.skipped[ds.name] = len(done)
        if not pending:
            continue
        if ds.by_date:
            for day in pending:
                records = api.fetch(ds.path, {"date": day.isoformat(), **ds.extra_params})
                _land_records(client, ds, records, [day], report)
        else:
            records = api.fetch(ds.path, {"from": pending[0].isoformat(), "to": pending[-1].isoformat()})
            _land_range(client, ds, records, pending, report)
        log.info("%s: %d rows over %d days", ds.name, report.rows.get(ds.name, 0), report.days.get(ds.name, 0))
    return report


def _land_records(client: Client, ds: Dataset, records: list[dict], days: list[date], report: IngestReport) -> None:
    where = f"day {days[0]}" if len(days) == 1 else f"days {days[0]}..{days[-1]}"
    try:
        table, unknown = typed_table(
            ds,
            frame_from_records(records),
            lambda row: where if row is None else f"{where} record {row}",
            new_load_id(),
        )
    except PayloadError as exc:
        report.errors.append(str(exc))
        return
    report.note_unknown(ds.name, unknown)
    report.add(ds.name, land(client, ds, table, days, source="api"), len(days))


def _land_range(client: Client, ds: Dataset, records: list[dict], pending: list[date], report: IngestReport) -> None:
    """A ranged answer is split by its day field; each pending day lands (or fails) on its own."""
    by_day: dict[str, list[dict]] = {}
    for rec in records:
        by_day.setdefault(str(rec.get(ds.day_field, ""))[:10], []).append(rec)
    for day in pending:
        _land_records(client, ds, by_day.pop(day.isoformat(), []), [day], report)
    stray = [k for k in by_day if k]
    if stray:
        log.info("%s: ignored %d records dated outside the requested days", ds.name, sum(len(by_day[k]) for k in stray))


# --- bulk files -------------------------------------------------------------------------------------------------


def dataset_of_file(path: Path) -> Dataset | None:
    """`equities_bars_daily_2024.csv.gz` -> equities_bars_daily (longest matching dataset prefix)."""
    stem = path.name.lower().replace("-", "_")
    matches = [ds for name, ds in DATASETS.items() if stem.startswith(name)]
    return max(matches, key=lambda d: len(d.name)) if matches else None


def bulk_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise FileNotFoundError(f"bulk directory {directory} does not exist")
    return sorted(p for p in directory.iterdir() if p.name.endswith((".csv", ".csv.gz")))


def ingest_bulk(client: Client, directory: Path, force: bool = False) -> IngestReport:
    """Land every J-Quants bulk CSV / CSV.gz file in `directory` that was not landed before (same content).

    A file is landed whole or not at all: a malformed line is reported with the file and line number.
    """
    ensure_raw_tables(client)
    report = IngestReport()
    files = bulk_files(directory)
    if not files:
        raise FileNotFoundError(f"no .csv or .csv.gz files in {directory}")
    for path in files:
        ds = dataset_of_file(path)
        if ds is None:
            report.errors.append(f"{path}: file name does not start with a dataset name ({', '.join(DATASETS)})")
            continue
        data = path.read_bytes()
        source = f"bulk:{path.name}:{hashlib.sha256(data).hexdigest()[:16]}"
        if not force and source_landed(client, source):
            report.skipped[ds.name] = report.skipped.get(ds.name, 0) + 1
            continue
        try:
            text = gzip.decompress(data) if path.name.endswith(".gz") else data
            frame = _read_csv(path, text)
            table, unknown = typed_table(
                ds, frame, lambda row, p=path: str(p) if row is None else f"{p}:{row + 2}", new_load_id()
            )
        except (PayloadError, OSError, EOFError, zlib.error) as exc:  # zlib.error: a corrupt gzip stream
            report.errors.append(str(exc) if isinstance(exc, PayloadError) else f"{path}: {exc}")
            continue
        report.note_unknown(ds.name, unknown)
        days = table.column(ds.day_field).unique().to_pylist()
        report.add(ds.name, land(client, ds, table, days, source=source))
        log.info("%s: landed %s (%d rows)", ds.name, path.name, table.num_rows)
    return report


def _read_csv(path: Path, text: bytes) -> pl.DataFrame:
    """Parse a bulk file as text columns, after checking every line has the header's field count.

    polars fills a short line with nulls without complaint, so the shape is checked first with the csv
    module (quote-aware, exact line numbers).
    """
    try:
        reader = csv.reader(io.StringIO(text.decode("utf-8-sig")))
        width = len(next(reader, []))
        for row in reader:
            if len(row) != width and row:
                raise PayloadError(f"{path}:{reader.line_num}: expected {width} fields, found {len(row)}")
    except (UnicodeDecodeError, csv.Error) as exc:
        raise PayloadError(f"{path}: not a UTF-8 CSV file ({exc})") from exc
    if not width:
        raise PayloadError(f"{path}: empty file, no header line")
    try:
        return pl.read_csv(io.BytesIO(text), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise PayloadError(f"{path}: malformed CSV ({str(exc).splitlines()[0][:120]})") from exc
