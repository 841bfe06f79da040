"""Feast on the feature mart: generated config, point-in-time retrieval, materialization to SQLite and Redis, and
the SQL registry on PostgreSQL. Real chDB warehouse, real Redis and PostgreSQL on 127.0.0.1."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from synthetic_mart import FLOW_COLUMNS, create_mart, insert_rows, synthetic_mart

from gogooku.settings import ConfigError
from gogooku.warehouse import lock_holder
from ml import feature_store as fs
from ml.feature_repo.features import PRICE_LEVEL_COLUMNS, SERVICES, VIEW_COLUMNS

DISTINCT = 12345.0


def _later_row(frame: pd.DataFrame, code: str, day, value: float = DISTINCT) -> pd.DataFrame:
    """One mart row of `code` on `day` whose every feature is `value`."""
    row = frame[frame["code"] == code].tail(1).copy()
    row["date"] = day
    for column in row.columns:
        if column not in ("code", "date"):
            row[column] = value
    return row


def _next_weekday(day):
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


# --- configuration -------------------------------------------------------------------------------------------


def test_embedded_config_uses_chdb_sqlite_and_file_registry(gogooku_home: Path) -> None:
    path = fs.write_feature_store_yaml()
    assert path == gogooku_home / "feast" / "feature_store.yaml"
    config = yaml.safe_load(path.read_text())
    assert config["project"] == "gogooku"
    assert config["offline_store"]["type"] == "clickhouse"
    assert config["offline_store"]["additional_client_args"] == {
        "interface": "chdb",
        "path": str(gogooku_home / "clickhouse"),
    }
    assert config["online_store"] == {"type": "sqlite", "path": str(gogooku_home / "feast" / "online.db")}
    assert config["registry"]["registry_type"] == "file"
    assert config["registry"]["path"] == str(gogooku_home / "feast" / "registry.db")


def test_server_config_uses_clickhouse_redis_and_sql_registry_without_writing_secrets(
    gogooku_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOGOOKU_TARGET", "server")
    monkeypatch.setenv("CLICKHOUSE_HOST", "ch.internal")
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", "s3cret-ch")
    monkeypatch.delenv("FEAST_REDIS_URL", raising=False)
    monkeypatch.delenv("FEAST_REDIS_HOST", raising=False)
    monkeypatch.delenv("FEAST_REGISTRY_PG_HOST", raising=False)
    monkeypatch.delenv("FEAST_REGISTRY_URL", raising=False)
    with pytest.raises(ConfigError, match="FEAST_REGISTRY_URL"):
        fs.feature_store_config()

    monkeypatch.setenv("FEAST_REGISTRY_URL", "postgresql+psycopg://feast:s3cret-pg@pg:5432/feast")
    config = fs.feature_store_config()
    assert config["offline_store"]["host"] == "ch.internal"
    assert config["offline_store"]["password"] == "${CLICKHOUSE_PASSWORD}"
    assert "additional_client_args" not in config["offline_store"]
    assert config["online_store"] == {"type": "redis", "connection_string": "127.0.0.1:6379"}
    assert config["registry"]["registry_type"] == "sql"
    assert config["registry"]["path"] == "${FEAST_REGISTRY_URL}"

    # The compose deployment's split variables.
    monkeypatch.delenv("FEAST_REGISTRY_URL")
    monkeypatch.setenv("FEAST_REGISTRY_PG_HOST", "postgres")
    monkeypatch.setenv("FEAST_REGISTRY_PG_USER", "feast")
    monkeypatch.setenv("FEAST_REGISTRY_PG_PASSWORD", "s3cret-pg")
    monkeypatch.setenv("FEAST_REGISTRY_PG_DB", "feast_registry")
    monkeypatch.setenv("FEAST_REDIS_HOST", "redis")
    monkeypatch.setenv("FEAST_REDIS_PASSWORD", "s3cret-redis")
    text = fs.write_feature_store_yaml().read_text()
    config = yaml.safe_load(text)
    assert config["registry"]["path"] == (
        "postgresql+psycopg://${FEAST_REGISTRY_PG_USER}:${FEAST_REGISTRY_PG_PASSWORD}@postgres:5432/feast_registry"
    )
    assert config["online_store"]["connection_string"] == "redis:6379,password=${FEAST_REDIS_PASSWORD}"
    assert "s3cret" not in text

    monkeypatch.setenv("FEAST_REDIS_URL", "redis://cache:6380/2")
    expected = "cache:6380,password=${FEAST_REDIS_PASSWORD},db=2"
    assert fs.feature_store_config()["online_store"]["connection_string"] == expected
    monkeypatch.setenv("FEAST_REDIS_URL", "redis://:s3cret@cache:6380/2")
    with pytest.raises(ConfigError, match="FEAST_REDIS_PASSWORD"):
        fs.feature_store_config()

    # The YAML for the `feast` command (feast --chdir ml/feature_repo serve), here to another path.
    out = tmp_path / "feature_store.yaml"
    monkeypatch.setenv("FEAST_REDIS_URL", "127.0.0.1:6379")
    assert fs.main(["write-yaml", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["online_store"]["connection_string"] == "${FEAST_REDIS_URL}"
    assert fs.main(["bogus"]) == 2


def test_definitions_cover_only_contract_columns_and_services_are_versioned() -> None:
    from synthetic_mart import CORE_COLUMNS

    columns = [c for cols in VIEW_COLUMNS.values() for c in cols]
    assert len(columns) == len(set(columns)), "a column must belong to one view only"
    assert set(columns) - set(CORE_COLUMNS) == set(FLOW_COLUMNS)
    assert not any(c.startswith("target_") for c in columns), "labels are never features"
    assert set(SERVICES) == {"basic_v1", "ranker_v1", "realtime_v1"}
    ranker = [c for fields in SERVICES["ranker_v1"].values() for c in fields or []]
    assert set(ranker) == set(columns) - PRICE_LEVEL_COLUMNS, "the ranker uses every scale-free feature"


# --- point in time -------------------------------------------------------------------------------------------


def test_historical_retrieval_is_point_in_time(mart: pd.DataFrame, gogooku_home: Path) -> None:
    """An entity row at t gets the latest feature row stamped at or before t, never a later one."""
    code = mart["code"].iloc[0]
    days = sorted(mart["date"].unique())
    last, previous = days[-1], days[-2]
    later = _next_weekday(last)
    insert_rows(_later_row(mart, code, later))
    applied = fs.apply_repo()
    assert "flow_features" not in applied["feature_views"]
    assert applied["skipped_features"] == FLOW_COLUMNS

    close = fs.event_timestamp(last)
    entity = pd.DataFrame(
        {
            "code": [code, code, code, code],
            "event_timestamp": [
                close,  # the session close of the last day: that day's row
                close - timedelta(minutes=1),  # just before it: the previous day's row
                fs.event_timestamp(later) - timedelta(seconds=1),  # the later row is not stamped yet
                fs.event_timestamp(later),  # when it is
            ],
            "tag": ["at", "before", "just_before_later", "later"],
        }
    )
    result = fs.historical_features(entity, service="ranker_v1").set_index("tag")
    row = mart[mart["code"] == code].set_index("date")
    for feature in ("rsi_14", "ret_5d", "vol_20d", "beta_60d"):
        assert result.loc["at", feature] == pytest.approx(row.loc[last, feature])
        assert result.loc["before", feature] == pytest.approx(row.loc[previous, feature])
        assert result.loc["just_before_later", feature] == pytest.approx(row.loc[last, feature])
        assert result.loc["later", feature] == DISTINCT
    leaked = result.drop(index="later").select_dtypes("number").eq(DISTINCT).any(axis=None)
    assert not leaked, "a feature row dated after the entity timestamp leaked into the join"


def test_historical_retrieval_by_date_returns_that_days_row(mart: pd.DataFrame, gogooku_home: Path) -> None:
    fs.apply_repo()
    rng = np.random.default_rng(1)
    sample = mart.iloc[rng.choice(len(mart), 300, replace=False)][["code", "date", "target_ret_5d"]]
    result = fs.historical_features(sample, service="basic_v1")
    assert len(result) == len(sample)
    assert set(result.columns) == {"code", "date", "target_ret_5d", "event_timestamp", *[
        f for fields in SERVICES["basic_v1"].values() for f in fields or []
    ]}  # fmt: skip
    merged = result.merge(mart, on=["code", "date"], suffixes=("", "_mart"))
    np.testing.assert_allclose(merged["ret_5d"], merged["ret_5d_mart"])
    np.testing.assert_allclose(merged["target_ret_5d"], merged["target_ret_5d_mart"], equal_nan=True)


# --- materialization and online lookups ----------------------------------------------------------------------


def test_materialize_then_online_lookup_returns_latest_values(mart: pd.DataFrame, gogooku_home: Path) -> None:
    last = max(mart["date"])
    report = fs.materialize()
    assert report["online_store"] == "sqlite" and report["registry"] == "file"
    assert report["end"] == fs.event_timestamp(last).isoformat()
    assert {v["entities"] for v in report["views"].values()} == {40}
    assert (gogooku_home / "feast" / "online.db").exists()
    assert lock_holder(gogooku_home / "clickhouse") is None, "materialize must release the chDB directory"

    codes = sorted(mart["code"].unique())[:3]
    online = fs.online_features([*codes, "99990"])
    latest = mart[mart["date"] == last].set_index("code")
    assert online["code"] == [*codes, "99990"]
    for feature in ("ret_1d", "vol_20d", "beta_60d"):
        assert online[feature][:3] == pytest.approx([latest.loc[c, feature] for c in codes])
        assert online[feature][3] is None
    assert "rsi_14" not in online, "realtime_v1 serves no technical indicators"

    # A new day lands: the next materialize() is incremental and serves it.
    new_day = _next_weekday(last)
    insert_rows(_later_row(mart, codes[0], new_day))
    again = fs.materialize()
    assert again["views"]["price_features"]["start"] == report["end"]
    # Feast's window is closed at both ends: the previous end's rows are rewritten along with the new one.
    assert again["views"]["price_features"]["entities"] == 40
    online = fs.online_features(codes[:2], service="ranker_v1")
    assert online["rsi_14"][0] == DISTINCT
    assert online["rsi_14"][1] == pytest.approx(latest.loc[codes[1], "rsi_14"])

    # Nothing new: nothing to do.
    assert all(v.get("skipped") == "up to date" for v in fs.materialize()["views"].values())


def test_flow_view_is_applied_when_the_mart_has_flow_columns(gogooku_home: Path) -> None:
    frame = synthetic_mart(codes=5, days=30, flows=True)
    create_mart(frame)
    report = fs.materialize()
    assert "flow_features" in report["applied"]["feature_views"]
    assert report["skipped_features"] == []
    online = fs.online_features(["13010"], service="ranker_v1")
    last = frame[(frame["code"] == "13010")].iloc[-1]
    assert online["flow_foreigners_net_z"] == [pytest.approx(last["flow_foreigners_net_z"])]

    # The flow columns disappear (a rebuilt mart without them): the view is deleted from the registry.
    create_mart(frame.drop(columns=FLOW_COLUMNS))
    report = fs.materialize()
    assert "flow_features" in report["applied"]["deleted"]
    with fs.feature_store() as store:
        assert "flow_features" not in {v.name for v in store.list_feature_views()}


def test_redis_online_store(
    mart: pd.DataFrame, gogooku_home: Path, redis_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = f"gogooku_test_{secrets.token_hex(4)}"
    monkeypatch.setenv("FEAST_PROJECT", project)
    monkeypatch.setenv("FEAST_REDIS_URL", "127.0.0.1:6379")
    pattern = b"*" + project.encode()
    try:
        report = fs.materialize()
        assert report["online_store"] == "redis" and report["project"] == project
        assert len(list(redis_client.scan_iter(pattern))) == 40  # one hash per code

        last = max(mart["date"])
        codes = sorted(mart["code"].unique())[-2:]
        online = fs.online_features(codes)
        latest = mart[mart["date"] == last].set_index("code")
        assert online["ret_20d"] == pytest.approx([latest.loc[c, "ret_20d"] for c in codes])

        with fs.feature_store() as store:
            store.teardown()
        assert list(redis_client.scan_iter(pattern)) == []
    finally:
        keys = list(redis_client.scan_iter(pattern))
        if keys:
            redis_client.delete(*keys)


def test_sql_registry_on_postgresql(
    mart: pd.DataFrame, gogooku_home: Path, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{postgres_database}"
    monkeypatch.setenv("FEAST_REGISTRY_URL", url)
    report = fs.materialize()
    assert report["registry"] == "sql"
    assert not (gogooku_home / "feast" / "registry.db").exists()

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{postgres_database}") as conn:
        views = {r[0] for r in conn.execute("select feature_view_name from feature_views where project_id = 'gogooku'")}
        services = {r[0] for r in conn.execute("select feature_service_name from feature_services")}
    assert views == {"price_features", "technical_features", "market_relative_features", "volatility_features"}
    assert services == {"basic_v1", "ranker_v1", "realtime_v1"}

    # A fresh store reads the registry back from PostgreSQL and serves from it.
    online = fs.online_features([mart["code"].iloc[0]], service="basic_v1")
    assert online["ret_5d"][0] is not None


# --- the upstream workaround ---------------------------------------------------------------------------------


def test_feast_client_guard_and_release(
    mart: pd.DataFrame, gogooku_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """feast 0.67 closes its own cached ClickHouse client (`with get_client(...)` in ClickhouseSource) and never
    notices; the guard replaces a closed or other-directory client, and release frees the chDB directory."""
    from feast.infra.utils.clickhouse import connection_utils

    from ml.feature_repo.features import fct_daily_features_source

    with fs.feature_store() as store:
        for _ in range(2):  # without the guard the second call fails: "The client has been closed"
            columns = dict(fct_daily_features_source.get_table_column_names_and_types(store.config))
        assert columns["event_timestamp"] == "DateTime64(0, 'Asia/Tokyo')"
        assert connection_utils.get_client(store.config.offline_store).query("select 1").result_rows == [(1,)]
        assert lock_holder(gogooku_home / "clickhouse") is not None, "Feast's client holds the directory"
    assert lock_holder(gogooku_home / "clickhouse") is None
    assert not hasattr(connection_utils.thread_local, "clickhouse_client")

    # Another GOGOOKU_HOME in the same thread: the cached client of the first directory is not reused.
    first = fs.get_store()
    connection_utils.get_client(first.config.offline_store).query("select 1")
    monkeypatch.setenv("GOGOOKU_HOME", str(tmp_path / "other_home"))
    second = fs.get_store()
    client = connection_utils.get_client(second.config.offline_store)
    assert Path(client.path) == (tmp_path / "other_home" / "clickhouse").resolve()
    assert client.query("select count() from system.databases where name = 'marts'").result_rows == [(0,)]
    fs.release_offline_client()
    assert lock_holder(gogooku_home / "clickhouse") is None
