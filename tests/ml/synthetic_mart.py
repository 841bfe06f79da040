"""A synthetic `marts.fct_daily_features` for the ml/ tests, created directly in chDB.

The contract's core columns for 40 codes over 300 trading days (random values, warm-up NULLs, labels NULL until
known). `target_ret_5d` is driven by `rsi_14` (plus noise) with a tunable strength, so a model can learn something
and a weaker signal makes a measurably worse model. (A module of its own, not conftest.py: several test
directories have a conftest, so `from conftest import ...` would depend on which was imported first.)
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from gogooku.warehouse import open_warehouse

MART = "marts.fct_daily_features"
CODES = 40
DAYS = 300
START = date(2023, 1, 4)
SIGNAL_FEATURE = "rsi_14"

CORE_COLUMNS = [
    *("ret_1d", "ret_5d", "ret_10d", "ret_20d", "ret_60d", "log_ret_1d"),
    *("sma_5", "sma_10", "sma_20", "sma_60", "sma_120", "ema_5", "ema_10", "ema_20", "ema_60", "ema_200"),
    *("macd", "macd_signal", "macd_hist", "rsi_2", "rsi_14"),
    *("bb_upper_20", "bb_middle_20", "bb_lower_20", "bb_pct_b_20", "atr_14", "natr_14"),
    *("adx_14", "plus_di_14", "minus_di_14", "stoch_k", "stoch_d"),
    *("willr_14", "cci_20", "mfi_14", "roc_10", "mom_10", "obv"),
    *("vol_20d", "vol_60d", "sharpe_20d", "sharpe_60d", "volume_ratio_20"),
    *("topix_ret_1d", "topix_ret_20d", "beta_60d", "alpha_20d", "alpha_60d", "rel_strength_20d", "corr_topix_60d"),
]
TARGETS = ["target_ret_1d", "target_ret_5d", "target_ret_20d"]
FLOW_COLUMNS = ["flow_foreigners_net_z", "flow_individuals_net_z"]
# Rows of warm-up (NULL) at the start of each code, for columns whose name ends in a window length.
WARMUP = {"sma_120": 119, "ema_200": 199, "ret_60d": 60, "vol_60d": 60, "sharpe_60d": 60, "beta_60d": 59}


def trading_days(n: int = DAYS, start: date = START) -> list[date]:
    days, d = [], start
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def synthetic_mart(
    codes: int = CODES, days: int = DAYS, signal: float = 1.0, seed: int = 0, flows: bool = False
) -> pd.DataFrame:
    """Rows of the mart: random features; `target_ret_5d = signal * 0.02 * z(rsi_14) + 0.03 * noise`."""
    rng = np.random.default_rng(seed)
    dates = trading_days(days)
    n = codes * days
    frame = pd.DataFrame(
        {
            "code": np.repeat([f"{1301 + 10 * i:04d}0" for i in range(codes)], days),
            "date": np.tile(dates, codes),
        }
    )
    for column in CORE_COLUMNS + (FLOW_COLUMNS if flows else []):
        frame[column] = rng.normal(0.0, 1.0, n)
    z = frame[SIGNAL_FEATURE].to_numpy()
    frame[SIGNAL_FEATURE] = 50.0 + 15.0 * z
    frame["target_ret_1d"] = signal * 0.005 * z + 0.015 * rng.normal(size=n)
    frame["target_ret_5d"] = signal * 0.02 * z + 0.03 * rng.normal(size=n)
    frame["target_ret_20d"] = signal * 0.04 * z + 0.06 * rng.normal(size=n)
    day_index = np.tile(np.arange(days), codes)
    for column, warmup in WARMUP.items():
        frame.loc[day_index < warmup, column] = np.nan
    for column, horizon in (("target_ret_1d", 1), ("target_ret_5d", 5), ("target_ret_20d", 20)):
        frame.loc[day_index >= days - horizon, column] = np.nan  # NULL until known
    return frame


def create_mart(frame: pd.DataFrame) -> None:
    """(Re)create `marts.fct_daily_features` holding `frame` (all value columns Nullable(Float64))."""
    value_columns = [c for c in frame.columns if c not in ("code", "date")]
    ddl = ", ".join(f"`{c}` Nullable(Float64)" for c in value_columns)
    with open_warehouse(wait_s=5) as client:
        client.command("create database if not exists marts")
        client.command(f"drop table if exists {MART}")
        client.command(f"create table {MART} (code String, date Date, {ddl}) engine = MergeTree order by (code, date)")
        client.insert_df(MART, frame)


def insert_rows(frame: pd.DataFrame) -> None:
    with open_warehouse(wait_s=5) as client:
        client.insert_df(MART, frame)
