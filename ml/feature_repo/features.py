"""Feast definitions over the feature mart `marts.fct_daily_features` (see shared/spec/data-contract.md).

One entity (`code`, the 5-digit J-Quants code), one batch source, five feature views that split the mart's core
columns by what they describe, and three versioned feature services. Labels (`target_*`) are never features: the
training set carries them in its entity dataframe instead (see ml/training.py).

Event time. The mart's grain is (code, `date Date`), and Feast needs a timestamp. The source is a query that stamps
each row at the close of its session, 15:30 Asia/Tokyo (the TSE close since 2024-11-05; for earlier years, when the
close was 15:00, this is half an hour late, i.e. conservative: a row is never visible before its data existed).
A lookup at 15:30 JST on day t sees that day's row; a lookup at any earlier time of day t sees day t−1's.
`DateTime64` (not `DateTime`) keeps the zone through chDB's Native output (see shared/notes/upstream-gaps.md).

Flow features (`flow_*`, weekly investor-type flows forward-filled into the daily mart) may not exist in the mart
yet: `ml/feature_store.py` drops every field whose column the mart lacks before `apply` (and a view or service
left empty), so the repo applies on marts with or without them. The module-level objects below are the full
definitions, which `feast apply` in this directory registers as they are.
"""

from __future__ import annotations

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, ValueType
from feast.infra.offline_stores.contrib.clickhouse_offline_store.clickhouse_source import ClickhouseSource
from feast.types import Float64

MART_TABLE = "marts.fct_daily_features"
EVENT_TIMESTAMP = "event_timestamp"
# The close of the session of `date`, 15:30 JST, as an absolute instant.
EVENT_TIMESTAMP_SQL = "toDateTime64(date, 0, 'Asia/Tokyo') + interval 930 minute"

# Daily rows: a value older than two weeks of calendar time (longer than any TSE break, Golden Week and the New
# Year holidays included) is stale and is served as missing.
DAILY_TTL = timedelta(days=14)
# Weekly investor-type flows are published a few days after their week ends.
WEEKLY_TTL = timedelta(days=28)

OWNER = "gogooku3"

# Columns of each view, all `Nullable(Float64)` in the mart (NULL while a window is not yet full).
VIEW_COLUMNS: dict[str, list[str]] = {
    "price_features": ["ret_1d", "ret_5d", "ret_10d", "ret_20d", "ret_60d", "log_ret_1d", "volume_ratio_20"],
    "technical_features": [
        *("sma_5", "sma_10", "sma_20", "sma_60", "sma_120"),
        *("ema_5", "ema_10", "ema_20", "ema_60", "ema_200"),
        *("macd", "macd_signal", "macd_hist", "rsi_2", "rsi_14"),
        *("bb_upper_20", "bb_middle_20", "bb_lower_20", "bb_pct_b_20"),
        *("adx_14", "plus_di_14", "minus_di_14", "stoch_k", "stoch_d"),
        *("willr_14", "cci_20", "mfi_14", "roc_10", "mom_10", "obv"),
    ],
    "market_relative_features": [
        *("topix_ret_1d", "topix_ret_20d", "beta_60d", "alpha_20d", "alpha_60d"),
        *("rel_strength_20d", "corr_topix_60d"),
    ],
    "volatility_features": ["vol_20d", "vol_60d", "sharpe_20d", "sharpe_60d", "atr_14", "natr_14"],
    # Assumed names of the weekly flow features (not in the contract's core list yet).
    "flow_features": ["flow_foreigners_net_z", "flow_individuals_net_z"],
}

VIEW_DESCRIPTIONS = {
    "price_features": "Trailing returns of the split-adjusted close and relative volume.",
    "technical_features": "TA-Lib indicators (moving averages, oscillators, bands, trend strength, OBV).",
    "market_relative_features": "TOPIX returns and the stock's beta, alpha, relative strength and correlation.",
    "volatility_features": "Realized volatility, trailing Sharpe ratios and average true range.",
    "flow_features": "Weekly net flows by investor type (z-scores), forward-filled to trading days.",
}

VIEW_TTL = {name: DAILY_TTL for name in VIEW_COLUMNS} | {"flow_features": WEEKLY_TTL}

# Columns in the stock's price (or volume) units: meaningful along one stock's history, but across stocks they
# mostly encode the price level, so the cross-sectional ranker does not use them.
PRICE_LEVEL_COLUMNS = {
    *("sma_5", "sma_10", "sma_20", "sma_60", "sma_120", "ema_5", "ema_10", "ema_20", "ema_60", "ema_200"),
    *("macd", "macd_signal", "macd_hist", "bb_upper_20", "bb_middle_20", "bb_lower_20", "atr_14", "mom_10", "obv"),
}


def scale_free(view: str) -> list[str]:
    return [c for c in VIEW_COLUMNS[view] if c not in PRICE_LEVEL_COLUMNS]


# Which features each service serves: None = every field of the view, else a list of fields.
SERVICES: dict[str, dict[str, list[str] | None]] = {
    # A small baseline: momentum, volume and risk.
    "basic_v1": {
        "price_features": ["ret_1d", "ret_5d", "ret_20d", "ret_60d", "volume_ratio_20"],
        "volatility_features": ["vol_20d", "vol_60d"],
    },
    # Every scale-free feature of every view: what ml/training.py trains the ranker on (and scoring it online needs).
    "ranker_v1": {name: scale_free(name) for name in VIEW_COLUMNS},
    # Low-latency monitoring of the latest state: returns, market-relative and risk, no long indicator list.
    "realtime_v1": {"price_features": None, "market_relative_features": None, "volatility_features": None},
}
SERVICE_DESCRIPTIONS = {
    "basic_v1": "Baseline momentum/volume/risk features.",
    "ranker_v1": "Scale-free features of all views: the training set of the gogooku_ranker model.",
    "realtime_v1": "Latest returns, market-relative and risk features for online lookups.",
}

code = Entity(
    name="code",
    join_keys=["code"],
    value_type=ValueType.STRING,
    description="5-digit J-Quants security code.",
    owner=OWNER,
)

fct_daily_features_source = ClickhouseSource(
    name="fct_daily_features",
    query=f"select *, {EVENT_TIMESTAMP_SQL} as {EVENT_TIMESTAMP} from {MART_TABLE}",
    timestamp_field=EVENT_TIMESTAMP,
    description=f"{MART_TABLE}, one row per code and trading day, stamped at the session close (15:30 JST).",
    owner=OWNER,
)


def feature_view(name: str, columns: list[str] | None = None) -> FeatureView:
    """The feature view `name` with `columns` (default: all of VIEW_COLUMNS[name], in that order)."""
    columns = VIEW_COLUMNS[name] if columns is None else columns
    return FeatureView(
        name=name,
        entities=[code],
        ttl=VIEW_TTL[name],
        schema=[Field(name=column, dtype=Float64) for column in columns],
        online=True,
        source=fct_daily_features_source,
        description=VIEW_DESCRIPTIONS[name],
        tags={"mart": MART_TABLE, "grain": "code, trading day", "group": name.removesuffix("_features")},
        owner=OWNER,
    )


def feature_service(name: str, views: dict[str, FeatureView]) -> FeatureService | None:
    """The service `name` over the given views; fields a view lacks are left out, None when nothing is left."""
    projections = []
    for view_name, fields in SERVICES[name].items():
        view = views.get(view_name)
        if view is None:
            continue
        available = [f.name for f in view.features]
        wanted = available if fields is None else [f for f in fields if f in available]
        if wanted:
            projections.append(view[wanted] if wanted != available else view)
    if not projections:
        return None
    return FeatureService(
        name=name,
        features=projections,
        description=SERVICE_DESCRIPTIONS[name],
        tags={"version": name.rsplit("_", 1)[1]},
        owner=OWNER,
    )


def definitions(available_columns: set[str] | None = None) -> list:
    """Entity, source, views and services; with `available_columns`, fields the mart lacks are left out."""
    views: dict[str, FeatureView] = {}
    for name, columns in VIEW_COLUMNS.items():
        kept = columns if available_columns is None else [c for c in columns if c in available_columns]
        if kept:
            views[name] = feature_view(name, kept)
    services = [s for s in (feature_service(name, views) for name in SERVICES) if s is not None]
    return [code, fct_daily_features_source, *views.values(), *services]


# Module-level objects for `feast apply` run in this directory (the full definitions).
price_features = feature_view("price_features")
technical_features = feature_view("technical_features")
market_relative_features = feature_view("market_relative_features")
volatility_features = feature_view("volatility_features")
flow_features = feature_view("flow_features")
_views = {
    v.name: v
    for v in (price_features, technical_features, market_relative_features, volatility_features, flow_features)
}
basic_v1 = feature_service("basic_v1", _views)
ranker_v1 = feature_service("ranker_v1", _views)
realtime_v1 = feature_service("realtime_v1", _views)
