"""Dagster orchestration of gogooku3: J-Quants ingestion -> dbt -> Feast -> MLflow -> report.

`orchestration.definitions` assembles the code location (`dagster dev` finds it through `workspace.yaml`);
the modules beside it hold one kind of definition each. Every step that touches the embedded warehouse runs in
the Dagster concurrency pool `warehouse` (limit 1 in the instance config `orchestration.instance` writes),
because chDB lets one process at a time hold the data directory.
"""
