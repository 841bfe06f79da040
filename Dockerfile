# syntax=docker/dockerfile:1
# The project's image for the production host (docker-compose.yml): Dagster webserver, Dagster daemon (which
# also runs the pipeline's runs) and the Feast feature server. Installs exactly what `make setup` installs.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home \
    GOGOOKU_HOME=/opt/gogooku/state \
    GOGOOKU_TARGET=server

# libgomp1: OpenMP runtime that LightGBM's wheel links against.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --create-home --shell /usr/sbin/nologin gogooku

WORKDIR /app

# Third-party dependencies first, pinned by the lock: this layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN pip install --requirement requirements.lock

# Then the project itself, the same command as `make setup`.
COPY . .
RUN pip install -c requirements.lock -e '.[dev]' ./adapters/dbt-chdb

# Dagster instance (PostgreSQL storage from DAGSTER_PG_*), and the directories written at run time: the named
# volumes' mount points (a new named volume takes their ownership), dbt's target/ and logs/, and the Feast repo
# (feature_store.yaml is generated there by `python -m ml.feature_store write-yaml`).
COPY deploy/dagster/dagster.yaml ${DAGSTER_HOME}/dagster.yaml
RUN mkdir -p ${DAGSTER_HOME}/storage ${GOGOOKU_HOME} \
    && chown -R gogooku:gogooku ${DAGSTER_HOME} ${GOGOOKU_HOME} /app/dbt_project /app/ml/feature_repo

USER gogooku

# dbt packages (when the project has any) and the manifest dagster-dbt loads, baked at build time so that
# start-up needs no network. Parsing does not connect to ClickHouse; no credential is needed here.
RUN cd dbt_project \
    && if [ -f packages.yml ] || [ -f dependencies.yml ]; then dbt deps; fi \
    && dbt parse --quiet

EXPOSE 3000 6566
CMD ["dagster-webserver", "--host", "0.0.0.0", "--port", "3000", "-m", "orchestration.definitions"]
