"""The one `DbtProject` and its manifest.

dagster-dbt builds the dbt assets from `target/manifest.json` when this module is imported. The image bakes it
(`dbt parse` in the Dockerfile); everywhere (`dagster dev`, tests, `gogooku refresh`) `ensure_manifest` runs
`dbt parse` when the manifest is missing or older than a file of the project, so the assets never describe
models that changed since. Parsing does not connect to ClickHouse.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource, DbtProject

from gogooku.settings import DBT_PROJECT_DIR

log = logging.getLogger(__name__)

DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR)
SOURCE_DIRS = ("models", "macros", "seeds", "tests", "snapshots", "analyses")
SOURCE_FILES = ("dbt_project.yml", "packages.yml", "dependencies.yml", "profiles.yml")


def project_mtime(project_dir: Path = DBT_PROJECT_DIR) -> float:
    """Newest modification time among the project's own files."""
    times = [p.stat().st_mtime for name in SOURCE_FILES if (p := project_dir / name).exists()]
    for name in SOURCE_DIRS:
        root = project_dir / name
        if root.is_dir():
            times += [p.stat().st_mtime for p in root.rglob("*") if p.is_file()]
            times.append(root.stat().st_mtime)  # a deleted file changes its directory
    return max(times, default=0.0)


def dbt_executable() -> str:
    """The dbt beside this interpreter (a venv used without activation has it off PATH), else `dbt` on PATH."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def ensure_manifest(project: DbtProject = DBT_PROJECT) -> Path:
    """Parse the project when `manifest.json` is missing or older than a project file; returns the manifest's path.

    Not `DbtProject.prepare_if_dev`: it runs `dbt` from PATH, and parses on every load under `dagster dev`, which
    includes every step's subprocess (about 10 s each); a changed file is caught by its modification time anyway.
    """
    manifest = Path(project.manifest_path)
    if not manifest.exists() or manifest.stat().st_mtime < project_mtime(project.project_dir):
        log.info("parsing the dbt project into %s", manifest)
        DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()
    return manifest


@cache
def load_manifest() -> Mapping[str, Any]:
    return json.loads(ensure_manifest().read_text())
