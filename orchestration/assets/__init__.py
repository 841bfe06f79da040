"""Assets: J-Quants landing (`ingestion`), the dbt project (`dbt`), Feast, the ranker and the report (`ml`)."""
