"""Shared fixtures: a small sample market (written once), a local J-Quants v2 server on it, and a fresh
embedded warehouse per test.

chDB lets one process hold one data directory at a time (and a directory is held by one process), so each test
that needs a warehouse gets its own `GOGOOKU_HOME` and every access goes through `open_warehouse()` as a
context manager: no client outlives the statement that needed it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from jquants_server import JQuantsServer, Record, records_from_bulk_dir
from warehouse_checks import RawWarehouse, Sample, iso_date

from ingestion.ingest import bulk_files, dataset_of_file
from ingestion.schema import DATASETS

SAMPLE_CODES = 30
SAMPLE_START = date(2023, 12, 1)
SAMPLE_END = date(2024, 3, 29)


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """A small sample market (30 codes, 2023-12-01..2024-03-29) written once per session as bulk files."""
    try:
        from ingestion.sample import write_sample_market
    except ImportError as exc:
        pytest.skip(f"needs the sample market generator ingestion.sample.write_sample_market, not importable: {exc}")
    out = tmp_path_factory.mktemp("sample_market")
    counts = write_sample_market(out, codes=SAMPLE_CODES, start=SAMPLE_START, end=SAMPLE_END, seed=7)
    frames: dict[str, list[pl.DataFrame]] = {}
    for path in bulk_files(out):
        ds = dataset_of_file(path)
        assert ds is not None, f"the sample wrote a file no dataset claims: {path.name}"
        frame = pl.read_csv(path, infer_schema=False)
        frames.setdefault(ds.name, []).append(frame.with_columns(iso_date(pl.col(ds.day_field))))
    missing = set(DATASETS) - set(frames)
    assert not missing, f"the sample wrote no bulk file for {sorted(missing)}"
    return Sample(out, counts, {name: pl.concat(parts, how="diagonal") for name, parts in frames.items()})


@pytest.fixture(scope="session")
def sample_records(sample: Sample) -> dict[str, list[Record]]:
    """The sample market as J-Quants v2 API records, {API path: records} (shared; servers copy the lists)."""
    return records_from_bulk_dir(sample.dir)


@pytest.fixture
def gogooku_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty GOGOOKU_HOME (embedded target) for this test."""
    home = tmp_path / "gogooku_home"
    monkeypatch.setenv("GOGOOKU_HOME", str(home))
    monkeypatch.setenv("GOGOOKU_TARGET", "embedded")
    return home


@pytest.fixture
def raw(gogooku_home: Path) -> RawWarehouse:
    """SQL reads of jquants_raw in the active warehouse (this test's fresh GOGOOKU_HOME unless re-pointed)."""
    return RawWarehouse()


@pytest.fixture
def jquants_server(sample_records: dict[str, list[Record]], monkeypatch: pytest.MonkeyPatch) -> Iterator[JQuantsServer]:
    """A local J-Quants v2 server on the sample market; JQUANTS_API_BASE_URL and JQUANTS_API_KEY point at it."""
    key = f"test-key-{secrets.token_hex(8)}"
    server = JQuantsServer(sample_records, api_key=key, page_size=50).start()
    monkeypatch.setenv("JQUANTS_API_BASE_URL", server.base_url)
    monkeypatch.setenv("JQUANTS_API_KEY", key)
    try:
        yield server
    finally:
        server.stop()
