from dataclasses import dataclass
from pathlib import Path

from dbt.adapters.clickhouse.credentials import ClickHouseCredentials


@dataclass
class ChdbCredentials(ClickHouseCredentials):
    """ClickHouse credentials plus `path`, the chDB data directory (host, port, user and password are unused)."""

    path: str = ""

    @property
    def type(self):
        return "chdb"

    @property
    def unique_field(self):
        return self.path

    def _connection_keys(self):
        return ("path", "schema", "retries", "custom_settings")

    def resolved_path(self) -> str:
        """The data directory; a relative path is taken from the dbt project directory, not the cwd."""
        if not self.path:
            raise ValueError("profile of type chdb needs `path`, the chDB data directory")
        path = Path(self.path).expanduser()
        if not path.is_absolute():
            from dbt.flags import get_flags

            project_dir = getattr(get_flags(), "PROJECT_DIR", None) or "."
            path = Path(project_dir) / path
        return str(path.resolve())
