"""Train the cross-sectional ranker `gogooku_ranker` on the feature store and track it in MLflow.

The model ranks codes on each trading day by their coming `horizon`-session return (`target_ret_{h}d` of the
mart). It is a LightGBM regressor on the rank-transformed label: per date, the label becomes its percentile rank
in (0, 1]. That is scale-free like LambdaRank with date groups, but it weighs the whole cross-section (both ends
matter for a long-short book), while LambdaRank concentrates on the top of each list.

Data. Labels come from the mart (`code, date, target_ret_{h}d`), features from Feast (`get_historical_features`
of the `ranker_v1` service, point in time: the entity row of date t is stamped at t's session close, so it sees
exactly the features of date t). Only labels known on `as_of` are used: the label of date t needs the close
h sessions later, so t is kept when its h-th next session is on or before `as_of`.

Validation: walk forward, purged and embargoed (`walk_forward_splits`). The labeled dates are cut into
`n_folds + 1` consecutive blocks; fold k validates on block k (k = 1..n_folds; the last fold runs to the end)
and trains on every date before it except the last `horizon + embargo` sessions (embargo = horizon by default).
So between the last training date and the first validation date lie exactly `horizon + embargo` sessions:
the purge (`horizon`) guarantees every training label was fully realized before the validation block starts,
and the embargo (`embargo` more sessions) keeps the autocorrelated features of the two sides apart too.

Validation metrics, on the pooled out-of-fold predictions (per validation date, then aggregated):
`rank_ic_mean`, `rank_ic_std`, `rank_ic_ir` (mean/std of the daily Spearman IC),
`ic_hit_rate` (share of days with IC > 0), `q1_ret..q5_ret` (mean label per prediction quintile),
`long_short_ret` (Q5 − Q1, mean per day), `hit_rate` (share of days with Q5 − Q1 > 0), and
`long_short_sharpe`, annualized on non-overlapping periods: every h-th validation date, mean/std × √(252/h).
The final model is refit on all labeled dates and registered as `gogooku_ranker`; the `champion` alias moves to
it only when its `rank_ic_mean` is strictly higher than the current champion's (or there is none).

Tracking: `MLFLOW_TRACKING_URI` when set (production: the tracking server, PostgreSQL + S3 behind it), else for
the embedded target `sqlite:///$GOGOOKU_HOME/mlflow/mlflow.db` with artifacts in `$GOGOOKU_HOME/mlflow/artifacts`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gogooku.settings import ConfigError, Settings, load_settings
from gogooku.warehouse import open_warehouse
from ml.feature_store import MART_DB, MART_NAME, apply_repo, historical_features, mart_facts

log = logging.getLogger(__name__)

MODEL_NAME = "gogooku_ranker"
EXPERIMENT = "gogooku_ranker"
CHAMPION = "champion"
SERVICE = "ranker_v1"
SELECTION_METRIC = "rank_ic_mean"
HORIZONS = (1, 5, 20)
QUANTILES = 5
# At most this many labeled sessions (about four years) are trained on: the newest ones.
TRAIN_WINDOW_SESSIONS = 1000
MIN_TRAIN_SESSIONS = 20
PARALLEL_MIN_ROWS = 200_000
LGBM_PARAMS: dict[str, Any] = {
    "objective": "regression",
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "random_state": 7,
    "deterministic": True,
    "force_col_wise": True,
    "verbose": -1,
}


@dataclass(frozen=True)
class Split:
    """One walk-forward fold: train on `train` dates, validate on `valid` dates (both sorted)."""

    train: list[date]
    valid: list[date]


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    model_name: str
    model_version: str
    is_champion: bool
    """True when this version holds the `champion` alias after training."""
    champion_version: str
    """The version holding the alias after training (this one or the previous champion)."""
    metrics: dict[str, float]
    features: list[str]
    data_version: str
    as_of: date
    horizon: int
    n_folds: int
    tracking_uri: str
    rows: int
    seconds: float
    splits: list[Split] = field(repr=False, default_factory=list)


# --- validation splits ---------------------------------------------------------------------------------------


def walk_forward_splits(
    dates: Sequence[date], n_folds: int, horizon: int, embargo: int | None = None, min_train: int = MIN_TRAIN_SESSIONS
) -> list[Split]:
    """Expanding-window walk-forward folds over sorted distinct trading `dates`, purged and embargoed.

    With `block = len(dates) // (n_folds + 1)`, fold k (1..n_folds) validates on `dates[k*block:(k+1)*block]`
    (the last fold on `dates[n_folds*block:]`) and trains on `dates[:k*block - horizon - embargo]`. The first
    validation date is therefore exactly `horizon + embargo + 1` sessions after the last training date.
    """
    embargo = horizon if embargo is None else embargo
    if n_folds < 1 or horizon < 1 or embargo < 0:
        raise ValueError("walk_forward_splits needs n_folds >= 1, horizon >= 1 and embargo >= 0")
    dates = list(dates)
    if any(a >= b for a, b in zip(dates, dates[1:], strict=False)):
        raise ValueError("dates must be sorted and distinct")
    block = len(dates) // (n_folds + 1)
    gap = horizon + embargo
    if block - gap < min_train or block < 1:
        raise ValueError(
            f"{len(dates)} labeled sessions are too few for {n_folds} folds with a {gap}-session purge+embargo "
            f"and at least {min_train} training sessions in the first fold"
        )
    splits = []
    for k in range(1, n_folds + 1):
        start = k * block
        stop = (k + 1) * block if k < n_folds else len(dates)
        splits.append(Split(train=dates[: start - gap], valid=dates[start:stop]))
    return splits


# --- metrics -------------------------------------------------------------------------------------------------


def daily_rank_ic(frame: pd.DataFrame) -> pd.Series:
    """Spearman correlation of `pred` and `label` per `date` (NaN-free dates with at least 3 codes)."""

    def spearman(group: pd.DataFrame) -> float:
        if len(group) < 3:
            return float("nan")
        return group["pred"].rank().corr(group["label"].rank())

    ic = frame.groupby("date")[["pred", "label"]].apply(spearman)
    return ic.dropna().sort_index()


def quantile_returns(frame: pd.DataFrame, quantiles: int = QUANTILES) -> pd.DataFrame:
    """Mean label per prediction quantile per date (columns q1..qN, q1 = lowest predictions)."""
    ranked = frame.assign(pct=frame.groupby("date")["pred"].rank(method="first", pct=True))
    ranked["q"] = np.ceil(ranked["pct"] * quantiles).clip(1, quantiles).astype(int)
    table = ranked.pivot_table(index="date", columns="q", values="label", aggfunc="mean").sort_index()
    table.columns = [f"q{int(c)}" for c in table.columns]
    return table


def evaluate(frame: pd.DataFrame, horizon: int) -> tuple[dict[str, float], pd.Series, pd.DataFrame]:
    """Validation metrics of out-of-fold predictions (`date`, `pred`, `label`), the daily IC and quantile table."""
    ic = daily_rank_ic(frame)
    q = quantile_returns(frame)
    spread = q[f"q{QUANTILES}"] - q["q1"]
    # Non-overlapping h-session periods: every h-th validation date.
    periods = spread.iloc[::horizon]
    sd = periods.std(ddof=1)
    metrics = {
        "rank_ic_mean": float(ic.mean()),
        "rank_ic_std": float(ic.std(ddof=1)),
        "rank_ic_ir": float(ic.mean() / ic.std(ddof=1)) if ic.std(ddof=1) > 0 else 0.0,
        "ic_hit_rate": float((ic > 0).mean()),
        "long_short_ret": float(spread.mean()),
        "long_short_sharpe": float(periods.mean() / sd * math.sqrt(252 / horizon)) if sd > 0 else 0.0,
        "hit_rate": float((spread > 0).mean()),
        "val_days": float(len(ic)),
    }
    metrics |= {f"{c}_ret": float(q[c].mean()) for c in q.columns}
    return metrics, ic, q


# --- data ----------------------------------------------------------------------------------------------------


def labeled_rows(as_of: date, horizon: int, settings: Settings) -> pd.DataFrame:
    """(code, date, label) of every mart row whose `target_ret_{horizon}d` is known on `as_of`, newest
    TRAIN_WINDOW_SESSIONS sessions."""
    label = f"target_ret_{horizon}d"
    with open_warehouse(settings) as client:
        sessions = [
            r[0] for r in client.query(f"select distinct date from {MART_DB}.{MART_NAME} order by date").result_rows
        ]
        sessions = [d for d in sessions if d <= as_of]
        # The label of date t is realized at its h-th next session: it must be on or before as_of.
        known = sessions[: max(len(sessions) - horizon, 0)]
        known = known[-TRAIN_WINDOW_SESSIONS:]
        if not known:
            return pd.DataFrame(columns=["code", "date", "label"])
        frame = client.query_df(
            f"select code, date, {label} as label from {MART_DB}.{MART_NAME} "
            "where date between {lo:Date} and {hi:Date} and label is not null order by date, code",
            parameters={"lo": known[0], "hi": known[-1]},
        )
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame


def data_version(facts: dict[str, Any], as_of: date, horizon: int, frame: pd.DataFrame) -> str:
    """A short hash naming the training data: the mart's max date and row count, `as_of`, the horizon, and the
    content of the training matrix itself (so a corrected mart with the same shape gets a new version)."""
    content = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()
    key = (
        f"{MART_DB}.{MART_NAME}|max_date={facts['max_date']}|rows={facts['rows']}|as_of={as_of}|h={horizon}"
        f"|columns={','.join(frame.columns)}|content={content}"
    )
    return hashlib.sha256(key.encode()).hexdigest()[:12]


# --- MLflow --------------------------------------------------------------------------------------------------


def tracking_uri(settings: Settings | None = None) -> str:
    settings = settings or load_settings()
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    if settings.target == "server":
        raise ConfigError("GOGOOKU_TARGET=server needs MLFLOW_TRACKING_URI (the MLflow tracking server)")
    (settings.home / "mlflow").mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{settings.home / 'mlflow' / 'mlflow.db'}"


@contextmanager
def mlflow_tracking(settings: Settings | None = None) -> Iterator[tuple[str, str]]:
    """Point MLflow's fluent API (tracking and registry) at this project's store; yields (uri, experiment id).

    `mlflow.set_tracking_uri` also writes `MLFLOW_TRACKING_URI`/`MLFLOW_REGISTRY_URI` into os.environ (for
    subprocesses), which would make the next call in this process (say, for another GOGOOKU_HOME) take the
    previous store for a user setting: both are restored on exit.
    """
    import mlflow

    settings = settings or load_settings()
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    uri = tracking_uri(settings)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        experiment = mlflow.get_experiment_by_name(EXPERIMENT)
        if experiment is None:
            # A tracking server decides where artifacts go; a database URI would default to ./mlruns of the cwd.
            remote = uri.startswith(("http://", "https://", "databricks"))
            experiment_id = mlflow.create_experiment(
                EXPERIMENT, artifact_location=None if remote else _artifact_root(settings)
            )
        else:
            experiment_id = experiment.experiment_id
        yield uri, experiment_id
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _artifact_root(settings: Settings) -> str:
    root = os.environ.get("GOGOOKU_MLFLOW_ARTIFACT_ROOT")
    if root:
        return root
    path = settings.home / "mlflow" / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path.as_uri()


def champion_metric(client: Any, name: str = MODEL_NAME) -> tuple[str | None, float | None]:
    """(version, rank_ic_mean) of the version holding the `champion` alias, or (None, None)."""
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None, None
    value = version.tags.get(SELECTION_METRIC)
    if value is None and version.run_id:
        value = client.get_run(version.run_id).data.metrics.get(SELECTION_METRIC)
    return str(version.version), (float(value) if value is not None else None)


def promote_if_better(client: Any, version: str, score: float, name: str = MODEL_NAME) -> tuple[bool, str]:
    """Move the `champion` alias to `version` when `score` beats the champion's (strictly) or there is none.

    Returns (whether `version` is now the champion, the champion's version).
    """
    client.set_model_version_tag(name, version, SELECTION_METRIC, repr(float(score)))
    current, current_score = champion_metric(client, name)
    if current is not None and current_score is not None and not score > current_score:
        log.info("model %s v%s (%s=%.4f) does not beat champion v%s (%.4f)", name, version, SELECTION_METRIC, score,
                 current, current_score)  # fmt: skip
        return False, str(current)
    client.set_registered_model_alias(name, CHAMPION, version)
    log.info(
        "model %s v%s is the new champion (%s=%.4f, was %s)", name, version, SELECTION_METRIC, score, current_score
    )
    return True, version


# --- plots ---------------------------------------------------------------------------------------------------


def write_plots(ic: pd.Series, q: pd.DataFrame, importance: pd.Series, horizon: int, out: Path) -> list[Path]:
    """IC over time, cumulative quantile returns and feature importance, as PNGs in `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []

    fig, ax = plt.subplots(figsize=(9, 3.5))
    x = pd.to_datetime(pd.Index(ic.index))
    ax.bar(x, ic.to_numpy(), width=1.0, color=np.where(ic.to_numpy() >= 0, "#4c78a8", "#e45756"), alpha=0.6)
    ax.plot(x, ic.rolling(20, min_periods=5).mean().to_numpy(), color="black", lw=1.2, label="20-day mean")
    ax.axhline(ic.mean(), color="#4c78a8", ls="--", lw=1, label=f"mean {ic.mean():.3f}")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_title(f"Validation rank IC per day (target_ret_{horizon}d)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    paths.append(out / "ic_over_time.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 3.5))
    periods = q.iloc[::horizon]
    cumulative = (1 + periods).cumprod() - 1
    for column in cumulative.columns:
        ax.plot(pd.to_datetime(pd.Index(cumulative.index)), cumulative[column].to_numpy(), label=column)
    spread = (1 + periods[q.columns[-1]] - periods["q1"]).cumprod() - 1
    ax.plot(pd.to_datetime(pd.Index(spread.index)), spread.to_numpy(), color="black", lw=2, label="long-short")
    ax.set_title(f"Cumulative quintile returns, non-overlapping {horizon}-session periods (validation)")
    ax.legend(loc="upper left", fontsize=8, ncol=3)
    fig.tight_layout()
    paths.append(out / "cumulative_quintile_returns.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    top = importance.sort_values().tail(25)
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.28 * len(top))))
    ax.barh(top.index, top.to_numpy(), color="#4c78a8")
    ax.set_title("Feature importance (gain), final model")
    fig.tight_layout()
    paths.append(out / "feature_importance.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


# --- training ------------------------------------------------------------------------------------------------


def _fit(x: pd.DataFrame, y: pd.Series) -> Any:
    from lightgbm import LGBMRegressor

    # OpenMP threads pay off on large sets only; on a small one (or a busy machine) they mostly spin-wait.
    n_jobs = 1 if len(x) < PARALLEL_MIN_ROWS else (os.cpu_count() or 1)
    return LGBMRegressor(**LGBM_PARAMS, n_jobs=n_jobs).fit(x, y)


def train(as_of: date | None = None, horizon: int = 5, n_folds: int = 4) -> TrainResult:
    """Walk-forward validate, refit, log to MLflow, register `gogooku_ranker` and maybe move `champion`."""
    import mlflow
    from mlflow.models import infer_signature

    t0 = time.perf_counter()
    if horizon not in HORIZONS:
        raise ValueError(f"horizon must be one of {HORIZONS} (the mart's target_ret_<h>d labels), not {horizon}")
    settings = load_settings()
    facts = mart_facts(settings)
    as_of = as_of or facts["max_date"]
    labels = labeled_rows(as_of, horizon, settings)
    if labels.empty:
        raise ValueError(f"no labels of target_ret_{horizon}d are known on {as_of}")
    dates = sorted(labels["date"].unique())
    splits = walk_forward_splits(dates, n_folds, horizon)

    apply_repo(settings)  # the service must be registered (idempotent; materialize() applies it too)
    frame = historical_features(labels[["code", "date", "label"]], service=SERVICE)
    features = [c for c in frame.columns if c not in ("code", "date", "label", "event_timestamp")]
    frame = frame.sort_values(["date", "code"]).reset_index(drop=True)
    frame["target_rank"] = frame.groupby("date")["label"].rank(pct=True)
    version = data_version(facts, as_of, horizon, frame[["code", "date", "label", *features]])

    oof = []
    fold_ic = []
    for split in splits:
        train_part = frame[frame["date"].isin(set(split.train))]
        valid_part = frame[frame["date"].isin(set(split.valid))]
        model = _fit(train_part[features], train_part["target_rank"])
        pred = valid_part[["code", "date", "label"]].assign(pred=model.predict(valid_part[features]))
        oof.append(pred)
        fold_ic.append(float(daily_rank_ic(pred).mean()))
    oof_frame = pd.concat(oof, ignore_index=True)
    metrics, ic, q = evaluate(oof_frame, horizon)
    final = _fit(frame[features], frame["target_rank"])
    importance = pd.Series(final.booster_.feature_importance("gain"), index=features)

    with (
        mlflow_tracking(settings) as (uri, experiment_id),
        mlflow.start_run(experiment_id=experiment_id, run_name=f"{MODEL_NAME}-h{horizon}-{as_of}") as run,
    ):
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        mlflow.set_tags({"data_version": version, "feature_service": SERVICE, "horizon": horizon, "as_of": str(as_of)})
        mlflow.log_params(
            {
                "as_of": str(as_of),
                "horizon": horizon,
                "n_folds": n_folds,
                "purge_sessions": horizon,
                "embargo_sessions": horizon,
                "model": "LGBMRegressor on per-date percentile rank of the label",
                "label": f"target_ret_{horizon}d",
                "feature_service": SERVICE,
                "n_features": len(features),
                "rows": len(frame),
                "first_date": str(dates[0]),
                "last_date": str(dates[-1]),
                "data_version": version,
                "data_max_date": str(facts["max_date"]),
                "data_rows": facts["rows"],
                **{f"lgbm_{k}": v for k, v in LGBM_PARAMS.items()},
            }
        )
        mlflow.log_metrics(metrics)
        for k, value in enumerate(fold_ic, start=1):
            mlflow.log_metric("fold_rank_ic_mean", value, step=k)
        mlflow.log_dict({"features": features, "service": SERVICE}, "features.json")
        mlflow.log_dict(
            {
                "folds": [
                    {"train": [str(s.train[0]), str(s.train[-1])], "valid": [str(s.valid[0]), str(s.valid[-1])]}
                    for s in splits
                ]
            },
            "splits.json",
        )
        with tempfile.TemporaryDirectory() as tmp:
            write_plots(ic, q, importance, horizon, Path(tmp))
            ic.rename("rank_ic").to_frame().to_csv(Path(tmp) / "daily_rank_ic.csv", index_label="date")
            mlflow.log_artifacts(tmp, artifact_path="plots")
        sample = frame[features].head(5)
        # The native Booster (LightGBM's own text format): no pickle/skops, and explicit requirements spare
        # MLflow its dependency inference (a subprocess that re-imports the model).
        info = mlflow.lightgbm.log_model(
            final.booster_,
            name="model",
            signature=infer_signature(sample, final.predict(sample)),
            registered_model_name=MODEL_NAME,
            pip_requirements=mlflow.lightgbm.get_default_pip_requirements(),
        )
        model_version = str(info.registered_model_version)
        client.set_model_version_tag(MODEL_NAME, model_version, "data_version", version)
        is_champion, champion_version = promote_if_better(client, model_version, metrics[SELECTION_METRIC])
        mlflow.set_tag("champion", str(is_champion).lower())
    return TrainResult(
        run_id=run.info.run_id,
        model_name=MODEL_NAME,
        model_version=model_version,
        is_champion=is_champion,
        champion_version=champion_version,
        metrics=metrics,
        features=features,
        data_version=version,
        as_of=as_of,
        horizon=horizon,
        n_folds=n_folds,
        tracking_uri=uri,
        rows=len(frame),
        seconds=time.perf_counter() - t0,
        splits=splits,
    )
