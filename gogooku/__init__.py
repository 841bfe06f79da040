"""gogooku3: J-Quants market data into a tested ClickHouse warehouse, a feature store and ranking models."""

__version__ = "0.1.0"
