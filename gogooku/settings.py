"""Where state lives and which warehouse is active, read from the environment when asked (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
TARGETS = ("embedded", "server")
# dbt arguments of every production build (Dagster, the demo, the benchmark): dbt unit tests check the SQL on
# fixed rows, not the data, so `make test` runs them (tests/dbt/test_unit_tests.py) and a refresh need not.
DBT_SKIP_UNIT_TESTS = ("--exclude-resource-type", "unit_test")


class ConfigError(ValueError):
    """A setting from the environment is unusable; the message names it."""


@dataclass(frozen=True)
class Settings:
    home: Path
    target: str
    ch_host: str
    ch_port: int
    ch_user: str
    ch_password: str
    ch_secure: bool

    @property
    def chdb_path(self) -> Path:
        return self.home / "clickhouse"

    @property
    def dbt_runs_dir(self) -> Path:
        """Where Dagster's dbt steps keep their artifacts, one directory per dbt invocation."""
        return self.home / "dbt" / "runs"


def gogooku_home() -> Path:
    """`$GOGOOKU_HOME`, else `.gogooku` at the repository root (`./.gogooku` when run from the root)."""
    raw = os.environ.get("GOGOOKU_HOME")
    return Path(raw).expanduser().resolve() if raw else REPO_ROOT / ".gogooku"


def load_settings() -> Settings:
    target = os.environ.get("GOGOOKU_TARGET", "embedded")
    if target not in TARGETS:
        raise ConfigError(f"GOGOOKU_TARGET={target!r} is not one of {', '.join(TARGETS)}")
    port = os.environ.get("CLICKHOUSE_PORT", "8123")
    if not port.isdigit():
        raise ConfigError(f"CLICKHOUSE_PORT={port!r} is not a port number")
    return Settings(
        home=gogooku_home(),
        target=target,
        ch_host=os.environ.get("CLICKHOUSE_HOST", "localhost"),
        ch_port=int(port),
        ch_user=os.environ.get("CLICKHOUSE_USER", "default"),
        ch_password=os.environ.get("CLICKHOUSE_PASSWORD", ""),
        ch_secure=os.environ.get("CLICKHOUSE_SECURE", "false").lower() in ("1", "true", "yes"),
    )
