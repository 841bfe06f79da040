"""Bulk ingestion: J-Quants bulk CSV / CSV.gz files landed in a real chDB warehouse."""

from __future__ import annotations

import gzip
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from warehouse_checks import Sample, expected_frame

from gogooku.cli import main
from gogooku.warehouse import open_warehouse
from ingestion.ingest import ingest_bulk
from ingestion.schema import DATASETS

pytestmark = pytest.mark.usefixtures("gogooku_home")

BARS = DATASETS["equities_bars_daily"]
TOPIX = DATASETS["indices_topix"]


def land(directory: Path, force: bool = False):
    with open_warehouse() as client:
        return ingest_bulk(client, directory, force=force)


def copy_sample(sample: Sample, dest: Path, names: list[str] | None = None) -> Path:
    """The sample's bulk files (those whose name starts with one of `names`) copied to `dest`."""
    dest.mkdir()
    for path in sorted(sample.dir.iterdir()):
        if names is None or path.name.startswith(tuple(names)):
            shutil.copy(path, dest / path.name)
    return dest


def read_lines(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return fh.read().splitlines()


def write_lines(path: Path, lines: list[str]) -> None:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8", newline="") as fh:
        fh.write("\n".join(lines) + "\n")


def files_of(directory: Path, dataset: str) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith(dataset + "_"))


def test_the_sample_market_lands(sample: Sample, raw) -> None:
    report = land(sample.dir)
    assert report.errors == []
    assert report.rows == {name: frame.height for name, frame in sample.frames.items()}
    assert report.rows == sample.counts
    for name, ds in DATASETS.items():
        rows = sample.frames[name]
        assert report.days[name] == len(files_of(sample.dir, name))  # a bulk load counts files
        assert raw.committed_count(name) == raw.count(name) == rows.height
        landed = raw.latest(name)
        assert landed.height == rows.height  # the sample has no duplicate keys
        assert_frame_equal(landed.drop("_extra"), expected_frame(ds, rows, landed), check_exact=True)
        days = sorted({d for d in landed.get_column(ds.day_field).to_list()})
        assert raw.committed_days(name) == days
    sources = raw.log().get_column("source").unique().to_list()
    assert {s.split(":")[1] for s in sources} == {p.name for p in sample.dir.iterdir()}
    assert all(s.startswith("bulk:") and len(s.split(":")[2]) == 16 for s in sources)


def test_a_rerun_skips_files_by_content_and_lands_a_changed_file_again(sample: Sample, raw, tmp_path) -> None:
    bulk = copy_sample(sample, tmp_path / "bulk", ["indices_topix", "markets_calendar"])
    land(bulk)
    counts = {name: raw.count(name) for name in (TOPIX.name, "markets_calendar")}
    log_rows = raw.log().height

    report = land(bulk)
    assert report.rows == {} and report.errors == []
    assert report.skipped == {TOPIX.name: 2, "markets_calendar": 2}
    assert {name: raw.count(name) for name in counts} == counts
    assert raw.log().height == log_rows

    # J-Quants corrects a close: the file's content (and hash) changes, so that file, and only it, lands again.
    path = files_of(bulk, TOPIX.name)[-1]
    lines = read_lines(path)
    header = lines[0].split(",")
    first = lines[1].split(",")
    first[header.index("C")] = "1234.5"
    write_lines(path, [lines[0], ",".join(first), *lines[2:]])
    report = land(bulk)
    assert report.rows == {TOPIX.name: len(lines) - 1}
    assert report.skipped == {TOPIX.name: 1, "markets_calendar": 2}
    day = first[header.index("Date")]
    assert raw.scalar(f"SELECT C FROM ({_latest_sql(TOPIX.name)}) WHERE Date = toDate('{day}')") == 1234.5

    # --force lands everything again; staging's view does not change.
    latest = raw.latest(TOPIX.name)
    report = land(bulk, force=True)
    assert report.skipped == {} and report.rows[TOPIX.name] == latest.height
    assert_frame_equal(raw.latest(TOPIX.name), latest)


def _latest_sql(name: str) -> str:
    ds = DATASETS[name]
    return (
        f"SELECT * FROM {ds.table} WHERE _load_id IN (SELECT load_id FROM jquants_raw._load_log) "
        f"ORDER BY _loaded_at DESC LIMIT 1 BY {', '.join(ds.key)}"
    )


@pytest.mark.parametrize("damage", ["short", "long"])
def test_a_malformed_line_rejects_its_whole_file_and_names_the_line(sample: Sample, raw, tmp_path, damage) -> None:
    bulk = copy_sample(sample, tmp_path / "bulk")
    bad, good = files_of(bulk, BARS.name)[-1], files_of(bulk, BARS.name)[0]
    lines = read_lines(bad)
    width = len(lines[0].split(","))
    line_no = 17  # 1-based, the header is line 1
    fields = lines[line_no - 1].split(",")
    lines[line_no - 1] = ",".join(fields[:-1] if damage == "short" else [*fields, "9"])
    write_lines(bad, lines)

    report = land(bulk)
    assert len(report.errors) == 1
    error = report.errors[0]
    assert f"{bad}:{line_no}:" in error
    found = width - 1 if damage == "short" else width + 1
    assert f"expected {width} fields, found {found}" in error
    # Nothing of the bad file landed; every other file did.
    good_rows = pl.read_csv(good, infer_schema=False).height
    assert raw.count(BARS.name) == raw.committed_count(BARS.name) == good_rows
    assert all(bad.name not in s for s in raw.log().get_column("source").to_list())
    for name in DATASETS:
        if name != BARS.name:
            assert raw.count(name) == sample.frames[name].height


def test_an_unreadable_number_names_the_field_and_line(sample: Sample, raw, tmp_path) -> None:
    bulk = copy_sample(sample, tmp_path / "bulk", [TOPIX.name])
    bad = files_of(bulk, TOPIX.name)[0]
    lines = read_lines(bad)
    header = lines[0].split(",")
    fields = lines[5].split(",")  # line 6 of the file
    fields[header.index("H")] = "12.3.4"
    lines[5] = ",".join(fields)
    write_lines(bad, lines)

    report = land(bulk)
    assert len(report.errors) == 1
    error = report.errors[0]
    assert f"{bad}:6:" in error and "'H'" in error and "'12.3.4'" in error
    assert raw.committed_count(TOPIX.name) == sample.frames[TOPIX.name].height - (len(lines) - 1)
    assert all(bad.name not in s for s in raw.log().get_column("source").to_list())


def test_csv_and_csv_gz_are_both_accepted(sample: Sample, raw, tmp_path) -> None:
    bulk = copy_sample(sample, tmp_path / "bulk", [TOPIX.name, "fins_summary"])
    for path in files_of(bulk, TOPIX.name):  # TOPIX as plain .csv, statements left as .csv.gz
        path.with_name(path.name.removesuffix(".gz")).write_bytes(gzip.decompress(path.read_bytes()))
        path.unlink()
    assert {p.suffix for p in bulk.iterdir()} == {".csv", ".gz"}
    report = land(bulk)
    assert report.errors == []
    for name in (TOPIX.name, "fins_summary"):
        landed = raw.latest(name)
        assert landed.height == sample.frames[name].height
        assert_frame_equal(landed.drop("_extra"), expected_frame(DATASETS[name], sample.frames[name], landed))


def test_damaged_and_unknown_files_are_reported_while_the_others_land(sample: Sample, raw, tmp_path) -> None:
    bulk = copy_sample(sample, tmp_path / "bulk", [TOPIX.name, "markets_calendar"])
    truncated = files_of(bulk, TOPIX.name)[-1]
    truncated.write_bytes(truncated.read_bytes()[:-20])
    corrupt = files_of(bulk, "markets_calendar")[-1]
    data = bytearray(corrupt.read_bytes())
    for i in range(12, len(data) - 8, 7):  # flip bits in the deflate stream
        data[i] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    (bulk / "prices_2024.csv").write_text("Date,Code\n2024-01-04,72030\n")
    report = land(bulk)
    assert len(report.errors) == 3
    assert any(str(truncated) in e for e in report.errors)
    assert any(str(corrupt) in e for e in report.errors)
    assert any("prices_2024.csv" in e and "dataset" in e for e in report.errors)
    assert raw.committed_count(TOPIX.name) == pl.read_csv(files_of(sample.dir, TOPIX.name)[0]).height
    assert raw.committed_count("markets_calendar") == pl.read_csv(files_of(sample.dir, "markets_calendar")[0]).height


def test_unknown_columns_are_kept_and_missing_required_columns_reject_the_file(sample: Sample, raw, tmp_path) -> None:
    bulk = tmp_path / "bulk"
    bulk.mkdir()
    (bulk / "indices_topix_2031.csv").write_text(
        "Date,O,H,L,C,Vwap\n2031-01-06,2000,2010,1990,2005,2001.5\n2031-01-07,2005,2015,1995,2010,\n"
    )
    (bulk / "equities_bars_daily_2031.csv").write_text("Date,Code,O,C\n2031-01-06,72030,100,101\n")
    report = land(bulk)
    assert report.unknown_fields == {TOPIX.name: ["Vwap"]}
    assert len(report.errors) == 1 and "equities_bars_daily_2031.csv" in report.errors[0]
    assert "'AdjFactor'" in report.errors[0]
    assert raw.rows(f"SELECT Date, C, _extra FROM {TOPIX.table} ORDER BY Date") == [
        (date(2031, 1, 6), 2005.0, {"Vwap": "2001.5"}),
        (date(2031, 1, 7), 2010.0, {"Vwap": ""}),
    ]
    assert raw.count(BARS.name) == 0


def test_cli_bulk_reports_errors_one_line_each(sample: Sample, raw, tmp_path, capsys) -> None:
    bulk = copy_sample(sample, tmp_path / "bulk", [TOPIX.name])
    bad = files_of(bulk, TOPIX.name)[0]
    lines = read_lines(bad)
    lines[2] = lines[2] + ",extra"
    write_lines(bad, lines)
    assert main(["ingest", "--bulk", str(bulk)]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err == [next(e for e in err if e.startswith("error: "))]
    assert f"{bad}:3:" in err[0]
    assert TOPIX.name in captured.out
    assert main(["ingest", "--bulk", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere" in err[0] and "does not exist" in err[0]
