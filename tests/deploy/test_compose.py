"""The production stack's files: docker-compose.yml, .env.example, Dockerfiles and deploy/ (no Docker needed).

The Compose Specification's JSON schema comes from the PyPI package docker-compose 1.29.2, which `make setup`
installs with --no-deps for that file alone (`compose/config/compose_spec.json`; located without importing the
package, whose dependencies are not installed). That copy dates from 2021 and predates the top-level `name`
key, so `name` is checked on its own and left out of the schema validation. Compose validates the file after
interpolation, so the tests below validate both the raw file and the file
interpolated with the values of `.env.example`.

If `promtool` is on PATH (Debian package `prometheus`), the Prometheus config, the alert rules and every
dashboard query are also checked by Prometheus' own parser; otherwise that test is skipped.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DEPLOY = REPO / "deploy"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"

EXPECTED_SERVICES = {
    "clickhouse",
    "postgres",
    "redis",
    "minio",
    "minio-init",
    "mlflow",
    "dagster-webserver",
    "dagster-daemon",
    "feast",
    "pushgateway",
    "prometheus",
    "grafana",
}
ONE_SHOT = {"minio-init"}
APP_SERVICES = {"dagster-webserver", "dagster-daemon", "feast"}
# Services whose state must survive a re-creation of the container: each mounts a named volume.
STATEFUL = {
    "clickhouse",
    "postgres",
    "redis",
    "minio",
    "dagster-webserver",
    "dagster-daemon",
    "pushgateway",
    "prometheus",
    "grafana",
}
# The UIs and the container port each publishes; nothing else is reachable from the host.
PUBLISHED = {"dagster-webserver": 3000, "mlflow": 5000, "prometheus": 9090, "grafana": 3000}
# Off the internal network only for a reason: a published port, or calls to the J-Quants API (runs).
EDGE = set(PUBLISHED) | {"dagster-daemon"}
DATASTORES = {"clickhouse", "postgres", "redis", "minio"}

SECRET_KEY = re.compile(r"PASSWORD|SECRET|KEY|TOKEN", re.IGNORECASE)
RESTART_POLICIES = re.compile(r"^(no|always|unless-stopped|on-failure(:[0-9]+)?)$")
# $$ is Compose's escape for a literal $ (expanded later, inside the container); ${VAR...} and $VAR are references.
REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)

# Metric names the dashboards and rules may use. The pipeline pushes the gogooku_* ones (a contract with its
# code); the others are what Prometheus scrapes here or makes itself.
PIPELINE_METRICS = {
    "gogooku_rows_landed_total",
    "gogooku_data_test_failures",
    "gogooku_data_freshness_lag_days",
    "gogooku_run_duration_seconds",
    "gogooku_model_rank_ic",
    "gogooku_last_success_timestamp_seconds",
}
STANDARD_METRICS = {
    "up",  # every scrape target
    "ALERTS",  # Prometheus' own series of pending/firing alerts
    "push_time_seconds",  # Pushgateway, per group
    "push_failure_time_seconds",
    "prometheus_tsdb_head_series",  # Prometheus' self-scrape
    # ClickHouse (deploy/clickhouse/config.d/prometheus.xml): system.metrics, system.events,
    # system.asynchronous_metrics under these prefixes.
    "ClickHouseMetrics_Query",
    "ClickHouseMetrics_Merge",
    "ClickHouseMetrics_MemoryTracking",
    "ClickHouseProfileEvents_Query",
    "ClickHouseProfileEvents_SelectQuery",
    "ClickHouseProfileEvents_InsertQuery",
    "ClickHouseProfileEvents_FailedQuery",
    "ClickHouseProfileEvents_InsertedRows",
    "ClickHouseAsyncMetrics_Uptime",
    "ClickHouseAsyncMetrics_MemoryResident",
    "ClickHouseAsyncMetrics_MaxPartCountForPartition",
    "ClickHouseAsyncMetrics_TotalBytesOfMergeTreeTables",
    "ClickHouseAsyncMetrics_TotalRowsOfMergeTreeTables",
}
KNOWN_METRICS = PIPELINE_METRICS | STANDARD_METRICS
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"}
PROMQL_KEYWORDS |= {"offset", "inf", "nan", "Inf", "NaN"}


# ---------------------------------------------------------------- helpers


def load_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line)
        assert match, f".env.example line {number} is not KEY=value: {line!r}"
        assert match.group(1) not in values, f".env.example sets {match.group(1)} twice"
        values[match.group(1)] = match.group(2)
    return values


def strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string scalar in a YAML tree, with a path for messages."""
    if isinstance(node, str):
        return [(path, node)]
    if isinstance(node, dict):
        return [item for key, value in node.items() for item in strings(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [item for i, value in enumerate(node) for item in strings(value, f"{path}[{i}]")]
    return []


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution over a loaded YAML tree."""

    def one(text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            if match.group("escaped"):
                return "$"
            name = match.group("braced") or match.group("bare")
            op, arg, value = match.group("op"), match.group("arg"), env.get(name)
            if op in (":?", "?") and (value is None or (op == ":?" and value == "")):
                raise AssertionError(f"{name} is required but not set: {arg}")
            if op in (":-", "-") and (value is None or (op == ":-" and value == "")):
                return arg
            if op in (":+", "+"):
                return arg if value else ""
            return value or ""

        return REFERENCE.sub(replace, text)

    if isinstance(node, str):
        return one(node)
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env) for value in node]
    return node


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of every volume entry, short or long syntax."""
    mounts = []
    for entry in service.get("volumes", []):
        if isinstance(entry, str):
            parts = entry.split(":")
            mounts.append((parts[0], parts[1]) if len(parts) > 1 else ("", parts[0]))
        else:
            mounts.append((entry.get("source", ""), entry["target"]))
    return mounts


def service_networks(service: dict[str, Any]) -> set[str]:
    networks = service.get("networks", [])
    return set(networks) if isinstance(networks, list) else set(networks.keys())


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords, labels and durations removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # string literals
    text = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "", text)  # Grafana variables such as $__rate_interval
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range and subquery selectors
    text = re.sub(r"\b(by|without)\s*\([^)]*\)", "", text)  # aggregation clauses: `sum by (a) (x)` -> `sum (x)`
    text = re.sub(r"\b(on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", text)  # vector matching
    names = set()
    for match in re.finditer(r"(?<![\w:.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", text):
        if match.group(2) or match.group(1) in PROMQL_KEYWORDS:
            continue  # a function call, or a keyword
        names.add(match.group(1))
    return names


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))  # panels inside a collapsed row
    return found


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable (label_values(metric, label) -> metric)."""
    queries = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            queries.append((f"panel {panel['title']!r} target {target.get('refId')}", target.get("expr", "")))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        match = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*\w+\s*\)\s*", query)
        assert match, f"variable {variable['name']}: expected label_values(<selector>, <label>), got {query!r}"
        queries.append((f"variable {variable['name']}", match.group(1)))
    return queries


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(DEPLOY / "prometheus" / "alerts.yml")["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    """The compose file as Docker Compose sees it with the placeholder values of .env.example."""
    return interpolate(raw, env_example())


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    spec = importlib.util.find_spec("compose")  # finds the package without running its __init__
    assert spec and spec.submodule_search_locations, "docker-compose 1.29.2 (for its schema) is missing: make setup"
    schema_file = Path(spec.submodule_search_locations[0]) / "config" / "compose_spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


# ---------------------------------------------------------------- the Compose Specification


def schema_errors(validator: Draft7Validator, document: dict[str, Any]) -> list[str]:
    document = {k: v for k, v in document.items() if k != "name"}  # newer than the 2021 schema: checked below
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification(raw, compose, validator):
    assert schema_errors(validator, raw) == []
    assert schema_errors(validator, compose) == []


def test_project_name_is_valid(raw):
    """The top-level `name` (Compose Specification 2022+): lowercase letters, digits, dashes and underscores."""
    assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", str(raw.get("name", ""))), raw.get("name")


def test_the_schema_catches_mistakes(compose, validator):
    """Guards the guard: the vendored schema rejects a misspelt key and a wrongly typed value."""
    misspelt = copy.deepcopy(compose)
    misspelt["services"]["clickhouse"]["healthcheck"]["intervall"] = "10s"
    assert schema_errors(validator, misspelt)
    mistyped = copy.deepcopy(compose)
    mistyped["services"]["postgres"]["depends_on"] = {"redis": {"condition": "service_healthy", "required": "yes"}}
    assert schema_errors(validator, mistyped)


# ---------------------------------------------------------------- services


def test_expected_services_are_defined(compose):
    assert set(compose["services"]) == EXPECTED_SERVICES


def test_every_service_has_a_healthcheck_and_a_restart_policy(compose):
    for name, service in compose["services"].items():
        assert RESTART_POLICIES.match(str(service.get("restart", ""))), f"{name}: restart policy missing or invalid"
        if name in ONE_SHOT:
            assert service["restart"].startswith("on-failure"), f"{name}: a one-shot job must not restart forever"
            continue
        healthcheck = service.get("healthcheck")
        assert healthcheck and not healthcheck.get("disable"), f"{name}: no healthcheck"
        test = healthcheck["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"{name}: {test}"
        for key in ("interval", "timeout", "retries"):
            assert key in healthcheck, f"{name}: healthcheck has no {key}"


def test_dependencies_wait_for_health_and_for_one_shot_jobs(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            condition = spec["condition"]
            if dependency in ONE_SHOT:
                assert condition == "service_completed_successfully", f"{name} -> {dependency}: {condition}"
            elif condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}'s missing healthcheck"
    assert services["mlflow"]["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"
    for name in APP_SERVICES:
        for store in ("postgres", "clickhouse", "redis"):
            assert services[name]["depends_on"][store]["condition"] == "service_healthy", f"{name} -> {store}"


def test_named_volumes_are_declared_and_used(compose):
    declared = set(compose.get("volumes") or {})
    used: set[str] = set()
    for name, service in compose["services"].items():
        named = set()
        for source, target in volume_mounts(service):
            assert target.startswith("/"), f"{name}: mount target {target!r} is not absolute"
            if source.startswith((".", "/")):
                assert (REPO / source).resolve().exists(), f"{name}: bind-mounted {source} does not exist"
                assert source.startswith("./deploy/"), f"{name}: only deploy/ is bind-mounted, not {source}"
            elif source:
                assert source in declared, f"{name}: volume {source} is not declared under volumes:"
                named.add(source)
        if name in STATEFUL:
            assert named, f"{name} keeps state but mounts no named volume"
        used |= named
    assert declared == used, f"declared but unused volumes: {declared - used}"


def test_services_sit_on_the_internal_network_and_only_uis_are_published(compose):
    networks = compose["networks"]
    assert networks["internal"].get("internal") is True, "the internal network must have no route outside"
    for name, service in compose["services"].items():
        attached = service_networks(service)
        assert "internal" in attached, f"{name} is not on the internal network"
        assert attached <= set(networks), f"{name}: undeclared network in {attached}"
        assert ("edge" in attached) == (name in EDGE), f"{name}: edge network only for {sorted(EDGE)}"
        ports = service.get("ports", [])
        if name not in PUBLISHED:
            assert not ports, f"{name} publishes {ports}; only the UIs may"
            continue
        assert len(ports) == 1, f"{name}: {ports}"
        host_ip, _host_port, container_port = str(ports[0]).split(":")
        assert int(container_port) == PUBLISHED[name]
        assert host_ip == env_example()["UI_BIND_ADDRESS"] == "127.0.0.1", f"{name} published beyond loopback"
    for store in DATASTORES:
        assert service_networks(compose["services"][store]) == {"internal"}, f"{store} must be internal only"


def test_ui_ports_are_bound_to_a_configured_address(raw):
    for name in PUBLISHED:
        (port,) = raw["services"][name]["ports"]
        assert port.startswith("${UI_BIND_ADDRESS:?"), f"{name}: {port}"


def test_images_are_pinned(compose):
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image, f"{name} has no image (built services name theirs too)"
        reference = image.split("@")[0]
        repository, _, tag = reference.rpartition(":")
        assert repository and "/" not in tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest" and not re.fullmatch(r"v?\d+", tag), f"{name}: {image!r} is not pinned"
        if "build" in service:
            assert image.startswith("gogooku3/"), f"{name}: a built image is named gogooku3/..."


def test_app_services_run_against_the_server_stack(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        env = environment(services[name])
        assert env["GOGOOKU_TARGET"] == "server"
        assert (env["CLICKHOUSE_HOST"], env["CLICKHOUSE_PORT"]) == ("clickhouse", "8123")
        for key in ("CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD", "FEAST_REDIS_HOST", "FEAST_REGISTRY_PG_HOST"):
            assert env.get(key), f"{name}: {key} missing"
        assert services[name]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
        assert services[name]["image"] == services["dagster-webserver"]["image"], "one image for all app services"
    for name in ("dagster-webserver", "dagster-daemon"):
        env = environment(services[name])
        for key in ("JQUANTS_API_KEY", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"):
            assert env.get(key), f"{name}: {key} missing"
        assert (env["DAGSTER_PG_HOST"], env["DAGSTER_PG_PORT"]) == ("postgres", "5432")
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        assert env["PUSHGATEWAY_URL"] == "http://pushgateway:9091"
        assert "-m" in services[name]["command"] and "orchestration.definitions" in services[name]["command"]
    shell, flag, script = services["feast"]["command"]
    assert (shell, flag) == ("sh", "-c")
    steps = [step.strip() for step in script.split("&&")]
    assert steps[0] == "python -m ml.feature_store write-yaml", "feature_store.yaml is generated from the environment"
    assert steps[1].startswith("exec feast --chdir ml/feature_repo serve --host 0.0.0.0")
    mlflow = environment(services["mlflow"])
    assert mlflow["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg2://")
    assert mlflow["MLFLOW_BACKEND_STORE_URI"].endswith("@postgres:5432/" + env_example()["MLFLOW_PG_DB"])
    assert mlflow["MLFLOW_ARTIFACTS_DESTINATION"] == "s3://" + env_example()["MLFLOW_ARTIFACT_BUCKET"]
    assert mlflow["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert "mlflow:5000" in mlflow["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")


# ---------------------------------------------------------------- secrets and .env.example


def test_no_secret_is_written_in_the_compose_file(raw):
    for name, service in raw["services"].items():
        for key, value in environment(service).items():
            if SECRET_KEY.search(key):
                match = re.fullmatch(r"\$\{([A-Z0-9_]+)(:\?[^}]*)?\}", value)
                assert match, f"{name}: {key} must be a ${{VAR}} or ${{VAR:?msg}} reference, not {value!r}"
    for where, text in strings(raw):
        for match in REFERENCE.finditer(text):
            name = match.group("braced") or match.group("bare")
            if name and SECRET_KEY.search(name):
                assert match.group("op") in (None, ":?", "?"), f"{where}: ${{{name}}} must not carry a default"
        # References become NUL: ${VAR...} (from .env) and $$VAR (the container's environment, in a shell).
        masked = REFERENCE.sub("\0", re.sub(r"\$\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "\0", text))
        literal = re.search(
            r"(?i)(password|passwd|requirepass|secret|token|api[_-]?key)[\"']?(\s*[=:]\s*|\s+)[\"']?[^\s\"'\0]{4,}",
            masked,
        )
        assert not literal, f"{where}: literal credential {literal.group(0)!r}"
        for userinfo in re.findall(r"://([^/\s@]+)@", masked):
            assert re.fullmatch(r"\0(:\0)?", userinfo), f"{where}: credentials in a URL must be references"
    assert not [where for where, text in strings(raw) if "change-me" in text], "placeholder values belong in .env"


def test_every_reference_is_listed_in_env_example_and_back(raw):
    used = set()
    for where, text in strings(raw):
        for match in REFERENCE.finditer(text):
            assert not match.group("bare"), f"{where}: write ${{{match.group('bare')}}}, braced"
            if match.group("braced"):
                used.add(match.group("braced"))
    listed = set(env_example())
    assert used - listed == set(), "used in docker-compose.yml but missing from .env.example"
    assert listed - used == set(), "listed in .env.example but not used by docker-compose.yml"


def test_env_example_holds_placeholders_only():
    for key, value in env_example().items():
        if SECRET_KEY.search(key) and key != "AWS_ACCESS_KEY_ID":
            assert value == "change-me", f".env.example: {key} must be the placeholder change-me"
    ignored = {line.strip() for line in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()}
    assert ".env" in ignored, ".env must be git-ignored"


def test_required_variables_fail_loudly_when_unset(raw):
    env = env_example()
    del env["CLICKHOUSE_PASSWORD"]
    with pytest.raises(AssertionError, match="CLICKHOUSE_PASSWORD is required"):
        interpolate(raw, env)


# ---------------------------------------------------------------- images and Dagster


def test_dockerfile_installs_the_project_like_make_setup():
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install -c requirements.lock -e '.[dev]' ./adapters/dbt-chdb" in dockerfile
    assert "DAGSTER_HOME=/opt/dagster/home" in dockerfile
    assert "COPY deploy/dagster/dagster.yaml ${DAGSTER_HOME}/dagster.yaml" in dockerfile
    for path in (REPO / "Dockerfile", DEPLOY / "mlflow" / "Dockerfile"):
        for base in re.findall(r"^FROM\s+(\S+)", path.read_text(encoding="utf-8"), re.MULTILINE):
            assert re.search(r":\d+\.\d+\.\d+", base), f"{path.name}: base image {base} is not pinned to a patch"
    mlflow = (DEPLOY / "mlflow" / "Dockerfile").read_text(encoding="utf-8")
    assert "-c /tmp/requirements.lock" in mlflow and "psycopg2-binary" in mlflow and "boto3==" in mlflow
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", ".git", ".gogooku"} <= set(ignored), "the build context must leave out secrets and state"


def test_dagster_instance_reads_postgres_settings_from_the_environment(monkeypatch):
    config = load_yaml(DEPLOY / "dagster" / "dagster.yaml")
    db = config["storage"]["postgres"]["postgres_db"]
    assert db == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USER"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
    }
    instance_config = pytest.importorskip("dagster._core.instance.config")
    for key in ("HOST", "PORT", "USER", "PASSWORD", "DB"):
        monkeypatch.setenv(f"DAGSTER_PG_{key}", "5432" if key == "PORT" else "x")
    validated, _ = instance_config.dagster_instance_config(str(DEPLOY / "dagster"), "dagster.yaml")
    assert set(validated) >= {"storage", "run_coordinator", "compute_logs"}


def test_postgres_init_creates_one_database_per_application(compose):
    script = (DEPLOY / "postgres" / "init" / "10-create-app-databases.sh").read_text(encoding="utf-8")
    env = environment(compose["services"]["postgres"])
    for app in ("DAGSTER_PG", "MLFLOW_PG", "FEAST_REGISTRY_PG"):
        call = f'create_app_database "${{{app}_USER:?}}" "${{{app}_PASSWORD:?}}" "${{{app}_DB:?}}"'
        assert call in script, f"init script does not create the {app} database"
        for part in ("USER", "PASSWORD", "DB"):
            assert env.get(f"{app}_{part}"), f"postgres container lacks {app}_{part}"
    assert ("./deploy/postgres/init", "/docker-entrypoint-initdb.d") in volume_mounts(compose["services"]["postgres"])


# ---------------------------------------------------------------- Prometheus


def test_prometheus_config_scrapes_the_stack_and_loads_the_alerts(compose):
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    mounts = dict(volume_mounts(compose["services"]["prometheus"]))
    for rule_file in config["rule_files"]:
        assert any(target == rule_file for target in mounts.values()), f"{rule_file} is not mounted"
    assert mounts["./deploy/prometheus/alerts.yml"] in config["rule_files"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {job: [t for sc in cfg["static_configs"] for t in sc["targets"]] for job, cfg in jobs.items()}
    assert targets["pushgateway"] == ["pushgateway:9091"] and jobs["pushgateway"]["honor_labels"] is True
    prometheus_xml = ET.parse(DEPLOY / "clickhouse" / "config.d" / "prometheus.xml").getroot()
    port = prometheus_xml.findtext("prometheus/port")
    assert targets["clickhouse"] == [f"clickhouse:{port}"] and port == "9363"
    assert prometheus_xml.findtext("prometheus/endpoint") == jobs["clickhouse"].get("metrics_path", "/metrics")
    for job in targets.values():
        for target in job:
            host = target.split(":")[0]
            assert host == "localhost" or host in compose["services"], f"scrape target {target} is not a service"


def test_alert_rules_cover_the_pipeline_metrics():
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    covered: set[str] = set()
    for rule in rules:
        assert isinstance(rule.get("expr"), str) and rule["expr"].strip(), f"{rule.get('alert')}: no expr"
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        used = metric_names(rule["expr"])
        assert used, f"{rule['alert']}: selects no metric"
        assert used <= KNOWN_METRICS, f"{rule['alert']}: unknown metrics {used - KNOWN_METRICS}"
        covered |= used
    assert PIPELINE_METRICS <= covered, f"no rule on {PIPELINE_METRICS - covered}"


def test_metric_name_extraction():
    expr = 'sum by (job) (rate(x_total{a="b{c}"}[5m] offset 1h)) / on(job) group_left(step) y > 1e-9 and up'
    assert metric_names(expr) == {"x_total", "y", "up"}
    assert metric_names('time() - max by (job) (z{job=~"$job"}) > 4 * 86400') == {"z"}
    assert metric_names("count(m == 0) or vector(0)") == {"m"}


# ---------------------------------------------------------------- Grafana


def test_grafana_is_provisioned_from_the_files(compose):
    datasources = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert [(d["uid"], d["type"], d["url"]) for d in datasources] == [
        ("prometheus", "prometheus", "http://prometheus:9090")
    ]
    providers = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "dashboards.yml")["providers"]
    mounts = dict(volume_mounts(compose["services"]["grafana"]))
    assert [p["options"]["path"] for p in providers] == [mounts["./deploy/grafana/dashboards"]]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    home = environment(compose["services"]["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == mounts["./deploy/grafana/dashboards"] + "/system-overview.json"


def test_dashboards_query_only_known_metrics():
    files = dashboard_files()
    assert [f.name for f in files] == ["ml-metrics.json", "pipeline-monitoring.json", "system-overview.json"]
    uids, covered = set(), set()
    for path in files:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        assert dashboard["uid"] not in uids
        uids.add(dashboard["uid"])
        ids = [panel["id"] for panel in panels(dashboard)]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        visual = [panel for panel in panels(dashboard) if panel["type"] != "row"]
        assert len(visual) >= 5, f"{path.name}: too few panels"
        for panel in visual:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{path.name}: {panel['title']} is wider than the grid"
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel["title"]
            assert panel["targets"], f"{path.name}: {panel['title']} has no query"
        for where, expr in dashboard_queries(dashboard):
            used = metric_names(expr)
            assert used, f"{path.name} {where}: selects no metric: {expr}"
            assert used <= KNOWN_METRICS, f"{path.name} {where}: unknown metrics {used - KNOWN_METRICS}"
            covered |= used
    assert PIPELINE_METRICS <= covered, f"no panel shows {PIPELINE_METRICS - covered}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)")
def test_promtool_accepts_the_config_rules_and_dashboard_queries(tmp_path):
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    config["rule_files"] = ["alerts.yml", "dashboards.yml"]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    # Every dashboard query as a recording rule, so that Prometheus' parser checks its PromQL.
    grafana_vars = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
    records = []
    for path in dashboard_files():
        for i, (_where, expr) in enumerate(dashboard_queries(json.loads(path.read_text(encoding="utf-8")))):
            for variable, value in grafana_vars.items():
                expr = expr.replace(variable, value)
            expr = re.sub(r"\$\{?\w+\}?", ".*", expr)  # $dataset, $job, $model: multi-value regexes
            records.append({"record": f"check:{path.stem.replace('-', '_')}:{i}", "expr": expr})
    (tmp_path / "dashboards.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": records}]}))
    result = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
