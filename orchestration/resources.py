"""Resources: the J-Quants client and the dbt CLI, configured from the environment when a run starts."""

from __future__ import annotations

from dagster import ConfigurableResource, EnvVar
from dagster_dbt import DbtCliResource
from pydantic import Field

from ingestion.api import JQuantsClient
from orchestration.dbt_project import DBT_PROJECT, dbt_executable


class JQuantsResource(ConfigurableResource):
    """J-Quants v2 through `ingestion.api.JQuantsClient` (its own bounded backoff on 429/5xx)."""

    api_key: str = Field(description="J-Quants v2 API key (JQUANTS_API_KEY).")
    base_url: str | None = Field(
        default=None,
        description="API root; unset means JQUANTS_API_BASE_URL when set, else https://api.jquants.com/v2.",
    )
    max_attempts: int = Field(default=6, description="Attempts per request on 429/5xx/bad bodies.")
    backoff_s: float = Field(default=0.5, description="First backoff delay in seconds (doubles per attempt).")

    def client(self) -> JQuantsClient:
        return JQuantsClient(
            api_key=self.api_key, base_url=self.base_url, max_attempts=self.max_attempts, backoff_s=self.backoff_s
        )


def build_resources() -> dict[str, object]:
    # JQUANTS_API_BASE_URL is not an EnvVar here: Dagster fails a run when an EnvVar is unset, and production
    # leaves it unset (the client then reads it itself or uses the official root).
    return {
        "jquants": JQuantsResource(api_key=EnvVar("JQUANTS_API_KEY")),
        "dbt": DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=dbt_executable()),
    }
