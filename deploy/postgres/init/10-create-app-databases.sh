#!/usr/bin/env bash
# Runs once, when the postgres data volume is empty (docker-entrypoint-initdb.d, as $POSTGRES_USER):
# one login role and one database per application, each role owning only its own database.
# Names and passwords come from the container environment (docker-compose.yml, from .env); nothing is
# hard-coded. To change a password later, use ALTER ROLE: this script does not run again on a filled volume.
set -Eeo pipefail

create_app_database() {
    local role="$1" password="$2" database="$3"
    # psql variables (:"ident" and :'literal') quote the values, so any password is safe here.
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
        --set=role="$role" --set=password="$password" --set=database="$database" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL
    echo "created database ${database} owned by ${role}"
}

create_app_database "${DAGSTER_PG_USER:?}" "${DAGSTER_PG_PASSWORD:?}" "${DAGSTER_PG_DB:?}"
create_app_database "${MLFLOW_PG_USER:?}" "${MLFLOW_PG_PASSWORD:?}" "${MLFLOW_PG_DB:?}"
create_app_database "${FEAST_REGISTRY_PG_USER:?}" "${FEAST_REGISTRY_PG_PASSWORD:?}" "${FEAST_REGISTRY_PG_DB:?}"
