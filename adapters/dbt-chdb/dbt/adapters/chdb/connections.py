import clickhouse_connect
from dbt.adapters.chdb.credentials import ChdbCredentials
from dbt.adapters.clickhouse.connections import ClickHouseConnectionManager, logger, retryable_exceptions
from dbt.adapters.clickhouse.httpclient import ChHttpClient

# Settings the dbt-clickhouse wrapper adds for an HTTP session; a chDB handle is its own session.
_HTTP_ONLY_SETTINGS = ("session_id",)


class ChdbClient(ChHttpClient):
    """dbt-clickhouse's clickhouse-connect wrapper, on a chDB client instead of HTTP."""

    def _create_client(self, credentials: ChdbCredentials):
        settings = {k: v for k, v in self._conn_settings.items() if k not in _HTTP_ONLY_SETTINGS}
        return clickhouse_connect.get_client(
            interface="chdb",
            path=credentials.resolved_path(),
            settings=settings,
        )


class ChdbConnectionManager(ClickHouseConnectionManager):
    TYPE = "chdb"

    @classmethod
    def open(cls, connection):
        if connection.state == "open":
            return connection
        credentials = cls.get_credentials(connection.credentials)
        return cls.retry_connection(
            connection,
            connect=lambda: ChdbClient(credentials),
            logger=logger,
            retry_limit=credentials.retries,
            retryable_exceptions=retryable_exceptions,
        )
