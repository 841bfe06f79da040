"""The Dagster instance `write_dagster_yaml` configures: SQLite under the home by default, this machine's
PostgreSQL with DAGSTER_PG_*, and the one-slot `warehouse` pool either way (embedded target)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from orchestration.instance import WAREHOUSE_POOL, dagster_instance, write_dagster_yaml

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


@dg.asset(pool=WAREHOUSE_POOL)
def tiny() -> int:
    return 1


def run_tiny(instance: dg.DagsterInstance) -> str:
    result = dg.materialize([tiny], instance=instance)
    assert result.success
    return result.run_id


@pytest.fixture
def no_dagster_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "DAGSTER_HOME",
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_USER",
        "DAGSTER_PG_PASSWORD",
        "DAGSTER_PG_DB",
    ):
        monkeypatch.delenv(name, raising=False)


def test_sqlite_instance_under_the_home_with_a_one_slot_warehouse_pool(
    tmp_path: Path, no_dagster_env, gogooku_home
) -> None:
    home = tmp_path / "dagster"
    path = write_dagster_yaml(home)
    config = yaml.safe_load(path.read_text())
    assert config["storage"] == {"sqlite": {"base_dir": str(home / "storage")}}
    assert config["concurrency"]["pools"] == {"granularity": "op", "default_limit": 1}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        run_id = run_tiny(instance)
        assert instance.get_run_by_id(run_id).is_success
        # the step claimed a slot of the warehouse pool, which the instance created with one slot
        assert instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == 1
    assert (home / "storage").is_dir()


def test_dagster_instance_defaults_to_gogooku_home(no_dagster_env, gogooku_home: Path) -> None:
    with dagster_instance() as instance:
        run_id = run_tiny(instance)
    assert (gogooku_home / "dagster" / "dagster.yaml").exists()
    with dg.DagsterInstance.from_config(str(gogooku_home / "dagster")) as again:
        assert again.get_run_by_id(run_id) is not None


def test_server_target_leaves_pools_unlimited(tmp_path: Path, no_dagster_env, gogooku_home, monkeypatch) -> None:
    monkeypatch.setenv("GOGOOKU_TARGET", "server")
    config = yaml.safe_load(write_dagster_yaml(tmp_path).read_text())
    assert "default_limit" not in config["concurrency"]["pools"]


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A throwaway database on this machine's PostgreSQL, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    name = f"gogooku_dagster_test_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(**PG, dbname="postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {PG['host']}:{PG['port']} is not reachable: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgres_instance_from_dagster_pg_env(
    tmp_path: Path, no_dagster_env, gogooku_home, monkeypatch, pg_database
) -> None:
    import psycopg

    monkeypatch.setenv("DAGSTER_PG_HOST", PG["host"])
    monkeypatch.setenv("DAGSTER_PG_PORT", str(PG["port"]))
    monkeypatch.setenv("DAGSTER_PG_USER", PG["user"])
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "not-needed-with-trust-auth")
    monkeypatch.setenv("DAGSTER_PG_DB", pg_database)
    path = write_dagster_yaml(tmp_path / "dagster")
    text = path.read_text()
    assert "not-needed-with-trust-auth" not in text and pg_database not in text  # references, not values
    db = yaml.safe_load(text)["storage"]["postgres"]["postgres_db"]
    assert db["hostname"] == {"env": "DAGSTER_PG_HOST"} and db["password"] == {"env": "DAGSTER_PG_PASSWORD"}

    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        run_id = run_tiny(instance)
    with psycopg.connect(**PG, dbname=pg_database) as conn:
        stored = conn.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,)).fetchone()
        events = conn.execute("SELECT count(*) FROM event_logs WHERE run_id = %s", (run_id,)).fetchone()[0]
    assert stored == ("SUCCESS",)
    assert events > 0
