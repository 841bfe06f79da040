"""Fixtures for ml/: a fresh GOGOOKU_HOME (from tests/conftest.py) holding the synthetic feature mart
(synthetic_mart.py), a throwaway PostgreSQL database and a Redis client.

Every warehouse access goes through `open_warehouse()`, and Feast's cached chDB client is released after each
test (chDB: one data directory per process at a time).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from synthetic_mart import create_mart, synthetic_mart


@pytest.fixture(autouse=True)
def _release_feast_client() -> Iterator[None]:
    """Whatever a test did, leave no Feast chDB client open for the next test's directory."""
    yield
    from ml.feature_store import release_offline_client

    release_offline_client()


@pytest.fixture
def mart(gogooku_home: Path) -> pd.DataFrame:
    """A fresh GOGOOKU_HOME whose warehouse holds the synthetic mart (strong signal); returns its rows."""
    frame = synthetic_mart()
    create_mart(frame)
    return frame


PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _postgres_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"needs PostgreSQL at 127.0.0.1:5432: {exc}")


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A throwaway PostgreSQL database (dropped afterwards); yields its name."""
    import secrets

    import psycopg

    _postgres_or_skip()
    name = f"gogooku_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def redis_client() -> Iterator[object]:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.skip(f"needs Redis at 127.0.0.1:6379: {exc}")
    try:
        yield client
    finally:
        client.close()
