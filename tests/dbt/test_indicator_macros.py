"""Oracle test of the indicator macros (`dbt_project/macros/indicators/`) against the Python TA-Lib package.

A throwaway dbt project under tmp_path reads a generated price table from its own chDB warehouse and selects
every indicator through the macros, chained in CTEs the way `fct_daily_features` chains them. Each column is
compared per code with the TA-Lib function fed the same series: NULL exactly where TA-Lib returns NaN, and
the values equal to 1e-9 relative (with a floor of 1e-12 of the indicator's natural scale, so that values
crossing zero, such as the MACD histogram, are judged against their scale rather than against 0).

The series cover: a float random walk; one on whole-yen ticks, on dates with gaps (irrelevant: the input
holds traded sessions only), with a 25-session flat stretch (the flat-window branches of WILLR, STOCH,
CCI, BBANDS and MFI); a high-priced quiet stock (cancellation in variances); a low-priced one; and a short
series of 50 sessions that opens flat (RSI's 0/0, DI with zero true range, ADX's skipped seed DX, and
every lookback longer than the series all NULL).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from pathlib import Path

import clickhouse_connect
import numpy as np
import polars as pl
import pytest
from talib_oracle import talib_indicators

talib = pytest.importorskip("talib")

REPO = Path(__file__).resolve().parents[2]
MACROS = REPO / "dbt_project" / "macros" / "indicators"
PROFILES_DIR = REPO / "dbt_project"

RTOL = 1e-9
# The floor below which a value counts as zero, as a fraction of the indicator's natural scale.
ZERO_FLOOR = 1e-3

FIXTURE_TABLE = "default.indicator_input"
MODEL = "indicator_oracle"

MODEL_SQL = """
{{ config(materialized='table', order_by='(code, rn)') }}

with prices as (
    select
        code,
        date,
        toUInt32(row_number() over (partition by code order by date) - 1) as rn,
        open,
        high,
        low,
        close,
        volume,
        bench_ret
    from default.indicator_input
),

-- CTE 1: previous session, every one-stage indicator, and the first stage of MACD and STOCH.
lagged as (
    select
        *,
        {{ lag('close') }} as prev_close,
        {{ lag('high') }} as prev_high,
        {{ lag('low') }} as prev_low,
        close / {{ lag('close') }} - 1 as ret_1d,
        {% for n in [5, 10, 20, 60, 120] %}{{ sma('close', n) }} as sma_{{ n }},
        {% endfor %}
        {% for n in [5, 10, 20, 60, 200] %}{{ ema('close', n) }} as ema_{{ n }},
        {% endfor %}
        {{ macd_line('close', 12, 26) }} as macd_line,
        {{ bbands('close', 20, 2, 'upper') }} as bb_upper_20,
        {{ bbands('close', 20, 2, 'middle') }} as bb_middle_20,
        {{ bbands('close', 20, 2, 'lower') }} as bb_lower_20,
        {{ rolling_stddev_pop('close', 20) }} as stddev_20,
        {{ rolling_stddev_pop('close', 20, stable=false) }} as stddev_20_moments,
        {{ stoch_fastk('high', 'low', 'close', 14) }} as stoch_fastk,
        {{ willr('high', 'low', 'close', 14) }} as willr_14,
        {{ cci('high', 'low', 'close', 20) }} as cci_20,
        {{ roc('close', 10) }} as roc_10,
        {{ mom('close', 10) }} as mom_10,
        {{ rolling_max('high', 20) }} as max_high_20,
        {{ rolling_min('low', 20) }} as min_low_20,
        {{ donchian('high', 'low', 20, 'middle') }} as donchian_middle_20
    from prices
),

-- CTE 2: Wilder smoothing and sums over the lagged columns, MACD signal, STOCH slow %K, return statistics.
smoothed as (
    select
        *,
        {{ rsi('close', 'prev_close', 2) }} as rsi_2,
        {{ rsi('close', 'prev_close', 14) }} as rsi_14,
        {{ atr('high', 'low', 'prev_close', 14) }} as atr_14,
        {{ natr('high', 'low', 'close', 'prev_close', 14) }} as natr_14,
        {{ dmi_smooth(plus_dm('high', 'low', 'prev_high', 'prev_low'), 14) }} as sm_plus_dm_14,
        {{ dmi_smooth(minus_dm('high', 'low', 'prev_high', 'prev_low'), 14) }} as sm_minus_dm_14,
        {{ dmi_smooth(true_range('high', 'low', 'prev_close'), 14) }} as sm_tr_14,
        {{ mfi('high', 'low', 'close', 'volume', 'prev_high', 'prev_low', 'prev_close', 14) }} as mfi_14,
        {{ obv('close', 'prev_close', 'volume') }} as obv,
        {{ macd('macd_line', 26, 9) }} as macd,
        {{ macd_signal('macd_line', 26, 9) }} as macd_signal,
        {{ macd_hist('macd_line', 26, 9) }} as macd_hist,
        {{ stoch_slowk('stoch_fastk', 14, 3) }} as stoch_slowk_line,
        {{ rolling_stddev_samp('ret_1d', 20) }} as ret_std_20,
        {{ rolling_mean('ret_1d', 20) }} as ret_mean_20,
        {{ rolling_covar_pop('ret_1d', 'bench_ret', 60) }} as ret_cov_60,
        {{ rolling_corr('ret_1d', 'bench_ret', 60) }} as ret_corr_60,
        {{ rolling_beta('ret_1d', 'bench_ret', 60) }} as ret_beta_60,
        {{ rolling_stddev_samp('ret_1d', 20, stable=true) }} as ret_std_20_stable,
        {{ rolling_covar_pop('ret_1d', 'bench_ret', 60, stable=true) }} as ret_cov_60_stable,
        {{ rolling_corr('ret_1d', 'bench_ret', 60, stable=true) }} as ret_corr_60_stable,
        {{ rolling_beta('ret_1d', 'bench_ret', 60, stable=true) }} as ret_beta_60_stable
    from lagged
),

-- CTE 3: DI / DX / ADX over the Wilder sums, STOCH slow %D over slow %K.
directional as (
    select
        *,
        {{ plus_di('sm_plus_dm_14', 'sm_tr_14', 14) }} as plus_di_14,
        {{ minus_di('sm_minus_dm_14', 'sm_tr_14', 14) }} as minus_di_14,
        {{ dx('sm_plus_dm_14', 'sm_minus_dm_14', 'sm_tr_14', 14) }} as dx_14,
        {{ adx('sm_plus_dm_14', 'sm_minus_dm_14', 'sm_tr_14', 14) }} as adx_14,
        {{ lookback_mask('stoch_slowk_line', 17) }} as stoch_k,
        {{ stoch_slowd('stoch_slowk_line', 14, 3, 3) }} as stoch_d
    from smoothed
),

final as (
    select * from directional
)

select * from final
"""


def _ohlcv(rng: np.random.Generator, close: np.ndarray, tick: float | None) -> dict[str, np.ndarray]:
    """open/high/low/volume around a close path; rounded to `tick` when given."""
    prev = np.concatenate([[close[0]], close[:-1]])
    open_ = prev * (1 + rng.normal(0, 0.004, close.size))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.006, close.size)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.006, close.size)))
    if tick is not None:
        open_, high, low, close = (np.round(a / tick) * tick for a in (open_, high, low, close))
        high = np.maximum.reduce([high, open_, close])
        low = np.minimum.reduce([low, open_, close])
    volume = np.round(rng.lognormal(11, 0.8, close.size))
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def _walk(rng: np.random.Generator, n: int, start: float, sigma: float) -> np.ndarray:
    return start * np.exp(np.cumsum(rng.normal(0, sigma, n)))


def _sessions(rng: np.random.Generator, n: int, gaps: bool) -> list[date]:
    """n increasing dates from 2020-01-06; with `gaps`, 1 to 5 days apart (the input keeps traded sessions only)."""
    steps = rng.integers(1, 6, n) if gaps else np.ones(n, dtype=int)
    days = np.cumsum(steps) - steps[0]
    return [date(2020, 1, 6) + timedelta(days=int(d)) for d in days]


def make_prices(seed: int = 20261124) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    series: dict[str, tuple[list[date], dict[str, np.ndarray]]] = {}

    series["1001"] = (_sessions(rng, 400, gaps=False), _ohlcv(rng, _walk(rng, 400, 1000.0, 0.015), None))

    close = np.round(_walk(rng, 400, 3000.0, 0.012))
    close[200:225] = close[199]
    bars = _ohlcv(rng, close, 1.0)
    for col in ("open", "high", "low"):
        bars[col][200:225] = close[199]
    series["2002"] = (_sessions(rng, 400, gaps=True), bars)

    series["3003"] = (_sessions(rng, 400, gaps=False), _ohlcv(rng, _walk(rng, 400, 48000.0, 0.002), 10.0))
    series["4004"] = (_sessions(rng, 400, gaps=True), _ohlcv(rng, _walk(rng, 400, 62.0, 0.03), 0.1))

    close = np.concatenate([np.full(16, 500.0), _walk(rng, 34, 500.0, 0.02)])
    bars = _ohlcv(rng, close, None)
    for col in ("open", "high", "low"):
        bars[col][:16] = 500.0
    series["5005"] = (_sessions(rng, 50, gaps=False), bars)

    frames = []
    for code, (dates, bars) in series.items():
        n = len(dates)
        bench = rng.normal(0, 0.01, n) + 0.5 * np.diff(np.log(bars["close"]), prepend=np.nan)
        bench_list: list[float | None] = [float(b) for b in bench]
        bench_list[0] = None
        if code == "1001":  # a missing benchmark day: the 60-row statistics must be NULL while it is in the frame
            bench_list[150] = None
        frames.append(
            pl.DataFrame(
                {"code": [code] * n, "date": dates, **{k: v.astype(float) for k, v in bars.items()}}
            ).with_columns(pl.Series("bench_ret", bench_list, dtype=pl.Float64))
        )
    return pl.concat(frames)


def _write_project(root: Path) -> None:
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        textwrap.dedent(
            f"""\
            name: indicator_oracle
            version: "0.1.0"
            config-version: 2
            profile: gogooku
            model-paths: ["models"]
            macro-paths: ["{MACROS}"]
            flags:
              send_anonymous_usage_stats: false
            """
        )
    )
    (root / "models" / f"{MODEL}.sql").write_text(MODEL_SQL)


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(input prices, the model's rows), both sorted by code and date."""
    home = tmp_path_factory.mktemp("indicator_home")
    data_dir = home / "clickhouse"
    prices = make_prices()

    client = clickhouse_connect.get_client(interface="chdb", path=str(data_dir))
    try:
        client.command(
            f"create table {FIXTURE_TABLE} (code String, date Date, open Float64, high Float64, low Float64, "
            "close Float64, volume Float64, bench_ret Nullable(Float64)) engine = MergeTree order by (code, date)"
        )
        client.insert_arrow(FIXTURE_TABLE, prices.to_arrow())
    finally:
        client.close()

    project = home / "project"
    _write_project(project)
    env = {
        **os.environ,
        "GOGOOKU_HOME": str(home),
        "GOGOOKU_TARGET": "embedded",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [str(dbt), "run", "--project-dir", str(project), "--profiles-dir", str(PROFILES_DIR)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"dbt run failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"

    client = clickhouse_connect.get_client(interface="chdb", path=str(data_dir))
    try:
        got = pl.from_arrow(client.query_arrow(f"select * from default.{MODEL} order by code, date"))
    finally:
        client.close()
    return prices.sort("code", "date"), got


def _expected(bars: pl.DataFrame) -> dict[str, tuple[np.ndarray, float]]:
    """{column: (TA-Lib's output, natural scale of the indicator)} for one code."""
    o = {c: bars[c].to_numpy().astype(float) for c in ("open", "high", "low", "close", "volume")}
    h, lo, c, v = o["high"], o["low"], o["close"], o["volume"]
    price = float(np.median(c))
    pct = 100.0
    exp = talib_indicators(h, lo, c, v)
    exp["stddev_20"] = (talib.STDDEV(c, 20, 1), price)
    exp["stddev_20_moments"] = exp["stddev_20"]
    exp["dx_14"] = (talib.DX(h, lo, c, 14), pct)
    exp["stoch_fastk"] = (talib.STOCHF(h, lo, c, 14, 1, 0)[0], pct)
    exp["max_high_20"] = (talib.MAX(h, 20), price)
    exp["min_low_20"] = (talib.MIN(lo, 20), price)
    exp["donchian_middle_20"] = ((talib.MAX(h, 20) + talib.MIN(lo, 20)) / 2, price)
    exp |= _return_statistics(c, bars["bench_ret"].to_numpy().astype(float))
    return exp


def _return_statistics(close: np.ndarray, bench: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """numpy two-pass references for the non-TA-Lib rolling statistics (NaN where a frame holds a NaN)."""
    ret = np.concatenate([[np.nan], close[1:] / close[:-1] - 1])

    def rolling(n: int, fn, *cols: np.ndarray) -> np.ndarray:
        out = np.full(ret.size, np.nan)
        for i in range(n - 1, ret.size):
            frame = [col[i - n + 1 : i + 1] for col in cols]
            if not any(np.isnan(f).any() for f in frame):
                out[i] = fn(*frame)
        return out

    def cov(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean((x - x.mean()) * (y - y.mean())))

    stats = {
        "ret_std_20": (rolling(20, lambda x: np.std(x, ddof=1), ret), 0.01),
        "ret_mean_20": (rolling(20, np.mean, ret), 0.01),
        "ret_cov_60": (rolling(60, cov, ret, bench), 1e-4),
        "ret_corr_60": (rolling(60, lambda x, y: cov(x, y) / np.sqrt(np.var(x) * np.var(y)), ret, bench), 1.0),
        "ret_beta_60": (rolling(60, lambda x, y: cov(x, y) / np.var(y), ret, bench), 1.0),
    }
    return stats | {f"{name}_stable": want for name, want in stats.items() if name != "ret_mean_20"}


def test_indicators_match_talib(oracle: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    prices, got = oracle
    assert got.height == prices.height
    assert got["rn"].to_list() == prices.with_columns(rn=pl.int_range(pl.len()).over("code"))["rn"].to_list()

    failures: list[str] = []
    worst: dict[str, float] = {}
    for code in prices["code"].unique(maintain_order=True):
        bars = prices.filter(pl.col("code") == code)
        rows = got.filter(pl.col("code") == code)
        for column, (want, scale) in _expected(bars).items():
            have = rows[column].cast(pl.Float64).to_numpy()
            null_mismatch = np.flatnonzero(np.isnan(have) != np.isnan(want))
            if null_mismatch.size:
                i = int(null_mismatch[0])
                failures.append(f"{code} {column}: NULL/NaN differ at rn {i} (got {have[i]}, TA-Lib {want[i]})")
                continue
            ok = ~np.isnan(want)
            if not ok.any():
                continue
            denom = np.maximum(np.abs(want[ok]), ZERO_FLOOR * scale)
            rel = np.abs(have[ok] - want[ok]) / denom
            worst[column] = max(worst.get(column, 0.0), float(rel.max()))
            if rel.max() > RTOL:
                i = int(np.flatnonzero(ok)[rel.argmax()])
                failures.append(
                    f"{code} {column}: rel err {rel.max():.3g} at rn {i} (got {have[i]!r}, TA-Lib {want[i]!r})"
                )

    print("\nmax relative error per indicator (floor 1e-3 of scale):")
    for column, err in sorted(worst.items()):
        print(f"  {column:20s} {err:.2e}")
    assert not failures, "\n".join(failures)


def test_short_series_lookbacks_longer_than_the_series_are_all_null(oracle: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, got = oracle
    short = got.filter(pl.col("code") == "5005")
    assert short.height == 50
    for column in ("sma_60", "sma_120", "ema_60", "ema_200"):
        assert short[column].null_count() == 50, column
    assert short["adx_14"].drop_nulls().len() == 50 - 27
    assert short["macd"].drop_nulls().len() == 50 - 33
