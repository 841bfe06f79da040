"""The dbt-chdb adapter on a real chDB warehouse: a table, an incremental model run twice, a data test and
`dbt docs generate`, in a throwaway dbt project that uses only dbt-clickhouse's macros through the adapter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import clickhouse_connect

PROFILES = """
chdb_probe:
  target: embedded
  outputs:
    embedded:
      type: chdb
      path: "{{ env_var('PROBE_HOME') }}/clickhouse"
      schema: probe
      threads: 2
"""

TABLE = """
{{ config(materialized='table', engine='MergeTree()', order_by='n') }}
select number as n, number * 2 as doubled from numbers({{ var('rows', 10) }})
"""

INCREMENTAL = """
{{ config(materialized='incremental', engine='MergeTree()', order_by='n', unique_key='n',
          incremental_strategy='delete+insert') }}
select n, doubled, {{ var('run', 1) }} as run from {{ ref('numbers_table') }}
{% if is_incremental() %} where n >= (select max(n) - 2 from {{ this }}) {% endif %}
"""

SCHEMA = """
version: 2
models:
  - name: numbers_table
    description: One row per number.
    columns:
      - name: n
        description: The number.
        data_tests: [unique, not_null]
  - name: numbers_incremental
    description: One row per number, rebuilt incrementally.
    columns:
      - name: n
        description: The number.
        data_tests: [unique]
"""


PROJECT = "name: chdb_probe\nversion: '1.0'\nconfig-version: 2\nprofile: chdb_probe\n"


def _project(tmp_path: Path, models: dict[str, str]) -> tuple[Path, Path]:
    """A dbt project under tmp_path with these model files; returns (project dir, warehouse home)."""
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(PROJECT)
    (project / "profiles.yml").write_text(PROFILES)
    for name, text in models.items():
        (project / "models" / name).write_text(text)
    return project, tmp_path / "home"


def _dbt(project: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    dbt = Path(sys.executable).with_name("dbt")
    env = {**os.environ, "PROBE_HOME": str(home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.run(
        [str(dbt), *args, "--profiles-dir", str(project)], cwd=project, env=env, capture_output=True, text=True
    )


def _rows(home: Path, sql: str) -> list[tuple]:
    client = clickhouse_connect.get_client(interface="chdb", path=str(home / "clickhouse"))
    try:
        return client.query(sql).result_rows
    finally:
        client.close()


def test_build_twice_and_docs_on_chdb(tmp_path: Path) -> None:
    project, home = _project(
        tmp_path, {"numbers_table.sql": TABLE, "numbers_incremental.sql": INCREMENTAL, "schema.yml": SCHEMA}
    )

    first = _dbt(project, home, "build")
    assert first.returncode == 0, first.stdout[-3000:]
    assert "PASS=5" in first.stdout  # 2 models + 3 data tests
    assert _rows(home, "select count(), max(run) from probe.numbers_incremental") == [(10, 1)]

    # second run: the table grows, the incremental model only rewrites the rows past its look-back
    second = _dbt(project, home, "build", "--vars", '{"rows": 15, "run": 2}')
    assert second.returncode == 0, second.stdout[-3000:]
    assert _rows(home, "select count(), countIf(run = 2), min(n), max(n) from probe.numbers_incremental") == [
        (15, 8, 0, 14)
    ]

    docs = _dbt(project, home, "docs", "generate")
    assert docs.returncode == 0, docs.stdout[-3000:]
    catalog = json.loads((project / "target" / "catalog.json").read_text())
    columns = catalog["nodes"]["model.chdb_probe.numbers_table"]["columns"]
    assert set(columns) == {"n", "doubled"}


def test_failing_data_test_fails_the_build(tmp_path: Path) -> None:
    duplicated = "select number % 3 as n, 0 as doubled from numbers(9)"
    project, home = _project(
        tmp_path, {"numbers_table.sql": duplicated, "schema.yml": SCHEMA.split("  - name: numbers_incremental")[0]}
    )
    result = _dbt(project, home, "build")
    assert result.returncode != 0
    assert "FAIL" in result.stdout and "unique_numbers_table_n" in result.stdout
