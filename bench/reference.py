"""A polars reference implementation of the data contract's core features, the yardstick of the dbt build.

It reads `marts.fct_daily_prices_adjusted` and `marts.fct_topix_daily` out of the warehouse as Arrow, computes every
core column of `marts.fct_daily_features` (see shared/spec/data-contract.md) the same way the dbt models do:

- point in time: the series of each traded session u is close(u) / factor_to_date(u), with factor_to_date the
  running product of AdjFactor; level features are scaled back by factor_to_date(t), volume ones divided by it;
- windows count the stock's traded sessions (rows with a close); a listed day without trades repeats the last
  traded session's values and carries no labels;
- TA-Lib semantics: SMA, EMA seeded with the SMA of the first N, Wilder smoothing, MACD with both EMAs started at
  the slow one's first row, BBANDS with the population sigma, STOCH, WILLR, CCI, MFI, ADX/DI, OBV, ROC, MOM;

and writes the result back as `bench.reference_features` (MergeTree ordered by code, date).

Speed: the frame is sorted by (code, session index `rn`), so a lag or a trailing window over the whole column is
the per-code one wherever the window is full (rn >= N - 1), and every output is masked below that row. Only the
recursive smoothers (EMA, Wilder, OBV) need per-code state: polars `ewm_mean(...).over(code_id)` on a sorted
integer key, which polars runs per group without hashing. CCI's mean absolute deviation has no rolling kernel in
polars: it runs as numpy over shifted views. The market is processed in chunks of whole codes (about a million
rows each), which bounds the memory without changing any result.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
from clickhouse_connect.driver.client import Client

REFERENCE_DB = "bench"
REFERENCE_TABLE = f"{REFERENCE_DB}.reference_features"
PRICES = "marts.fct_daily_prices_adjusted"
TOPIX = "marts.fct_topix_daily"
SQRT252 = math.sqrt(252)
CHUNK_ROWS = 1_000_000  # rows of prices per chunk of codes

# The contract's core columns of fct_daily_features, in its order (all Nullable(Float64) here).
CORE_COLUMNS = [
    *("ret_1d", "ret_5d", "ret_10d", "ret_20d", "ret_60d", "log_ret_1d"),
    *("sma_5", "sma_10", "sma_20", "sma_60", "sma_120"),
    *("ema_5", "ema_10", "ema_20", "ema_60", "ema_200"),
    *("macd", "macd_signal", "macd_hist", "rsi_2", "rsi_14"),
    *("bb_upper_20", "bb_middle_20", "bb_lower_20", "bb_pct_b_20"),
    *("atr_14", "natr_14", "adx_14", "plus_di_14", "minus_di_14", "stoch_k", "stoch_d"),
    *("willr_14", "cci_20", "mfi_14", "roc_10", "mom_10", "obv"),
    *("vol_20d", "vol_60d", "sharpe_20d", "sharpe_60d", "volume_ratio_20"),
    *("topix_ret_1d", "topix_ret_20d", "beta_60d", "alpha_20d", "alpha_60d", "rel_strength_20d", "corr_topix_60d"),
    *("target_ret_1d", "target_ret_5d", "target_ret_20d"),
]
# In the units of date t: computed on the point-in-time series, multiplied by factor_to_date(t) (OBV: divided).
PRICE_LEVELS = [
    *("sma_5", "sma_10", "sma_20", "sma_60", "sma_120", "ema_5", "ema_10", "ema_20", "ema_60", "ema_200"),
    *("macd", "macd_signal", "macd_hist", "bb_upper_20", "bb_middle_20", "bb_lower_20", "atr_14", "mom_10"),
]
# Columns of the traded session that a day without trades repeats (everything but TOPIX-of-the-day and labels).
SESSION_COLUMNS = [
    c for c in CORE_COLUMNS if not c.startswith(("topix_", "alpha_", "rel_strength", "target_")) and c != "beta_60d"
] + ["beta_60d"]
LABELS = {"target_ret_1d": 1, "target_ret_5d": 5, "target_ret_20d": 20}

rn = pl.col("rn")


# --- building blocks (expressions over the frame sorted by code_id, rn) ---------------------------------------------


def _from(first_rn: int, expr: pl.Expr) -> pl.Expr:
    """`expr` where the session index is at least `first_rn` (the window lies inside the code), else NULL."""
    return pl.when(rn >= first_rn).then(expr).otherwise(None)


def lag(x: pl.Expr, k: int = 1) -> pl.Expr:
    return _from(k, x.shift(k))


def sma(x: pl.Expr, n: int, first_rn: int = 0) -> pl.Expr:
    """TA-Lib SMA over rows whose input is valid from `first_rn`."""
    return _from(first_rn + n - 1, x.rolling_mean(n))


def ema_seeded(x: pl.Expr, n: int, first_rn: int = 0, alpha: float | None = None) -> pl.Expr:
    """TA-Lib's smoothing: the mean of x over rn first_rn..k (k = first_rn + n - 1) at k, then
    E(i) = alpha * x(i) + (1 - alpha) * E(i - 1); alpha 2 / (n + 1) (EMA) unless given (Wilder: 1 / n).
    NULL inputs count as 0 (as the dbt macro ema_seeded)."""
    alpha = 2 / (n + 1) if alpha is None else alpha
    k = first_rn + n - 1
    xf = x.fill_null(0.0)
    seeded = pl.when(rn < k).then(None).when(rn == k).then(xf.rolling_mean(n)).otherwise(xf)
    return seeded.ewm_mean(alpha=alpha, adjust=False).over("code_id")


def wilder(x: pl.Expr, n: int, first_rn: int = 1) -> pl.Expr:
    return ema_seeded(x, n, first_rn, 1 / n)


def flat(hh: pl.Expr, ll: pl.Expr) -> pl.Expr:
    """TA-Lib's test for a window without range."""
    return (hh - ll).abs() <= 1e-14 * (hh.abs() + ll.abs())


def rolling_valid(mask: pl.Expr, n: int) -> pl.Expr:
    """True where all of the last n rows satisfy `mask` (and lie in the code)."""
    return _from(n - 1, mask.cast(pl.Int32).rolling_sum(n) == n).fill_null(False)


def cci(tp: np.ndarray, n: int = 20) -> np.ndarray:
    """TA-Lib CCI's core over a whole column: (tp - mean) / (0.015 * mean |tp - mean|) for each trailing window
    of n rows, 0 on a flat window; row i uses rows i-n+1..i (the caller masks rows whose window leaves the code).
    The mean absolute deviation has no running form: n passes over shifted views, no (rows x n) temporary."""
    out = np.full(tp.shape[0], np.nan)
    m = tp.shape[0] - n + 1
    if m <= 0:
        return out
    total = np.zeros(m)
    for k in range(n):
        total += tp[k : k + m]
    mean = total / n
    mad = np.zeros(m)
    for k in range(n):
        mad += np.abs(tp[k : k + m] - mean)
    mad /= n
    last = tp[n - 1 :]
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (last - mean) / (0.015 * mad)
    tiny = 1e-14 * np.abs(mean)
    out[n - 1 :] = np.where((np.abs(last - mean) <= tiny) | (mad <= tiny), 0.0, value)
    return out


# --- the computation ------------------------------------------------------------------------------------------------


def sessions_of(prices: pl.DataFrame, topix: pl.DataFrame) -> pl.DataFrame:
    """Traded sessions in point-in-time units, sorted by code and session, with TOPIX's return of the session."""
    return (
        prices.sort("code", "date")
        .with_columns(factor_to_date=pl.col("adj_factor").cum_prod().over("code"))
        .filter(pl.col("close").is_not_null())
        .with_columns(
            code_id=(pl.col("code") != pl.col("code").shift(1)).fill_null(True).cum_sum().cast(pl.UInt32),
            rn=pl.int_range(pl.len(), dtype=pl.UInt32).over("code"),
            o=pl.coalesce("open", "close") / pl.col("factor_to_date"),
            h=pl.coalesce("high", "close") / pl.col("factor_to_date"),
            l=pl.coalesce("low", "close") / pl.col("factor_to_date"),
            c=pl.col("close") / pl.col("factor_to_date"),
            v=pl.col("volume").fill_null(0.0) * pl.col("factor_to_date"),
        )
        .with_columns(pl.col("code_id").set_sorted())
        .join(topix.select("date", pl.col("ret_1d").alias("topix_ret_1d_session")), on="date", how="left")
        .select("code", "code_id", "date", "rn", "factor_to_date", "h", "l", "c", "v", "topix_ret_1d_session")
    )


def session_features(s: pl.DataFrame) -> pl.DataFrame:
    """Every per-session core feature on the sorted sessions frame (levels in point-in-time units)."""
    c, h, low, v = pl.col("c"), pl.col("h"), pl.col("l"), pl.col("v")
    prev_c, prev_h, prev_l = pl.col("prev_c"), pl.col("prev_h"), pl.col("prev_l")
    s = s.with_columns(prev_c=lag(c), prev_h=lag(h), prev_l=lag(low), tp=(h + low + c) / 3)

    # stage 1: lags, trailing windows, one-pass inputs of the smoothers
    chg = c - prev_c
    tr = pl.max_horizontal(h - low, (h - prev_c).abs(), (low - prev_c).abs())
    up, down = h - prev_h, prev_l - low
    hh14, ll14 = h.rolling_max(14), low.rolling_min(14)
    tp, prev_tp = pl.col("tp"), lag(pl.col("tp"))
    flow = pl.when(flat(tp, prev_tp)).then(0.0).otherwise(tp * v)
    pos = pl.when(tp - prev_tp < 0).then(0.0).otherwise(flow).rolling_sum(14)
    neg = pl.when(tp - prev_tp < 0).then(flow).otherwise(0.0).rolling_sum(14)
    var20 = c.rolling_var(20, ddof=0)
    dev20 = pl.when(var20 < 1e-14).then(0.0).otherwise(var20.sqrt()) * 2
    prev10 = lag(c, 10)
    s = s.with_columns(
        ret_1d=c / prev_c - 1,
        **{f"ret_{n}d": c / lag(c, n) - 1 for n in (5, 10, 20, 60)},
        log_ret_1d=(c / prev_c).log(),
        **{f"sma_{n}": sma(c, n) for n in (5, 10, 20, 60, 120)},
        bb_middle_20=sma(c, 20),
        bb_upper_20=sma(c, 20) + _from(19, dev20),
        bb_lower_20=sma(c, 20) - _from(19, dev20),
        stoch_fastk=_from(
            13, pl.when(flat(hh14, ll14)).then(0.0).otherwise((100 * (c - ll14) / (hh14 - ll14)).clip(0, 100))
        ),
        willr_14=_from(
            13, pl.when(flat(hh14, ll14)).then(0.0).otherwise((-100 * (hh14 - c) / (hh14 - ll14)).clip(-100, 0))
        ),
        mfi_14=_from(
            14,
            pl.when(pos + neg <= 0).then(0.0).otherwise(100 * pl.min_horizontal(pos.clip(0), pos + neg) / (pos + neg)),
        ),
        roc_10=_from(10, pl.when(prev10 != 0).then((c / prev10 - 1) * 100).otherwise(0.0)),
        mom_10=c - prev10,
        volume_sma_20=sma(v, 20),
        gain=pl.when(chg > 0).then(chg).otherwise(0.0),
        loss=pl.when(chg < 0).then(-chg).otherwise(0.0),
        tr=pl.when(prev_c.is_null()).then(None).otherwise(tr),
        plus_dm=pl.when((up > 0) & (up > down)).then(up).otherwise(0.0),
        minus_dm=pl.when((down > 0) & (up < down)).then(down).otherwise(0.0),
        obv_step=pl.when(prev_c.is_null() | (chg > 0)).then(v).when(chg < 0).then(-v).otherwise(0.0),
    )
    s = s.with_columns(cci_20=_from(19, pl.Series(cci(s.get_column("tp").to_numpy()))))

    # stage 2: the per-code recursions and the return statistics
    ret, mkt = pl.col("ret_1d"), pl.col("topix_ret_1d_session")
    both = ret.is_not_null() & mkt.is_not_null()
    s = s.with_columns(
        **{f"ema_{n}": ema_seeded(c, n) for n in (5, 10, 20, 60, 200)},
        macd_line=_from(25, ema_seeded(c, 12, 14) - ema_seeded(c, 26)),
        rsi_g2=wilder(pl.col("gain"), 2),
        rsi_l2=wilder(pl.col("loss"), 2),
        rsi_g14=wilder(pl.col("gain"), 14),
        rsi_l14=wilder(pl.col("loss"), 14),
        atr_14=wilder(pl.col("tr"), 14),
        sm_pdm=ema_seeded(pl.col("plus_dm"), 14, 0, 1 / 14),
        sm_mdm=ema_seeded(pl.col("minus_dm"), 14, 0, 1 / 14),
        sm_tr=ema_seeded(pl.col("tr"), 14, 0, 1 / 14),
        obv=pl.col("obv_step").cum_sum().over("code_id"),
        stoch_slowk=sma(pl.col("stoch_fastk"), 3, 13),
        **{f"ret_std_{n}": _from(n, ret.fill_null(0.0).rolling_std(n, ddof=1)) for n in (20, 60)},
        **{f"ret_mean_{n}": _from(n, ret.fill_null(0.0).rolling_mean(n)) for n in (20, 60)},
        beta_ok=rolling_valid(both, 60),
        beta_cov=pl.rolling_cov(ret.fill_null(0.0), mkt.fill_null(0.0), window_size=60, ddof=0),
        beta_var=mkt.fill_null(0.0).rolling_var(60, ddof=0),
        corr_var=ret.fill_null(0.0).rolling_var(60, ddof=0),
    )

    # stage 3: what reads the smoothed lines
    pdi = 100 * pl.col("sm_pdm") / pl.col("sm_tr")
    mdi = 100 * pl.col("sm_mdm") / pl.col("sm_tr")
    dx = pl.when((pl.col("sm_tr") > 0) & ((mdi + pdi).abs() >= 1e-14)).then(100 * (mdi - pdi).abs() / (mdi + pdi))
    line = pl.col("macd_line")
    beta_ok = pl.col("beta_ok") & (pl.col("beta_var") > 0)
    s = s.with_columns(
        rsi_2=_from(2, _rsi(pl.col("rsi_g2"), pl.col("rsi_l2"))),
        rsi_14=_from(14, _rsi(pl.col("rsi_g14"), pl.col("rsi_l14"))),
        natr_14=pl.when(c != 0).then(pl.col("atr_14") / c * 100).otherwise(0.0),
        plus_di_14=_from(14, pl.when(pl.col("sm_tr") > 0).then(pdi).otherwise(0.0)),
        minus_di_14=_from(14, pl.when(pl.col("sm_tr") > 0).then(mdi).otherwise(0.0)),
        adx_14=ema_seeded(_from(14, dx.otherwise(0.0)), 14, 14, 1 / 14),
        macd=_from(33, line),
        macd_signal=ema_seeded(line, 9, 25),
        stoch_k=_from(17, pl.col("stoch_slowk")),
        stoch_d=sma(pl.col("stoch_slowk"), 3, 15),
        vol_20d=pl.col("ret_std_20") * SQRT252,
        vol_60d=pl.col("ret_std_60") * SQRT252,
        sharpe_20d=pl.col("ret_mean_20") / pl.when(pl.col("ret_std_20") != 0).then(pl.col("ret_std_20")) * SQRT252,
        sharpe_60d=pl.col("ret_mean_60") / pl.when(pl.col("ret_std_60") != 0).then(pl.col("ret_std_60")) * SQRT252,
        volume_ratio_20=v / pl.when(pl.col("volume_sma_20") != 0).then(pl.col("volume_sma_20")),
        beta_60d=pl.when(beta_ok).then(pl.col("beta_cov") / pl.col("beta_var")),
        corr_topix_60d=pl.when(beta_ok & (pl.col("corr_var") > 0)).then(
            pl.col("beta_cov") / (pl.col("corr_var") * pl.col("beta_var")).sqrt()
        ),
        bb_pct_b_20=(c - pl.col("bb_lower_20"))
        / pl.when(pl.col("bb_upper_20") != pl.col("bb_lower_20")).then(pl.col("bb_upper_20") - pl.col("bb_lower_20")),
        **{
            name: pl.when(pl.col("code_id").shift(-n) == pl.col("code_id")).then(c.shift(-n) / c - 1)
            for name, n in LABELS.items()
        },
    )
    f = pl.col("factor_to_date")
    return s.with_columns(
        macd_hist=pl.col("macd") - pl.col("macd_signal"),
    ).select(
        "code",
        "code_id",
        "date",
        *(pl.col(name) * f if name in PRICE_LEVELS else pl.col(name) for name in SESSION_COLUMNS if name != "obv"),
        (pl.col("obv") / f).alias("obv"),
        *LABELS,
    )


def _rsi(gain: pl.Expr, loss: pl.Expr) -> pl.Expr:
    return pl.when(gain + loss > 0).then(100 * gain / (gain + loss)).otherwise(0.0)


def daily_features(prices: pl.DataFrame, topix: pl.DataFrame, features: pl.DataFrame) -> pl.DataFrame:
    """One row per listed (code, date) of `prices`: the last traded session's features (labels only on the
    session's own day), with TOPIX's returns of the date and what combines them."""
    spine = prices.select("code", "date", traded=pl.col("close").is_not_null()).sort("code", "date")
    # The session a listed day reads: the latest traded row of the code on or before it.
    spine = spine.with_columns(
        session_date=pl.when("traded").then(pl.col("date")).otherwise(None).forward_fill().over("code")
    )
    joined = spine.join(
        features.drop("code_id").rename({"date": "session_date"}), on=["code", "session_date"], how="left"
    ).join(
        topix.select(
            "date",
            pl.col("ret_1d").alias("topix_ret_1d"),
            pl.col("ret_20d").alias("topix_ret_20d"),
            pl.col("ret_60d").alias("topix_ret_60d"),
        ),
        on="date",
        how="left",
    )
    return joined.select(
        "code",
        "date",
        "session_date",
        *(name for name in SESSION_COLUMNS),
        "topix_ret_1d",
        "topix_ret_20d",
        alpha_20d=pl.col("ret_20d") - pl.col("beta_60d") * pl.col("topix_ret_20d"),
        alpha_60d=pl.col("ret_60d") - pl.col("beta_60d") * pl.col("topix_ret_60d"),
        rel_strength_20d=pl.col("ret_20d") - pl.col("topix_ret_20d"),
        **{name: pl.when(pl.col("traded")).then(pl.col(name)) for name in LABELS},
    ).select("code", "date", "session_date", *CORE_COLUMNS)


# --- warehouse I/O --------------------------------------------------------------------------------------------------


def read_inputs(client: Client) -> tuple[pl.DataFrame, pl.DataFrame]:
    prices = pl.from_arrow(
        client.query_arrow(
            f"select code, date, open, high, low, close, volume, adj_factor from {PRICES} order by code, date"
        )
    )
    topix = pl.from_arrow(client.query_arrow(f"select date, ret_1d, ret_20d, ret_60d from {TOPIX} order by date"))
    return _plain_strings(prices), _plain_strings(topix)


def _plain_strings(frame: pl.DataFrame | pl.Series) -> pl.DataFrame:
    assert isinstance(frame, pl.DataFrame)
    return frame.with_columns(pl.col(pl.Categorical).cast(pl.String))


def code_chunks(prices: pl.DataFrame, rows: int) -> Iterator[pl.DataFrame]:
    """Slices of `prices` (sorted by code, date) of about `rows` rows each, never splitting a code."""
    sizes = prices.group_by("code", maintain_order=True).len().get_column("len").to_list()
    start = length = 0
    for size in sizes:
        if length and length + size > rows:
            yield prices.slice(start, length)
            start, length = start + length, 0
        length += size
    if length:
        yield prices.slice(start, length)


def create_table(client: Client, table: str = REFERENCE_TABLE) -> None:
    """(Re)create `table`: code, date, session_date, then the core columns as Nullable(Float64)."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {table.split('.')[0]}")
    client.command(f"DROP TABLE IF EXISTS {table}")
    columns = ", ".join(f"`{name}` Nullable(Float64)" for name in CORE_COLUMNS)
    client.command(
        f"CREATE TABLE {table} (code String, date Date, session_date Nullable(Date), {columns}) "
        "ENGINE = MergeTree ORDER BY (code, date) PARTITION BY toYear(date)"
    )


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def run_reference(
    client: Client, table: str = REFERENCE_TABLE, scratch: Path | None = None, chunk_rows: int = CHUNK_ROWS
) -> dict[str, float | int]:
    """Read the inputs, compute the features chunk by chunk of codes, write them back; returns seconds and rows.

    Each chunk goes through an uncompressed Arrow IPC file that ClickHouse reads with `file()` (on chDB about
    twice as fast as `insert_arrow`, which re-encodes the table through the client), one INSERT per chunk. Chunks
    bound the memory on both sides: the whole market at once would hold ~60 float columns per row several times
    over in polars, and the INSERT maps its whole input file.
    """
    t0 = time.perf_counter()
    prices, topix = read_inputs(client)
    create_table(client, table)
    t1 = time.perf_counter()
    rows = sessions = chunks = 0
    compute_s = write_s = 0.0
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        path = Path(tmp) / "reference.arrow"
        for part in code_chunks(prices, chunk_rows):
            started = time.perf_counter()
            features = session_features(sessions_of(part, topix))
            daily = daily_features(part, topix, features)
            rows, sessions, chunks = rows + daily.height, sessions + features.height, chunks + 1
            computed = time.perf_counter()
            daily.write_ipc(path, compression="uncompressed", compat_level=pl.CompatLevel.oldest())
            del features, daily
            client.command(f"INSERT INTO {table} SELECT * FROM file({_quote(str(path))}, 'Arrow')")
            path.unlink()
            compute_s += computed - started
            write_s += time.perf_counter() - computed
    return {
        "read_s": t1 - t0,
        "compute_s": compute_s,
        "write_s": write_s,
        "total_s": time.perf_counter() - t0,
        "rows": rows,
        "sessions": sessions,
        "chunks": chunks,
    }
