"""The Dagster instance: `$GOGOOKU_HOME/dagster` (SQLite) by default, PostgreSQL when `DAGSTER_PG_HOST` is set.

`write_dagster_yaml(home)` writes `home/dagster.yaml`; `gogooku refresh` uses that instance, and `dagster dev`
uses it with `DAGSTER_HOME` pointed there (`python -m orchestration.instance` writes the file and prints the
`export` line). PostgreSQL settings are written as `{env: DAGSTER_PG_*}` references, so no password reaches disk.

Concurrency: the embedded warehouse (chDB) is held by one process at a time, so the `warehouse` pool, which
every step that touches the warehouse runs in, gets one slot (`pools.default_limit: 1`, op granularity). On the
`server` target many writers are fine and pools are left unlimited.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from dagster import DagsterInstance

from gogooku.settings import load_settings

WAREHOUSE_POOL = "warehouse"
PG_ENV = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB")


def dagster_home() -> Path:
    """`$DAGSTER_HOME` when set, else `$GOGOOKU_HOME/dagster`."""
    raw = os.environ.get("DAGSTER_HOME")
    return Path(raw).expanduser().resolve() if raw else load_settings().home / "dagster"


def _postgres_storage() -> dict[str, Any]:
    """`storage.postgres` from DAGSTER_PG_*: values as env references; unset optional ones take defaults."""
    db: dict[str, Any] = {"hostname": {"env": "DAGSTER_PG_HOST"}}
    db["username"] = {"env": "DAGSTER_PG_USER"} if os.environ.get("DAGSTER_PG_USER") else "postgres"
    if os.environ.get("DAGSTER_PG_PASSWORD"):
        db["password"] = {"env": "DAGSTER_PG_PASSWORD"}
    db["db_name"] = {"env": "DAGSTER_PG_DB"} if os.environ.get("DAGSTER_PG_DB") else "dagster"
    if os.environ.get("DAGSTER_PG_PORT"):
        db["port"] = {"env": "DAGSTER_PG_PORT"}
    return {"postgres": {"postgres_db": db}}


def dagster_config(home: Path) -> dict[str, Any]:
    """The instance configuration `write_dagster_yaml` writes (see the module docstring)."""
    storage = (
        _postgres_storage() if os.environ.get("DAGSTER_PG_HOST") else {"sqlite": {"base_dir": str(home / "storage")}}
    )
    pools: dict[str, Any] = {"granularity": "op"}
    if load_settings().target == "embedded":
        pools["default_limit"] = 1
    return {
        "storage": storage,
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
        },
        "concurrency": {"pools": pools, "runs": {"max_concurrent_runs": 2}},
        "local_artifact_storage": {
            "module": "dagster._core.storage.root",
            "class": "LocalArtifactStorage",
            "config": {"base_dir": str(home / "storage")},
        },
        "compute_logs": {
            "module": "dagster._core.storage.local_compute_log_manager",
            "class": "LocalComputeLogManager",
            "config": {"base_dir": str(home / "storage" / "compute_logs")},
        },
        "telemetry": {"enabled": False},
    }


def write_dagster_yaml(home: Path) -> Path:
    """Write `home/dagster.yaml` for the active settings (SQLite, or PostgreSQL with DAGSTER_PG_HOST)."""
    home = Path(home).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    header = "# Written by orchestration.instance.write_dagster_yaml; rewritten by `gogooku refresh`.\n"
    path.write_text(header + yaml.safe_dump(dagster_config(home), sort_keys=False), encoding="utf-8")
    return path


@contextmanager
def dagster_instance() -> Iterator[DagsterInstance]:
    """The project's instance: `$DAGSTER_HOME` as configured there, else `$GOGOOKU_HOME/dagster` (its
    dagster.yaml rewritten from the current settings)."""
    if os.environ.get("DAGSTER_HOME"):
        instance = DagsterInstance.get()
    else:
        home = dagster_home()
        write_dagster_yaml(home)
        instance = DagsterInstance.from_config(str(home))
    try:
        yield instance
    finally:
        instance.dispose()


def main() -> int:
    home = dagster_home()
    path = write_dagster_yaml(home)
    print(f"wrote {path}", file=sys.stderr)
    print(f"export DAGSTER_HOME={home}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
