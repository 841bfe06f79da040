"""Training: purged/embargoed walk-forward splits, metrics, labels known as of a date, and the champion rule on
MLflow with a SQLite store and (once) a PostgreSQL backend store."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from synthetic_mart import create_mart, synthetic_mart, trading_days

from gogooku.settings import load_settings
from ml import training
from ml.feature_repo.features import PRICE_LEVEL_COLUMNS, VIEW_COLUMNS
from ml.training import CHAMPION, MODEL_NAME, SELECTION_METRIC, Split, walk_forward_splits

# --- walk-forward splits -------------------------------------------------------------------------------------


def test_walk_forward_splits_exact_dates() -> None:
    days = trading_days(60)
    # block = 60 // 3 = 20; purge 5 + embargo 5 = 10 sessions between the last train and the first valid date.
    splits = walk_forward_splits(days, n_folds=2, horizon=5, min_train=5)
    assert splits == [
        Split(train=days[:10], valid=days[20:40]),
        Split(train=days[:30], valid=days[40:60]),
    ]
    assert days.index(splits[0].valid[0]) - days.index(splits[0].train[-1]) == 5 + 5 + 1


@pytest.mark.parametrize(("n", "folds", "horizon", "embargo"), [(300, 4, 5, None), (250, 3, 20, 0), (180, 5, 1, 3)])
def test_walk_forward_splits_are_purged_and_embargoed(n: int, folds: int, horizon: int, embargo: int | None) -> None:
    days = trading_days(n)
    gap = horizon + (horizon if embargo is None else embargo)
    splits = walk_forward_splits(days, folds, horizon, embargo)
    assert len(splits) == folds
    index = {d: i for i, d in enumerate(days)}
    for k, split in enumerate(splits):
        first_valid, last_train = index[split.valid[0]], index[split.train[-1]]
        # Every training label (realized `horizon` sessions after its date) is known before validation starts,
        # and `embargo` more sessions separate the two sides.
        assert last_train + horizon < first_valid
        assert first_valid - last_train - 1 == gap >= horizon
        assert split.train == days[: last_train + 1], "training is an expanding window from the first date"
        assert split.valid == days[first_valid : first_valid + len(split.valid)], "validation is contiguous"
        if k:
            assert (
                split.valid[0] > splits[k - 1].valid[-1] and index[split.valid[0]] == index[splits[k - 1].valid[-1]] + 1
            )
    assert splits[-1].valid[-1] == days[-1], "the folds validate up to the last labeled date"


def test_walk_forward_splits_reject_too_little_history() -> None:
    with pytest.raises(ValueError, match="too few"):
        walk_forward_splits(trading_days(40), n_folds=4, horizon=5)
    with pytest.raises(ValueError, match="sorted"):
        walk_forward_splits(list(reversed(trading_days(100))), n_folds=2, horizon=1)


# --- metrics -------------------------------------------------------------------------------------------------


def test_evaluate_on_perfect_and_inverted_predictions() -> None:
    rng = np.random.default_rng(0)
    days = trading_days(50)
    frame = pd.DataFrame({"date": np.repeat(days, 25), "label": rng.normal(0, 0.03, 50 * 25)})
    metrics, ic, quintiles = training.evaluate(frame.assign(pred=frame["label"]), horizon=5)
    assert metrics["rank_ic_mean"] == pytest.approx(1.0)
    assert metrics["ic_hit_rate"] == metrics["hit_rate"] == 1.0
    assert list(quintiles.columns) == ["q1", "q2", "q3", "q4", "q5"]
    assert metrics["q1_ret"] < metrics["q3_ret"] < metrics["q5_ret"]
    assert metrics["long_short_ret"] == pytest.approx(metrics["q5_ret"] - metrics["q1_ret"])
    assert metrics["long_short_sharpe"] > 0 and len(ic) == 50

    inverted, _, _ = training.evaluate(frame.assign(pred=-frame["label"]), horizon=5)
    assert inverted["rank_ic_mean"] == pytest.approx(-1.0)
    assert inverted["hit_rate"] == 0.0 and inverted["long_short_sharpe"] < 0


def test_labels_are_only_those_known_on_as_of(mart: pd.DataFrame, gogooku_home: Path) -> None:
    days = sorted(mart["date"].unique())
    as_of = days[100]
    labels = training.labeled_rows(as_of, 5, load_settings())
    # target_ret_5d of date t is realized at t's 5th next session, which must be on or before as_of.
    assert max(labels["date"]) == days[95]
    assert len(labels) == 40 * 96


# --- MLflow and the champion rule ----------------------------------------------------------------------------


def test_train_logs_to_mlflow_and_the_champion_moves_only_for_a_better_model(gogooku_home: Path) -> None:
    create_mart(synthetic_mart(signal=0.0, seed=1))  # nothing to learn
    first = training.train(n_folds=3)
    assert first.tracking_uri == f"sqlite:///{gogooku_home / 'mlflow' / 'mlflow.db'}"
    assert first.is_champion and first.champion_version == first.model_version == "1"
    assert abs(first.metrics[SELECTION_METRIC]) < 0.1

    create_mart(synthetic_mart(signal=1.0, seed=2))  # target_ret_5d driven by rsi_14
    better = training.train(n_folds=3)
    assert better.metrics[SELECTION_METRIC] > 0.3
    assert better.is_champion and better.champion_version == better.model_version == "2"
    assert better.data_version != first.data_version, "same shape and dates, other content: another version"

    create_mart(synthetic_mart(signal=0.0, seed=3))
    worse = training.train(n_folds=3)
    assert worse.model_version == "3"
    assert not worse.is_champion and worse.champion_version == "2"

    client = mlflow.MlflowClient(tracking_uri=first.tracking_uri, registry_uri=first.tracking_uri)
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version) == "2"
    run = client.get_run(better.run_id)
    assert run.data.metrics[SELECTION_METRIC] == pytest.approx(better.metrics[SELECTION_METRIC])
    for metric in ("rank_ic_ir", "long_short_ret", "long_short_sharpe", "hit_rate", "q5_ret"):
        assert metric in run.data.metrics
    assert run.data.params["data_version"] == better.data_version
    assert run.data.params["purge_sessions"] == run.data.params["embargo_sessions"] == "5"
    assert run.data.tags["feature_service"] == "ranker_v1"
    artifacts = {a.path for a in client.list_artifacts(better.run_id, "plots")}
    assert {
        "plots/ic_over_time.png",
        "plots/cumulative_quintile_returns.png",
        "plots/feature_importance.png",
    } <= artifacts
    assert {a.path for a in client.list_artifacts(better.run_id)} >= {"features.json", "splits.json"}
    core = [c for view, columns in VIEW_COLUMNS.items() if view != "flow_features" for c in columns]
    assert better.features == [c for c in core if c not in PRICE_LEVEL_COLUMNS], "ranker_v1: the scale-free features"
    assert "rsi_14" in better.features and not any(f.startswith("target_") for f in better.features)
    assert (gogooku_home / "mlflow" / "artifacts").is_dir()

    # The registered champion loads and ranks by the signal it learned.
    with training.mlflow_tracking():
        model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    frame = synthetic_mart(codes=10, days=5, signal=1.0, seed=9)
    scores = model.predict(frame[better.features])
    assert np.corrcoef(scores, frame["rsi_14"])[0, 1] > 0.5


def test_tracking_leaves_no_mlflow_setting_behind(gogooku_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with training.mlflow_tracking() as (uri, _):
        assert mlflow.get_tracking_uri() == uri == f"sqlite:///{gogooku_home / 'mlflow' / 'mlflow.db'}"
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    assert training.tracking_uri() == "sqlite:///elsewhere.db"


def test_champion_rule_on_a_postgresql_backend_store(
    mart: pd.DataFrame, gogooku_home: Path, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"postgresql+psycopg://postgres@127.0.0.1:5432/{postgres_database}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    result = training.train(as_of=date(2023, 12, 29), n_folds=2)
    assert result.tracking_uri == uri and result.is_champion and result.model_version == "1"
    score = result.metrics[SELECTION_METRIC]

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    source = client.get_model_version(MODEL_NAME, "1").source

    def new_version() -> str:
        return str(client.create_model_version(MODEL_NAME, source, run_id=result.run_id).version)

    worse = new_version()
    assert training.promote_if_better(client, worse, score - 0.01) == (False, "1")
    equal = new_version()
    assert training.promote_if_better(client, equal, score) == (False, "1"), "a tie does not move the alias"
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version) == "1"
    better = new_version()
    assert training.promote_if_better(client, better, score + 0.01) == (True, better)
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version) == better
    assert client.get_model_version(MODEL_NAME, better).tags[SELECTION_METRIC] == repr(score + 0.01)
