"""The `gogooku` command: output formats, one-line errors, and the embedded warehouse held by another process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from gogooku.cli import main
from gogooku.warehouse import WarehouseBusy, open_warehouse

pytestmark = pytest.mark.usefixtures("gogooku_home")


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_sql_prints_pretty_compact_by_default_and_any_format_on_request(capsys) -> None:
    query = "SELECT number AS n, concat('v', toString(number)) AS label FROM numbers(3)"
    assert main(["sql", query]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].strip() == "┌─n─┬─label─┐"
    assert out.splitlines()[3].endswith("│ 2 │ v2    │")

    assert main(["sql", query, "--format", "CSVWithNames"]) == 0
    assert capsys.readouterr().out == '"n","label"\n0,"v0"\n1,"v1"\n2,"v2"\n'

    assert main(["sql", "SELECT 1 AS one", "--format", "JSONEachRow"]) == 0
    assert capsys.readouterr().out == '{"one":1}\n'


def test_sql_reads_what_ingest_landed(sample, tmp_path, capsys) -> None:
    bulk = tmp_path / "bulk"
    bulk.mkdir()
    for path in sample.dir.glob("indices_topix_*"):
        (bulk / path.name).write_bytes(path.read_bytes())
    assert main(["ingest", "--bulk", str(bulk)]) == 0
    capsys.readouterr()
    query = "SELECT count() AS n, min(Date) AS first FROM jquants_raw.indices_topix"
    assert main(["sql", query, "--format", "CSVWithNames"]) == 0
    first = sample.frames["indices_topix"].get_column("Date").min()
    assert capsys.readouterr().out == f'"n","first"\n{sample.frames["indices_topix"].height},"{first}"\n'


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["ingest", "--start", "2024-13-01", "--end", "2024-01-05"], "'2024-13-01' is not a date"),
        (["ingest", "--start", "2024-01-04", "--end", "yesterday"], "'yesterday' is not a date"),
        (["sample", "--out", "x", "--start", "04/01/2024"], "is not a date"),
        (["sql"], "required: query"),
        ([], "required: command"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(argv, needle, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert needle in one_error_line(captured.err)
    assert captured.out == ""


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["ingest"], "needs --start and --end"),
        (["ingest", "--start", "2024-01-04"], "needs --start and --end"),
        (["ingest", "--start", "2024-01-05", "--end", "2024-01-04"], "before --start"),
        (["ingest", "--start", "2024-01-04", "--end", "2024-01-05", "--datasets", "prices"], "unknown dataset"),
        (["sql", "SELECT no_such_column FROM system.one"], "no_such_column"),
        (["sql", "SELEKT 1"], "Syntax error"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_a_non_zero_exit(argv, needle, jquants_server, capsys) -> None:
    assert main(argv) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("error") and needle in line


HOLD_WAREHOUSE = textwrap.dedent(
    """
    import sys, time
    from gogooku.warehouse import open_warehouse

    with open_warehouse() as client:
        client.command("SELECT 1")
        print("holding", flush=True)
        time.sleep(120)
    """
)


def test_a_warehouse_held_by_another_process_is_reported_with_its_pid(gogooku_home, monkeypatch, capsys) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WAREHOUSE],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = holder.stdout.readline()
        assert line.strip() == "holding", holder.stderr.read() if holder.poll() is not None else line
        with pytest.raises(WarehouseBusy) as exc, open_warehouse(wait_s=1):
            pass
        message = str(exc.value)
        assert str(gogooku_home / "clickhouse") in message
        assert f"PID {holder.pid}" in message

        # The command says the same in one line (its default wait shortened for the test).
        monkeypatch.setattr(open_warehouse.__wrapped__, "__defaults__", (None, 0.5))
        assert main(["sql", "SELECT 1"]) == 1
        line = one_error_line(capsys.readouterr().err)
        assert "in use by" in line and f"PID {holder.pid}" in line
    finally:
        holder.kill()
        holder.wait(timeout=30)
    # The dead holder's lock went with it.
    with open_warehouse(wait_s=5) as client:
        assert client.command("SELECT 1") == 1
