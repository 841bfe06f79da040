"""End-to-end tests of the feature mart `marts.fct_daily_features`, built by dbt from a landed sample market.

One sample market (25 codes, 2022-06-01..2024-03-29, seed 11: 1:2 and 1:5 splits, a 3:1 consolidation, a late
listing, delistings and days without trades), plus a 1:2 split injected a few sessions before the end, is
landed into ONE warehouse in three slices by date, and dbt builds after each slice:

1. bulk rows dated <= CUTOFF: first build (the incremental mart starts from nothing) -> `first`;
2. rows in (CUTOFF, MIDPOINT]: incremental build with the Dagster window vars [CUTOFF + 1, MIDPOINT + 1) -> `windowed`;
3. rows after MIDPOINT: incremental build without vars -> `incremental`;
4. `--full-refresh` of fct_daily_features on the same data -> `full`, the table the oracle tests read.

Tests:
- TA-Lib oracle: every indicator of every traded row equals TA-Lib (and numpy for the return statistics) fed
  the code's series adjusted as of its last date T, level features converted from the units of date t;
- days without trades repeat the last traded session's features and carry no labels;
- look-ahead: rows up to 25 sessions before CUTOFF are identical after later data (splits included) is landed;
- incremental equals full refresh, row for row.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from talib_oracle import talib_indicators

from gogooku.cli import dbt_env
from gogooku.settings import DBT_PROJECT_DIR, DBT_SKIP_UNIT_TESTS
from gogooku.warehouse import open_warehouse
from ingestion.ingest import bulk_files, dataset_of_file, ingest_bulk
from ingestion.sample import trading_days, write_sample_market
from ingestion.schema import DATASETS

talib = pytest.importorskip("talib")

pytestmark = pytest.mark.slow

CODES = 25
START = date(2022, 6, 1)
END = date(2024, 3, 29)
SEED = 11
CUTOFF = date(2023, 9, 29)  # D: the first build sees bulk rows dated <= D
MIDPOINT = date(2023, 12, 15)  # the windowed incremental build adds (D, MIDPOINT]
INJECTED_FACTOR = 0.5  # a 1:2 split injected INJECTED_EX_SESSIONS before the sample's last session
INJECTED_EX_SESSIONS = 4
LOOKAHEAD_MARGIN = 25  # sessions before D whose rows must never change (labels reach 20 sessions ahead)

RTOL = 1e-6
ZERO_FLOOR = 1e-3  # below this fraction of an indicator's natural scale a value counts as zero
SQRT252 = math.sqrt(252)

FEATURES = "marts.fct_daily_features"
PRICES = "marts.fct_daily_prices_adjusted"
TOPIX = "marts.fct_topix_daily"
KEY = ["code", "date"]
TARGETS = ["target_ret_1d", "target_ret_5d", "target_ret_20d"]
TARGET_HORIZONS = {"target_ret_1d": 1, "target_ret_5d": 5, "target_ret_20d": 20}

# Features of the traded session itself (int_sessions_indicators): a day without trades repeats them. Columns from
# the date itself (TOPIX, sector, flows, statements, cross-sectional ranks) are excluded.
SESSION_COLUMNS = [
    *(f"ret_{n}d" for n in (1, 5, 10, 20, 60)),
    "log_ret_1d",
    *(f"sma_{n}" for n in (5, 10, 20, 60, 120)),
    *(f"ema_{n}" for n in (5, 10, 20, 60, 200)),
    "macd",
    "macd_signal",
    "macd_hist",
    "rsi_2",
    "rsi_14",
    "bb_upper_20",
    "bb_middle_20",
    "bb_lower_20",
    "bb_pct_b_20",
    "atr_14",
    "natr_14",
    "adx_14",
    "plus_di_14",
    "minus_di_14",
    "stoch_k",
    "stoch_d",
    "willr_14",
    "cci_20",
    "mfi_14",
    "roc_10",
    "mom_10",
    "obv",
    "vol_20d",
    "vol_60d",
    "sharpe_20d",
    "sharpe_60d",
    "volume_ratio_20",
    "beta_60d",
    "corr_topix_60d",
    "ma_gap_20",
    "ema_gap_200",
    "sma_slope_20",
    "parkinson_vol_20d",
    "drawdown_252d",
    "aroon_osc_25",
    "donchian_upper_20",
    "keltner_upper_20",
    "cmf_20",
    "amihud_20",
    "up_ratio_20",
    "ret_skew_60d",
]

# Level features: the mart holds them in the units of date t, TA-Lib (fed the series adjusted as of T) in those of T.
PRICE_LEVELS = {
    *(f"sma_{n}" for n in (5, 10, 20, 60, 120)),
    *(f"ema_{n}" for n in (5, 10, 20, 60, 200)),
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper_20",
    "bb_middle_20",
    "bb_lower_20",
    "atr_14",
    "mom_10",
    "donchian_upper_20",
    "donchian_lower_20",
    "keltner_upper_20",
    "keltner_lower_20",
}
VOLUME_LEVELS = {"obv"}


# --- building ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    first: pl.DataFrame  # fct_daily_features after the first build (bulk rows <= CUTOFF)
    windowed: pl.DataFrame  # after the incremental build with vars [CUTOFF + 1, MIDPOINT + 1)
    incremental: pl.DataFrame  # after the incremental build without vars (all data)
    full: pl.DataFrame  # after --full-refresh on the same data
    prices: pl.DataFrame  # fct_daily_prices_adjusted (all data)
    topix: pl.DataFrame  # fct_topix_daily (all data)
    injected: tuple[str, date]  # (code, ex-date) of the injected split


def _day(col: str) -> pl.Expr:
    """A bulk day field ("YYYY-MM-DD" or "YYYYMMDD") as a Date."""
    text = pl.col(col)
    return pl.coalesce(text.str.to_date("%Y-%m-%d", strict=False), text.str.to_date("%Y%m%d", strict=False))


def _read_bulk(directory: Path) -> dict[str, pl.DataFrame]:
    """{dataset: all rows of its bulk files, as text}."""
    parts: dict[str, list[pl.DataFrame]] = {}
    for path in bulk_files(directory):
        ds = dataset_of_file(path)
        assert ds is not None, path
        parts.setdefault(ds.name, []).append(pl.read_csv(path, infer_schema=False))
    return {name: pl.concat(frames, how="diagonal") for name, frames in parts.items()}


def _inject_split(bars: pl.DataFrame) -> tuple[pl.DataFrame, str, date]:
    """A 1:2 split (AdjFactor 0.5, raw prices halved and volume doubled from the ex-date on) for a code that has
    no corporate action of its own and trades on the last sessions."""
    days = trading_days(START, END)
    ex = days[-INJECTED_EX_SESSIONS]
    typed = bars.with_columns(_day("Date").alias("_day"), pl.col("AdjFactor").cast(pl.Float64).alias("_f"))
    per_code = typed.group_by("Code").agg(
        (pl.col("_f") != 1).any().alias("has_event"),
        pl.col("_day").max().alias("last"),
        pl.col("C").filter(pl.col("_day") >= days[-INJECTED_EX_SESSIONS - 1]).null_count().alias("no_trade"),
    )
    candidates = per_code.filter(~pl.col("has_event") & (pl.col("last") == days[-1]) & (pl.col("no_trade") == 0))
    code = sorted(candidates["Code"].to_list())[0]
    after = (pl.col("Code") == code) & (pl.col("_day") >= ex)

    def halved(col: str) -> pl.Expr:
        return pl.when(after).then((pl.col(col).cast(pl.Float64) / 2).cast(pl.String)).otherwise(pl.col(col))

    out = typed.with_columns(
        *(halved(c).alias(c) for c in ("O", "H", "L", "C")),
        pl.when(after).then((pl.col("Vo").cast(pl.Int64) * 2).cast(pl.String)).otherwise(pl.col("Vo")).alias("Vo"),
        pl.when(after & (pl.col("_day") == ex))
        .then(pl.lit(str(INJECTED_FACTOR)))
        .otherwise(pl.col("AdjFactor"))
        # the J-Quants Adj* columns are left stale on purpose: dbt must not read them
        .alias("AdjFactor"),
    ).drop("_day", "_f")
    return out, code, ex


def _write_slices(frames: dict[str, pl.DataFrame], root: Path) -> list[Path]:
    """Bulk directories of the rows dated <= CUTOFF, in (CUTOFF, MIDPOINT] and after MIDPOINT (by the day field)."""
    bounds = [(None, CUTOFF), (CUTOFF, MIDPOINT), (MIDPOINT, None)]
    dirs = []
    for k, (lo, hi) in enumerate(bounds, start=1):
        out = root / f"slice_{k}"
        out.mkdir()
        for name, frame in frames.items():
            day = _day(DATASETS[name].day_field)
            keep = frame.filter(
                (day > lo if lo is not None else pl.lit(True)) & (day <= hi if hi is not None else pl.lit(True))
            )
            if keep.height:
                keep.write_csv(out / f"{name}_slice{k}.csv")
        dirs.append(out)
    return dirs


def _land(directory: Path) -> None:
    with open_warehouse() as client:
        report = ingest_bulk(client, directory)
    assert not report.errors, report.errors
    assert report.rows.get("equities_bars_daily"), f"no bars landed from {directory}"


def _dbt(*args: str) -> None:
    """dbt in dbt_project/ as a subprocess (like gogooku.cli.run_dbt), output kept for the failure message."""
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [str(dbt) if dbt.exists() else "dbt", *args],
        cwd=DBT_PROJECT_DIR,
        env=dbt_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"dbt {' '.join(args)} failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"


def _query(sql: str) -> pl.DataFrame:
    with open_warehouse() as client:
        frame = pl.from_arrow(client.query_arrow(sql))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _features() -> pl.DataFrame:
    return _query(f"select * from {FEATURES} order by code, date")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("feature_mart")
    sample_dir = root / "sample"
    write_sample_market(sample_dir, codes=CODES, start=START, end=END, seed=SEED)
    frames = _read_bulk(sample_dir)
    frames["equities_bars_daily"], code, ex = _inject_split(frames["equities_bars_daily"])
    slices = _write_slices(frames, root)

    # unit tests check the SQL on fixed rows (tests/dbt/test_unit_tests.py runs them): no need in every build here
    select = ["--select", "+fct_daily_features", *DBT_SKIP_UNIT_TESTS]
    # int_sessions_indicators filled in several buckets of codes, as at full-market scale (one bucket here otherwise)
    buckets = {"indicator_rows_per_bucket": 2000}
    window = {"min_date": str(CUTOFF + timedelta(days=1)), "max_date": str(MIDPOINT + timedelta(days=1))}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOGOOKU_HOME", str(root / "gogooku_home"))
        mp.setenv("GOGOOKU_TARGET", "embedded")
        mp.setenv("DBT_TARGET_PATH", str(root / "dbt_target"))
        mp.setenv("DBT_LOG_PATH", str(root / "dbt_logs"))
        mp.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

        _land(slices[0])
        _dbt("build", *select, "--vars", json.dumps(buckets))
        first = _features()

        _land(slices[1])
        _dbt("build", *select, "--vars", json.dumps({**buckets, **window}))
        windowed = _features()

        _land(slices[2])
        _dbt("build", *select, "--vars", json.dumps(buckets))
        incremental = _features()

        _dbt("build", "--select", "fct_daily_features", "--full-refresh")
        full = _features()
        prices = _query(f"select * from {PRICES} order by code, date")
        topix = _query(f"select * from {TOPIX} order by date")
    return Built(first, windowed, incremental, full, prices, topix, (code, ex))


# --- comparing --------------------------------------------------------------------------------------------------


def _float_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c, t in frame.schema.items() if t.is_float()]


def _same(a: pl.Expr, b: pl.Expr, is_float: bool = True) -> pl.Expr:
    """Exactly equal, NULL matching NULL (and NaN matching NaN for floats)."""
    equal = (a == b) | (a.is_nan() & b.is_nan()) if is_float else a == b
    return pl.when(a.is_null() | b.is_null()).then(a.is_null() & b.is_null()).otherwise(equal)


def _differences(left: pl.DataFrame, right: pl.DataFrame, columns: list[str], rtol: float = 0.0) -> dict[str, str]:
    """{column: first difference} between the rows of `left` and `right` joined on (code, date).

    rtol 0 is exact equality (NULL = NULL); otherwise floats may differ by rtol relative."""
    joined = left.select(*KEY, *columns).join(right.select(*KEY, *columns), on=KEY, how="inner", suffix="_r")
    assert joined.height == left.height, "rows missing on the right"
    out = {}
    for col in columns:
        a, b = pl.col(col), pl.col(f"{col}_r")
        ok = _same(a, b, left.schema[col].is_float())
        if rtol and left.schema[col].is_float():
            ok = ok | ((a - b).abs() <= rtol * pl.max_horizontal(a.abs(), b.abs()))
        bad = joined.filter(~ok.fill_null(False))
        if bad.height:
            row = bad.row(0, named=True)
            out[col] = (
                f"{bad.height} rows differ, e.g. {row['code']} {row['date']}: {row[col]!r} vs {row[f'{col}_r']!r}"
            )
    return out


def _rolling(n: int, fn, *cols: np.ndarray) -> np.ndarray:
    """fn over every trailing window of n rows (axis 1 of the window views); NaN where a window holds a NaN."""
    out = np.full(cols[0].size, np.nan)
    if cols[0].size >= n:
        views = [sliding_window_view(c, n) for c in cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[n - 1 :] = fn(*views)
    return out


def _lagged_ratio(c: np.ndarray, n: int) -> np.ndarray:
    """c(t) / c(t - n) - 1 (t + n with negative n), NaN where out of range."""
    out = np.full(c.size, np.nan)
    if n > 0:
        out[n:] = c[n:] / c[:-n] - 1
    else:
        out[: c.size + n] = c[-n:] / c[: c.size + n] - 1
    return out


def _expected(sessions: pl.DataFrame) -> dict[str, tuple[np.ndarray, float]]:
    """{feature: (reference values on the series adjusted as of the code's last date, natural scale)}."""
    h, lo, c, v = (sessions[col].to_numpy().astype(float) for col in ("adj_high", "adj_low", "adj_close", "adj_volume"))
    tret_1d = sessions["topix_ret_1d"].to_numpy().astype(float)
    price, ret, one = float(np.median(c)), 0.01, 1.0
    exp = talib_indicators(h, lo, c, v)
    with np.errstate(invalid="ignore", divide="ignore"):
        upper, lower = exp["bb_upper_20"][0], exp["bb_lower_20"][0]
        width = np.where(upper - lower == 0, np.nan, upper - lower)
        exp["bb_pct_b_20"] = ((c - lower) / width, one)

    # return statistics per the contract, numpy two-pass
    r1 = _lagged_ratio(c, 1)
    for n in (1, 5, 10, 20, 60):
        exp[f"ret_{n}d"] = (_lagged_ratio(c, n), ret)
    with np.errstate(invalid="ignore"):
        exp["log_ret_1d"] = (np.concatenate([[np.nan], np.log(c[1:] / c[:-1])]), ret)
    for n in (20, 60):
        std = _rolling(n, lambda x: np.std(x, axis=1, ddof=1), r1)
        mean = _rolling(n, lambda x: np.mean(x, axis=1), r1)
        exp[f"vol_{n}d"] = (std * SQRT252, 0.1)
        with np.errstate(invalid="ignore", divide="ignore"):
            exp[f"sharpe_{n}d"] = (np.where(std == 0, np.nan, mean / std) * SQRT252, one)
    sma_v = talib.SMA(v, 20)
    with np.errstate(invalid="ignore", divide="ignore"):
        exp["volume_ratio_20"] = (np.where(sma_v == 0, np.nan, v / sma_v), one)

    def cov(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.mean((x - x.mean(axis=1, keepdims=True)) * (y - y.mean(axis=1, keepdims=True)), axis=1)

    var_t = _rolling(60, lambda y: np.var(y, axis=1), tret_1d)
    var_r = _rolling(60, lambda x: np.var(x, axis=1), r1)
    cov_rt = _rolling(60, cov, r1, tret_1d)
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = np.where(var_t > 0, cov_rt / var_t, np.nan)
        corr = np.where((var_t > 0) & (var_r > 0), cov_rt / np.sqrt(var_r * var_t), np.nan)
    exp["beta_60d"] = (beta, one)
    exp["corr_topix_60d"] = (corr, one)
    exp["topix_ret_1d"] = (tret_1d, ret)
    tret_20d = sessions["topix_ret_20d"].to_numpy().astype(float)
    tret_60d = sessions["topix_ret_60d"].to_numpy().astype(float)
    exp["topix_ret_20d"] = (tret_20d, ret)
    exp["alpha_20d"] = (exp["ret_20d"][0] - beta * tret_20d, ret)
    exp["alpha_60d"] = (exp["ret_60d"][0] - beta * tret_60d, ret)
    exp["rel_strength_20d"] = (exp["ret_20d"][0] - tret_20d, ret)
    for col, n in TARGET_HORIZONS.items():
        exp[col] = (_lagged_ratio(c, -n), ret)

    # documented features derived from the indicators (fct_daily_features.yml)
    with np.errstate(invalid="ignore", divide="ignore"):
        for n in (5, 20, 60, 120):
            exp[f"ma_gap_{n}"] = (c / exp[f"sma_{n}"][0] - 1, ret)
        exp["ema_gap_200"] = (c / exp["ema_200"][0] - 1, ret)
        exp["sma_cross_5_20"] = (exp["sma_5"][0] / exp["sma_20"][0] - 1, ret)
        for n in (20, 60):
            exp[f"sma_slope_{n}"] = (_lagged_ratio(exp[f"sma_{n}"][0], 5), ret)
        upper, lower = talib.MAX(h, 20), talib.MIN(lo, 20)
        exp["donchian_upper_20"] = (upper, price)
        exp["donchian_lower_20"] = (lower, price)
        exp["donchian_pos_20"] = ((c - lower) / np.where(upper == lower, np.nan, upper - lower), one)
        exp["keltner_upper_20"] = (exp["ema_20"][0] + 2 * exp["atr_14"][0], price)
        exp["keltner_lower_20"] = (exp["ema_20"][0] - 2 * exp["atr_14"][0], price)
        exp["drawdown_252d"] = (c / talib.MAX(c, 252) - 1, ret)
        exp["dist_52w_high"] = (c / talib.MAX(h, 252) - 1, ret)
        exp["dist_52w_low"] = (c / talib.MIN(lo, 252) - 1, ret)
    return exp


def _scale_factors(prices: pl.DataFrame) -> pl.DataFrame:
    """prices with F(t) = prod_{t < s <= T} adj_factor(s), T the code's last date: as-of-T = as-of-t x F(t)."""
    later = pl.col("adj_factor").shift(-1, fill_value=1.0).over("code")
    return (
        prices.sort(KEY)
        .with_columns(later.alias("F"))
        .with_columns(pl.col("F").reverse().cum_prod().reverse().over("code"))
    )


# --- tests ------------------------------------------------------------------------------------------------------


def test_sample_preconditions(built: Built) -> None:
    """The sample holds what the other tests need: splits of each kind (some after the cutoff), idle days,
    a late listing, a delisting, and series long enough for EMA(200) and 252-session windows."""
    prices, full = built.prices, built.full
    splits = prices.filter(pl.col("adj_factor") != 1)
    assert splits.height >= 2, "the sample should hold corporate actions"
    assert {0.5, 0.2, 3.0} <= set(splits["adj_factor"].to_list()), splits
    assert splits.filter(pl.col("date") > CUTOFF).height >= 2, "splits must follow the look-ahead cutoff"
    code, ex = built.injected
    assert splits.filter((pl.col("code") == code) & (pl.col("date") == ex))["adj_factor"].to_list() == [INJECTED_FACTOR]
    assert prices.filter(pl.col("close").is_null()).height > 0, "the sample should hold days without trades"
    spans = prices.group_by("code").agg(pl.col("date").min().alias("first"), pl.col("date").max().alias("last"))
    assert spans.filter(pl.col("first") > START).height > 0, "the sample should hold a late listing"
    assert spans.filter(pl.col("last") < END - timedelta(days=5)).height > 0, "the sample should hold a delisting"
    assert full.height == prices.height, "one feature row per listed day"
    assert full["ema_200"].drop_nulls().len() > 0 and full["drawdown_252d"].drop_nulls().len() > 0


def test_indicators_match_talib_on_the_series_adjusted_as_of_the_last_date(built: Built) -> None:
    """Every traded row against TA-Lib / numpy on the code's series adjusted as of its last date T: level features
    (units of date t) times F(t) = prod_{t<s<=T} adj_factor(s), volume levels divided by it, ratios as they are."""
    full, prices, topix = built.full, _scale_factors(built.prices), built.topix

    # no NaN or inf anywhere in the mart: a missing value is NULL
    for col in _float_columns(full):
        bad = full.filter(pl.col(col).is_nan() | pl.col(col).is_infinite())
        assert bad.height == 0, f"{col}: {bad.height} NaN/inf values, e.g. {bad.select(*KEY, col).row(0)}"

    traded = prices.filter(pl.col("close").is_not_null()).join(
        topix.select(
            "date",
            pl.col("ret_1d").alias("topix_ret_1d"),
            pl.col("ret_20d").alias("topix_ret_20d"),
            pl.col("ret_60d").alias("topix_ret_60d"),
        ),
        on="date",
        how="left",
    )
    rows = full.filter(pl.col("session_date") == pl.col("date"))
    assert rows.height == traded.height, "one traded feature row per traded session"
    assert prices.filter(pl.col("F") != 1).height > 0, "some rows must be in units other than the last date's"

    failures: list[str] = []
    worst: dict[str, float] = {}
    for code in traded["code"].unique(maintain_order=True).sort():
        sessions = traded.filter(pl.col("code") == code).sort("date")
        have_rows = rows.filter(pl.col("code") == code).sort("date")
        assert have_rows["date"].to_list() == sessions["date"].to_list(), code
        factor = sessions["F"].to_numpy()
        for column, (want, scale) in _expected(sessions).items():
            have = have_rows[column].cast(pl.Float64).to_numpy()
            if column in PRICE_LEVELS:
                have = have * factor
            elif column in VOLUME_LEVELS:
                have = have / factor
            null_mismatch = np.flatnonzero(np.isnan(have) != np.isnan(want))
            if null_mismatch.size:
                i = int(null_mismatch[0])
                failures.append(
                    f"{code} {column}: NULL/NaN differ on {null_mismatch.size} rows, first {sessions['date'][i]} "
                    f"(mart {have[i]}, reference {want[i]})"
                )
                continue
            ok = ~np.isnan(want)
            if not ok.any():
                continue
            rel = np.abs(have[ok] - want[ok]) / np.maximum(np.abs(want[ok]), ZERO_FLOOR * scale)
            worst[column] = max(worst.get(column, 0.0), float(rel.max()))
            if rel.max() > RTOL:
                i = int(np.flatnonzero(ok)[rel.argmax()])
                failures.append(
                    f"{code} {column}: rel err {rel.max():.3g} on {sessions['date'][i]} "
                    f"(mart as of T {have[i]!r}, reference {want[i]!r})"
                )

    print(f"\nmax relative error per feature (floor {ZERO_FLOOR:g} of scale), {traded.height} traded rows:")
    for column, err in sorted(worst.items()):
        print(f"  {column:20s} {err:.2e}")
    assert not failures, "\n".join(failures[:40]) + (f"\n... {len(failures)} in all" if len(failures) > 40 else "")
    assert len(worst) >= 65, sorted(worst)


def test_days_without_trades_repeat_the_last_traded_session(built: Built) -> None:
    """A listed day without trades points at the last traded session, repeats its features and has no labels."""
    full, prices = built.full, built.prices
    # the last traded session on or before each listed day, from the prices mart
    last_traded = (
        prices.sort(KEY)
        .with_columns(
            pl.when(pl.col("close").is_not_null())
            .then(pl.col("date"))
            .otherwise(None)
            .forward_fill()
            .over("code")
            .alias("expected_session")
        )
        .select(*KEY, "expected_session")
    )
    checked = full.join(last_traded, on=KEY, how="left")
    wrong = checked.filter(pl.col("session_date") != pl.col("expected_session"))
    assert wrong.height == 0, wrong.select(*KEY, "session_date", "expected_session").head(10)

    idle = full.filter(pl.col("session_date") < pl.col("date"))
    assert idle.height > 0, "the sample should hold days without trades"
    for col in TARGETS:
        assert idle[col].null_count() == idle.height, f"{col} must be NULL on a day without trades"

    source = full.select(pl.col("code"), pl.col("date").alias("session_date"), *SESSION_COLUMNS)
    repeated = idle.select("code", "date", "session_date", *SESSION_COLUMNS).join(
        source, on=["code", "session_date"], how="inner", suffix="_src"
    )
    assert repeated.height == idle.height
    assert repeated["sma_20"].drop_nulls().len() > 0, "some idle day should come after a full window"
    diffs = {}
    for col in SESSION_COLUMNS:
        bad = repeated.filter(~_same(pl.col(col), pl.col(f"{col}_src"), repeated.schema[col].is_float()))
        if bad.height:
            diffs[col] = bad.select("code", "date", "session_date", col, f"{col}_src").row(0)
    assert not diffs, diffs


def test_features_are_point_in_time_when_later_data_and_splits_land(built: Built) -> None:
    """Rows built from the data up to CUTOFF keep every feature after later data, splits included, is landed; labels
    are NULL until their horizon is landed and final from then on."""
    first, full, prices = built.first, built.full, built.prices
    sessions = sorted(built.topix.filter(pl.col("date") <= CUTOFF)["date"].to_list())
    assert first["date"].max() == sessions[-1], "the first build must see exactly the rows up to the cutoff"
    record_until = sessions[-1 - LOOKAHEAD_MARGIN]
    recorded = first.filter(pl.col("date") <= record_until)

    # what makes the test bite: later splits of codes whose earlier rows are recorded
    later_splits = prices.filter((pl.col("date") > CUTOFF) & (pl.col("adj_factor") != 1))
    assert set(later_splits["code"]) & set(recorded["code"]), "a code with recorded rows must split after the cutoff"

    assert recorded.columns == full.columns
    features = [c for c in recorded.columns if c not in KEY and c not in TARGETS]
    exact = _differences(recorded, full, features)
    if exact:
        near = _differences(recorded, full, features, rtol=1e-12)
        assert not near, f"features changed after later data landed (beyond 1e-12): {near}"
        warnings.warn(f"point-in-time features equal to 1e-12 relative but not exactly: {exact}", stacklevel=1)

    # labels: known at the cutoff iff the N-th next traded session was landed, and then final
    traded_after = (
        prices.filter(pl.col("close").is_not_null() & (pl.col("date") <= CUTOFF))
        .sort(KEY)
        .with_columns((pl.len().over("code") - 1 - pl.int_range(pl.len()).over("code")).alias("sessions_after"))
        .select(*KEY, "sessions_after")
    )
    labelled = recorded.join(traded_after, on=KEY, how="left").join(
        full.select(*KEY, *TARGETS), on=KEY, how="left", suffix="_final"
    )
    for col, n in TARGET_HORIZONS.items():
        known = pl.col("sessions_after").fill_null(-1) >= n
        bad_null = labelled.filter(known != pl.col(col).is_not_null())
        assert bad_null.height == 0, f"{col}: known at the cutoff iff {n} sessions followed\n{bad_null.head(5)}"
        changed = labelled.filter(known & ~_same(pl.col(col), pl.col(f"{col}_final")))
        assert changed.height == 0, f"{col}: a label known at the cutoff changed later\n{changed.head(5)}"
        assert labelled.filter(known).height > 0


def test_incremental_builds_equal_the_full_refresh(built: Built) -> None:
    """Three incremental builds (first, windowed by vars, without vars) leave the table a full refresh builds."""
    incremental, full, windowed = built.incremental, built.full, built.windowed
    assert incremental.columns == full.columns
    assert incremental.schema == full.schema
    assert incremental.height == full.height, (incremental.height, full.height)
    assert incremental.select(KEY).equals(full.select(KEY)), "the same (code, date) rows"
    assert incremental.select(pl.struct(KEY).is_unique().all()).item()
    columns = [c for c in full.columns if c not in KEY]
    diffs = _differences(incremental, full, columns)
    assert not diffs, f"incremental differs from the full refresh: {diffs}"

    # the windowed build covered (CUTOFF, MIDPOINT] and nothing later, without losing rows before it
    sessions = sorted(built.topix.filter(pl.col("date") <= MIDPOINT)["date"].to_list())
    assert windowed["date"].max() == sessions[-1]
    expected_keys = full.filter(pl.col("date") <= MIDPOINT).select(KEY)
    assert windowed.select(KEY).equals(expected_keys)
    features = [c for c in columns if c not in TARGETS]
    diffs = _differences(windowed, full, features)
    assert not diffs, f"the windowed incremental build differs from the full refresh: {diffs}"
