"""The `gogooku` command. Bad input ends with one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NoReturn

from gogooku.settings import DBT_PROJECT_DIR, DBT_SKIP_UNIT_TESTS, ConfigError, load_settings

log = logging.getLogger("gogooku")


class UsageError(ValueError):
    """Bad input from the user: printed as one line."""


class _Parser(argparse.ArgumentParser):
    """Bad arguments end with one line on stderr and exit 2 (argparse would print the usage lines first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def cmd_ingest(args: argparse.Namespace) -> int:
    from gogooku import metrics
    from gogooku.warehouse import open_warehouse
    from ingestion.api import JQuantsClient
    from ingestion.ingest import ingest_api, ingest_bulk
    from ingestion.schema import resolve_datasets

    if not args.bulk:
        if not (args.start and args.end):
            raise UsageError("gogooku ingest needs --start and --end (or --bulk DIR)")
        datasets = resolve_datasets(args.datasets)
        api = JQuantsClient()
    report = None
    try:
        with metrics.timed("ingest", "ingest_bulk" if args.bulk else "ingest_api"), open_warehouse() as client:
            since = datetime.now(UTC)  # the warehouse is ours from here: loads committed since are this run's
            try:
                if args.bulk:
                    report = ingest_bulk(client, Path(args.bulk), force=args.force)
                else:
                    report = ingest_api(client, api, datasets, args.start, args.end, force=args.force)
            finally:  # what was committed before a failure is reported too
                metrics.record_ingest(report, client, since)
                metrics.record_freshness(client)
    finally:
        if report is not None and not report.errors:
            metrics.record_success("ingest")
        metrics.push("ingest")
    for name in sorted(set(report.rows) | set(report.skipped)):
        print(
            f"{name:<26} {report.rows.get(name, 0):>10,} rows  {report.days.get(name, 0):>5} landed"
            f"  {report.skipped.get(name, 0):>5} already landed"
        )
    for err in report.errors:
        print(f"error: {err}", file=sys.stderr)
    return 1 if report.errors else 0


def cmd_sample(args: argparse.Namespace) -> int:
    from ingestion.sample import write_sample_market

    kwargs = {
        k: v for k, v in (("codes", args.codes), ("start", args.start), ("end", args.end), ("seed", args.seed)) if v
    }
    rows = write_sample_market(Path(args.out), **kwargs)
    for name, n in rows.items():
        print(f"{name:<26} {n:>10,} rows")
    print(f"sample market written to {Path(args.out).resolve()}")
    return 0


def dbt_env() -> dict[str, str]:
    """Environment for a dbt subprocess: the same GOGOOKU_HOME/target as this process, made absolute."""
    settings = load_settings()
    return {**os.environ, "GOGOOKU_HOME": str(settings.home), "GOGOOKU_TARGET": settings.target}


def run_dbt(dbt_args: list[str]) -> int:
    """Run dbt in dbt_project/ as a subprocess (it opens the embedded warehouse itself, then releases it)."""
    dbt = Path(sys.executable).with_name("dbt")
    cmd = [str(dbt) if dbt.exists() else "dbt", *dbt_args]
    return subprocess.call(cmd, cwd=DBT_PROJECT_DIR, env=dbt_env())


def cmd_build(args: argparse.Namespace) -> int:
    from gogooku import metrics

    started = time.time()
    with metrics.timed("build", "dbt_build"):
        code = run_dbt(["build", *args.dbt_args])
    metrics.record_dbt_results(metrics.run_results_path(args.dbt_args), newer_than=started)
    if code == 0:
        metrics.record_success("build")
    metrics.push("build")
    return code


def cmd_metrics(args: argparse.Namespace) -> int:
    from gogooku import metrics
    from gogooku.warehouse import open_warehouse

    with open_warehouse() as client:
        metrics.record_freshness(client)
    if args.once:
        sys.stdout.write(metrics.exposition().decode("utf-8"))
        return 0
    metrics.run_server(args.port, args.addr, args.interval)
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from gogooku.warehouse import open_warehouse

    with open_warehouse() as client:
        out = client.raw_query(args.query, fmt=args.format)
    sys.stdout.write(out.decode("utf-8", errors="replace"))
    return 0


def cmd_materialize(args: argparse.Namespace) -> int:
    from ml.feature_store import materialize

    print(materialize())
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from ml.training import train

    result = train(as_of=args.as_of, horizon=args.horizon, n_folds=args.folds)
    print(_describe_model(result))
    return 0


def _describe_model(result) -> str:
    rank_ic = result.metrics.get("rank_ic_mean", float("nan"))
    state = "champion" if result.is_champion else f"champion stays version {result.champion_version}"
    return f"model {result.model_name} version {result.model_version}: validation RankIC {rank_ic:.4f} ({state})"


def cmd_refresh(args: argparse.Namespace) -> int:
    from orchestration.refresh import refresh

    return 0 if refresh(args.date) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    """What `make run` runs: the whole daily pipeline over the bundled sample market, with progress."""
    import time

    from gogooku.warehouse import open_warehouse
    from ingestion.ingest import ingest_bulk
    from ingestion.sample import write_sample_market

    settings = load_settings()
    sample_dir = settings.home / "sample"
    steps = 6
    started = time.monotonic()

    def step(n: int, what: str) -> None:
        print(f"[{n}/{steps}] {what} ({time.monotonic() - started:.0f}s)", flush=True)

    step(1, f"writing the sample market to {sample_dir}")
    write_sample_market(sample_dir, codes=args.codes)
    step(2, "landing it in jquants_raw (gogooku ingest --bulk)")
    with open_warehouse() as client:
        report = ingest_bulk(client, sample_dir)
    if report.errors:
        raise RuntimeError(f"ingest failed: {report.errors[0]}")
    step(3, "dbt build: staging, calendar, adjustment, features, data tests")
    if run_dbt(["build", *DBT_SKIP_UNIT_TESTS]) != 0:
        raise RuntimeError("dbt build failed (see above); the marts keep their last good data")
    # --no-compile: compiling would replace the build's target/run_results.json (the report's data tests)
    run_dbt(["docs", "generate", "--quiet", "--no-compile"])
    from ml.feature_store import materialize, online_features
    from ml.report import write_report
    from ml.training import train

    step(4, "Feast: apply and materialize the online store")
    materialize()
    with open_warehouse() as client:
        code = client.command("select min(code) from marts.fct_daily_features")
    online = online_features([code])
    shown = {k: v[0] for k, v in online.items() if k in ("code", "ret_5d", "rsi_14", "vol_20d", "beta_60d")}
    print(f"      online features served for {code}: {shown}")
    step(5, "MLflow: training the LightGBM ranker on target_ret_5d")
    result = train()
    print(f"      {_describe_model(result)}")
    step(6, "writing the report")
    html = write_report()
    print(
        f"\ndone in {time.monotonic() - started:.0f}s. Where to look:\n"
        f"  report       {html}\n"
        f"  dbt docs     cd dbt_project && ../.venv/bin/dbt docs serve\n"
        f'  Dagster UI   eval "$(.venv/bin/python -m orchestration.instance)" && .venv/bin/dagster dev\n'
        f"  MLflow UI    .venv/bin/mlflow ui --backend-store-uri {result.tracking_uri}\n"
        f'  SQL          .venv/bin/gogooku sql "select * from marts.fct_daily_features limit 5"'
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gogooku", description=__doc__)  # subparsers inherit the class
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="land J-Quants v2 data (API range or bulk files) in jquants_raw")
    p.add_argument("--start", type=_date)
    p.add_argument("--end", type=_date)
    p.add_argument("--datasets", help="comma-separated datasets (table names or API paths); default all")
    p.add_argument("--bulk", metavar="DIR", help="land J-Quants bulk CSV / CSV.gz files from DIR")
    p.add_argument("--force", action="store_true", help="land again what was already landed")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("sample", help="write the synthetic sample market as bulk files")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--codes", type=int)
    p.add_argument("--start", type=_date)
    p.add_argument("--end", type=_date)
    p.add_argument("--seed", type=int)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("build", help="dbt build on the active target (extra args go to dbt)")
    p.add_argument("dbt_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("refresh", help="the Dagster daily-refresh job for a trading day, in process")
    p.add_argument("--date", type=_date, help="trading day (default: the latest one)")
    p.set_defaults(func=cmd_refresh)

    p = sub.add_parser("materialize", help="Feast apply + materialize-incremental")
    p.set_defaults(func=cmd_materialize)

    p = sub.add_parser("train", help="train the LightGBM ranker and register it in MLflow")
    p.add_argument("--as-of", type=_date, help="last date of training data (default: the newest labelled date)")
    p.add_argument("--horizon", type=int, default=5, help="label horizon in sessions (target_ret_<N>d)")
    p.add_argument("--folds", type=int, default=4, help="walk-forward folds")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("demo", help="what `make run` runs: sample market -> ingest -> dbt -> Feast -> MLflow -> report")
    p.add_argument("--codes", type=int, default=300, help="codes in the sample market")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("metrics", help="serve the pipeline's Prometheus metrics (freshness from the warehouse)")
    p.add_argument("--port", type=int, default=9108, help="HTTP port (default 9108; 0 = any free port)")
    p.add_argument("--addr", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--interval", type=float, default=300.0, help="seconds between freshness refreshes")
    p.add_argument("--once", action="store_true", help="print the metrics in the text format and exit")
    p.set_defaults(func=cmd_metrics)

    p = sub.add_parser("sql", help="run SQL on the warehouse and print the result")
    p.add_argument("query")
    p.add_argument("--format", default="PrettyCompact", help="any ClickHouse output format (default PrettyCompact)")
    p.set_defaults(func=cmd_sql)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command == "build":  # everything after `build` belongs to dbt, options included
        args.dbt_args = unknown + args.dbt_args
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place errors become a line for the user
        if args.verbose:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        known = (UsageError, ConfigError, FileNotFoundError, ValueError, RuntimeError)
        prefix = "error" if isinstance(exc, known) else f"error ({type(exc).__name__})"
        print(f"{prefix}: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
