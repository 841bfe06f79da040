"""A static HTML report on the warehouse and the model: `write_report()` -> `$GOGOOKU_HOME/report/index.html`.

Sections: data coverage (rows and date range of every table of the four layers, and codes per day in the feature
mart), data tests (the newest dbt run results: the project's `target/run_results.json` after `gogooku build`, or
those of the dbt steps of the newest Dagster run under `$GOGOOKU_HOME/dbt/runs/`), feature distributions (summary
statistics over the whole mart and histograms of a sample), and model performance (the latest MLflow run of
`gogooku_ranker`: metrics, parameters, its plots, and the registered versions with the champion).

A section whose source is missing (no mart yet, no dbt run, no model) says so instead of failing the report.
PNGs are written beside `index.html` and referenced by relative paths, so the directory can be copied anywhere.
"""

from __future__ import annotations

import html
import json
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from gogooku.settings import DBT_PROJECT_DIR, Settings, load_settings
from gogooku.warehouse import open_warehouse

log = logging.getLogger(__name__)

LAYERS = ("jquants_raw", "staging", "intermediate", "marts")
FEATURE_MART = "marts.fct_daily_features"
HISTOGRAM_FEATURES = ("ret_5d", "rsi_14", "vol_20d", "volume_ratio_20", "beta_60d", "target_ret_5d")
HISTOGRAM_SAMPLE_ROWS = 200_000
REPORT_METRICS = (
    "rank_ic_mean",
    "rank_ic_std",
    "rank_ic_ir",
    "ic_hit_rate",
    "long_short_ret",
    "long_short_sharpe",
    "hit_rate",
    *(f"q{i}_ret" for i in range(1, 6)),
    "val_days",
)
REPORT_PARAMS = ("as_of", "horizon", "n_folds", "purge_sessions", "embargo_sessions", "rows", "n_features",
                 "first_date", "last_date", "data_version", "feature_service")  # fmt: skip


def write_report(out_dir: Path | None = None) -> Path:
    """Write the report (HTML + PNGs) into `out_dir` (default `$GOGOOKU_HOME/report`); returns the HTML path."""
    settings = load_settings()
    out = Path(out_dir) if out_dir else settings.home / "report"
    out.mkdir(parents=True, exist_ok=True)
    sections = [
        ("Data coverage", _guarded(coverage_section, settings, out)),
        ("Data tests", _guarded(data_tests_section, settings)),
        ("Feature distributions", _guarded(features_section, settings, out)),
        ("Model performance", _guarded(model_section, settings, out)),
    ]
    page = _page(settings, sections)
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _guarded(section, *args) -> str:  # noqa: ANN001 - a section function
    try:
        return section(*args)
    except Exception as exc:  # one broken source must not cost the whole report
        log.warning("report section %s failed: %s", section.__name__, exc, exc_info=True)
        return _note(f"This section could not be built: {type(exc).__name__}: {exc}")


# --- sections ------------------------------------------------------------------------------------------------


def coverage_section(settings: Settings, out: Path) -> str:
    from ml.feature_store import release_offline_client

    release_offline_client()  # chDB: Feast's cached client would hold the directory open_warehouse needs
    with open_warehouse(settings) as client:
        tables = client.query(
            "select database, name, engine from system.tables where database in {layers:Array(String)} "
            "order by database, name",
            parameters={"layers": list(LAYERS)},
        ).result_rows
        date_columns: dict[tuple[str, str], str] = {}
        for db, table, column, _type in client.query(
            "select database, table, name, type from system.columns where database in {layers:Array(String)} "
            "and type like '%Date%' and type not like '%Array%' and type not like '%Map%' "
            "order by database, table, name in ('date', 'Date') desc, position",
            parameters={"layers": list(LAYERS)},
        ).result_rows:
            date_columns.setdefault((db, table), column)
        rows = []
        for db, table, engine in tables:
            column = date_columns.get((db, table))
            select = f"count(), min(`{column}`), max(`{column}`)" if column else "count(), null, null"
            count, first, last = client.query(f"select {select} from `{db}`.`{table}`").result_rows[0]
            rows.append([db, table, engine, f"{count:,}", column or "", _fmt(first), _fmt(last)])
        per_day = None
        if any(f"{db}.{t}" == FEATURE_MART for db, t, _ in tables):
            per_day = client.query_df(
                f"select date, uniqExact(code) as codes from {FEATURE_MART} group by date order by date"
            )
    if not rows:
        return _note("The warehouse has no tables yet: run `gogooku ingest` and `gogooku build`.")
    body = _table(["database", "table", "engine", "rows", "date column", "first", "last"], rows)
    if per_day is not None and not per_day.empty:
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(9, 2.8))
        ax.plot(pd.to_datetime(per_day["date"]), per_day["codes"], lw=1)
        ax.set_title(f"Codes per trading day in {FEATURE_MART}")
        ax.set_ylim(bottom=0)
        fig.tight_layout()
        fig.savefig(out / "coverage_codes_per_day.png", dpi=110)
        plt.close(fig)
        body += _img("coverage_codes_per_day.png", "codes per day")
    return body


def run_results_path() -> Path:
    """dbt's run_results.json of the project (`DBT_TARGET_PATH` honoured like dbt does)."""
    target = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    return (target if target.is_absolute() else DBT_PROJECT_DIR / target) / "run_results.json"


# Commands whose run_results.json holds built nodes and test results; `compile` and `docs generate` (which
# compiles) write one too, of compiled nodes only, and must not hide the build before them.
BUILD_COMMANDS = frozenset({"build", "test", "run", "seed", "snapshot", "retry"})


@dataclass(frozen=True)
class DbtRunResults:
    """One dbt invocation's run_results.json."""

    path: Path
    generated_at: datetime
    """`metadata.generated_at`, else the file's modification time."""
    command: str
    """`args.which` (build, test, ...), or "" when the file does not say."""
    dagster_run_id: str
    """The Dagster run whose step ran dbt (`metadata.env.DAGSTER_RUN_ID`), or "" for dbt run by hand."""
    results: list[dict[str, Any]]


def read_run_results(path: Path) -> DbtRunResults | None:
    """`path` parsed, or None when it is unreadable or is not the results of a build-like command."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        mtime = path.stat().st_mtime
    except (OSError, ValueError) as exc:
        log.warning("skipping dbt run results %s: %s", path, exc)
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        return None
    metadata = payload.get("metadata") or {}
    command = str((payload.get("args") or {}).get("which") or "")
    if command and command not in BUILD_COMMANDS:
        return None
    generated = datetime.fromtimestamp(mtime, UTC)
    try:
        stamp = datetime.fromisoformat(str(metadata.get("generated_at") or ""))
        generated = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    except ValueError:
        pass
    run_id = str((metadata.get("env") or {}).get("DAGSTER_RUN_ID") or "")
    return DbtRunResults(path, generated, command, run_id, payload["results"])


def latest_run_results(settings: Settings) -> list[DbtRunResults]:
    """The newest dbt run results (by `generated_at`) among the project's target and the Dagster runs' dbt
    steps, oldest first: when the newest came from a Dagster run, every dbt step of that run (a daily refresh
    runs two, the whole-history models and the incremental ones); else that one file. Empty when dbt never ran.
    """
    paths = [run_results_path()]
    runs = settings.dbt_runs_dir
    if runs.is_dir():
        paths += sorted(runs.glob("*/run_results.json"))
    found = [r for r in map(read_run_results, paths) if r is not None]
    if not found:
        return []
    newest = max(found, key=lambda r: r.generated_at)
    same_run = [r for r in found if newest.dagster_run_id and r.dagster_run_id == newest.dagster_run_id]
    return sorted(same_run or [newest], key=lambda r: r.generated_at)


def _describe_source(runs: list[DbtRunResults], settings: Settings) -> str:
    def where(r: DbtRunResults) -> str:
        roots = ((settings.home, "$GOGOOKU_HOME/"), (DBT_PROJECT_DIR.parent, ""))
        for root, label in roots:
            if r.path.is_relative_to(root):
                return label + r.path.relative_to(root).as_posix()
        return str(r.path)

    files = ", ".join(f"<code>{html.escape(where(r))}</code>" for r in runs)
    command = "/".join(sorted({r.command for r in runs if r.command})) or "dbt"
    stamp = html.escape(f"{runs[-1].generated_at:%Y-%m-%d %H:%M:%S %Z}".strip())
    if runs[-1].dagster_run_id:
        steps = f"{len(runs)} dbt step{'s' if len(runs) > 1 else ''}"
        return (
            f"dbt {html.escape(command)} of {stamp} in Dagster run "
            f"<code>{html.escape(runs[-1].dagster_run_id)}</code> ({steps}: {files})"
        )
    return f"dbt {html.escape(command)} of {stamp} ({files})"


def data_tests_section(settings: Settings) -> str:
    runs = latest_run_results(settings)
    if not runs:
        return _note(
            f"No dbt run results at {run_results_path()} or under {settings.dbt_runs_dir}: run "
            "`gogooku build` (dbt build) or `gogooku refresh` to test the data."
        )
    results = [r for run in runs for r in run.results]
    tests = [r for r in results if r["unique_id"].split(".")[0] in ("test", "unit_test")]
    others = [r for r in results if r not in tests]
    counts: dict[str, int] = {}
    for r in tests:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no tests in this run"
    body = f"<p>Results of {_describe_source(runs, settings)}.</p>"
    body += f"<p><b>{len(tests)}</b> data and unit tests: {html.escape(summary)}; "
    body += f"{len(others)} other nodes (models, seeds, snapshots).</p>"
    bad = [r for r in tests if r["status"] not in ("pass", "success")]
    if bad:
        body += _table(
            ["test", "status", "failures", "message"],
            [[r["unique_id"], r["status"], r.get("failures") or "", (r.get("message") or "")[:300]] for r in bad],
            row_class=lambda row: "bad" if row[1] in ("fail", "error") else "warn",
        )
    else:
        body += "<p class='ok'>Every test passed.</p>"
    failed_nodes = [r for r in others if r["status"] not in ("success", "pass")]
    if failed_nodes:
        body += _table(
            ["node", "status", "message"],
            [[r["unique_id"], r["status"], (r.get("message") or "")[:300]] for r in failed_nodes],
            row_class=lambda row: "bad",
        )
    return body


def features_section(settings: Settings, out: Path) -> str:
    with open_warehouse(settings) as client:
        columns = {
            r[0]
            for r in client.query(
                "select name from system.columns where database = 'marts' and table = 'fct_daily_features'"
            ).result_rows
        }
        features = [f for f in HISTOGRAM_FEATURES if f in columns]
        if not features:
            return _note(f"{FEATURE_MART} does not exist yet (or has none of {', '.join(HISTOGRAM_FEATURES)}).")
        stats_sql = ", ".join(
            f"count(`{f}`), countIf(`{f}` is null) / count(), avg(`{f}`), stddevSamp(`{f}`), "
            f"quantiles(0.01, 0.5, 0.99)(`{f}`)"
            for f in features
        )
        stats = client.query(f"select count(), {stats_sql} from {FEATURE_MART}").result_rows[0]
        total = stats[0]
        every = max(1, total // HISTOGRAM_SAMPLE_ROWS)
        sample = client.query_df(
            f"select {', '.join(f'`{f}`' for f in features)} from {FEATURE_MART} "
            f"where cityHash64(code, date) % {every} = 0"
        )
    rows = []
    for i, feature in enumerate(features):
        n, null_share, mean, std, q = stats[1 + 5 * i : 6 + 5 * i]
        q = q or [None, None, None]
        rows.append([feature, f"{n:,}", f"{(null_share or 0):.1%}", _num(mean), _num(std), *map(_num, q)])
    body = _table(["feature", "non-null", "null share", "mean", "std", "p1", "median", "p99"], rows)
    plt = _pyplot()
    ncols = 3
    nrows = -(-len(features) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(10, 2.8 * nrows), squeeze=False)
    for ax, feature in zip(axes.flat, features, strict=False):
        values = pd.to_numeric(sample[feature], errors="coerce").dropna()
        if not values.empty:
            lo, hi = values.quantile([0.005, 0.995])
            ax.hist(values.clip(lo, hi), bins=50, color="#4c78a8")
        ax.set_title(feature, fontsize=9)
    for ax in list(axes.flat)[len(features) :]:
        ax.axis("off")
    fig.suptitle(f"Distributions ({len(sample):,} sampled rows, clipped to p0.5..p99.5)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "feature_distributions.png", dpi=110)
    plt.close(fig)
    return body + _img("feature_distributions.png", "feature distributions")


def model_section(settings: Settings, out: Path) -> str:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from ml.training import CHAMPION, EXPERIMENT, MODEL_NAME, SELECTION_METRIC, tracking_uri

    uri = tracking_uri(settings)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return _note("No model has been trained yet: run `gogooku train`.")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = (
        client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1)
        if experiment
        else []
    )
    if not runs:
        return _note("No model has been trained yet: run `gogooku train`.")
    run = runs[0]
    started = datetime.fromtimestamp(run.info.start_time / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = (
        f"<p>Latest run <code>{html.escape(run.info.run_id)}</code> ({html.escape(run.info.run_name or '')}), "
        f"started {started}, tracking <code>{html.escape(_redact(uri))}</code>.</p>"
    )
    metrics = run.data.metrics
    body += _table(["metric", "value"], [[m, _num(metrics[m])] for m in REPORT_METRICS if m in metrics])
    params = run.data.params
    body += _table(["parameter", "value"], [[p, params[p]] for p in REPORT_PARAMS if p in params])

    plots = out / "model"
    if plots.exists():
        shutil.rmtree(plots)
    plots.mkdir(parents=True)
    progress = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # no progress bar on stderr for 4 small files
    try:
        client.download_artifacts(run.info.run_id, "plots", str(plots))
    except (MlflowException, OSError) as exc:
        body += _note(f"The run's plots could not be downloaded: {exc}")
    finally:
        if progress is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = progress
    order = ["ic_over_time", "cumulative_quintile_returns", "feature_importance"]
    for png in sorted(plots.rglob("*.png"), key=lambda p: (order.index(p.stem) if p.stem in order else 99, p.name)):
        body += _img(png.relative_to(out).as_posix(), png.stem.replace("_", " "))

    try:
        versions = client.search_model_versions(f"name = '{MODEL_NAME}'")
    except MlflowException:
        versions = []
    if versions:
        try:  # search results do not carry aliases on every backend: ask for the champion directly
            champion = str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version)
        except MlflowException:
            champion = None
        rows = []
        for v in sorted(versions, key=lambda v: int(v.version), reverse=True)[:10]:
            aliases = ", ".join(
                sorted(set(getattr(v, "aliases", None) or []) | ({CHAMPION} if str(v.version) == champion else set()))
            )
            rows.append(
                [v.version, aliases, v.tags.get(SELECTION_METRIC, ""), v.tags.get("data_version", ""), v.run_id]
            )
        body += f"<h3>Registered versions of {MODEL_NAME}</h3>"
        body += f"<p>Alias <code>{CHAMPION}</code>: the version with the best {SELECTION_METRIC}.</p>"
        body += _table(
            ["version", "aliases", SELECTION_METRIC, "data version", "run"],
            rows,
            row_class=lambda row: "ok" if CHAMPION in row[1] else "",
        )
    return body


# --- HTML helpers --------------------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _num(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _redact(uri: str) -> str:
    """A URI without its password."""
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return uri


def _note(text: str) -> str:
    return f"<p class='note'>{html.escape(text)}</p>"


def _img(src: str, alt: str) -> str:
    return f"<figure><img src='{html.escape(src)}' alt='{html.escape(alt)}'></figure>"


def _table(header: list[str], rows: list[list[Any]], row_class=None) -> str:  # noqa: ANN001
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for row in rows:
        cls = row_class(row) if row_class else ""
        cells = "".join(f"<td>{html.escape(str(c))}</td>" for c in row)
        body.append(f"<tr class='{cls}'>{cells}</tr>" if cls else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _page(settings: Settings, sections: list[tuple[str, str]]) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    nav = " · ".join(f"<a href='#s{i}'>{html.escape(t)}</a>" for i, (t, _) in enumerate(sections))
    parts = "".join(f"<section id='s{i}'><h2>{html.escape(t)}</h2>{b}</section>" for i, (t, b) in enumerate(sections))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gogooku3 report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: .6em 0 1.2em; font-size: .88em; }}
th, td {{ border: 1px solid #ddd; padding: .25em .6em; text-align: left; }}
th {{ background: #f3f3f3; }} tr.bad td {{ background: #fde2e1; }} tr.warn td {{ background: #fff4d6; }}
tr.ok td, p.ok {{ background: #e3f5e1; }} p.note {{ color: #666; font-style: italic; }}
img {{ max-width: 100%; }} figure {{ margin: .5em 0 1.5em; }} code {{ font-size: .9em; }}
</style></head><body>
<h1>gogooku3 report</h1>
<p>Generated {now} · target <code>{html.escape(settings.target)}</code> · {nav}</p>
{parts}
</body></html>
"""
