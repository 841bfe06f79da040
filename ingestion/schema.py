"""The raw landing tables: one per J-Quants v2 endpoint, v2 field names, ClickHouse types.

This is the single description of the landing zone. The API loader, the bulk loader, the sample market and
the test server all read it, and dbt's staging models are written against the tables it creates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jquantsapi import constants as jq

RAW_DB = "jquants_raw"
LOAD_LOG = f"{RAW_DB}._load_log"

# Metadata columns every raw table carries after its v2 fields.
META_COLUMNS = {
    "_extra": "Map(String, String)",  # v2 fields this project does not know yet, kept as text
    "_load_id": "String",
    "_loaded_at": "DateTime64(3, 'UTC')",
}

F = "Nullable(Float64)"
D = "Nullable(Date)"
S = "String"
FLAG = "Nullable(UInt8)"


@dataclass(frozen=True)
class Dataset:
    """One J-Quants endpoint and the raw table it lands in."""

    name: str  # table in jquants_raw, and the prefix of its bulk files
    path: str  # API path under the v2 root
    day_field: str  # the field a landing day is keyed by
    key: tuple[str, ...]  # natural key (table ORDER BY, staging de-duplication)
    fields: dict[str, str]  # v2 field -> ClickHouse type, in API order
    required: tuple[str, ...]  # a record without one of these fails its day
    by_date: bool  # True: one request per day with `date=`; False: one ranged request with `from`/`to`
    extra_params: dict[str, str] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return f"{RAW_DB}.{self.name}"

    @property
    def asset_key(self) -> list[str]:
        """Dagster asset key of the asset that lands this table (dbt sources carry it in meta.dagster)."""
        return [RAW_DB, self.name]

    def ddl(self) -> str:
        cols = ",\n    ".join(f"`{n}` {t}" for n, t in {**self.fields, **META_COLUMNS}.items())
        return (
            f"CREATE TABLE IF NOT EXISTS {self.table} (\n    {cols}\n)\n"
            # Plain MergeTree, not ReplacingMergeTree(_loaded_at): the uncommitted rows of a killed re-landing
            # are newer than the committed ones, and a merge would let them replace what staging can see.
            # Staging de-duplicates committed loads itself (macro jquants_latest).
            f"ENGINE = MergeTree\n"
            f"PARTITION BY toYYYYMM(`{self.day_field}`)\n"
            f"ORDER BY ({', '.join(f'`{k}`' for k in self.key)})"
        )


def _typed(columns: list[str], overrides: dict[str, str], default: str) -> dict[str, str]:
    return {c: overrides.get(c, default) for c in columns}


_BAR_FLAGS = {c: FLAG for c in ("UL", "LL", "MUL", "MLL", "AUL", "ALL")}
_FIN_TEXT = ("DiscTime", "Code", "DiscNo", "DocType", "CurPerType", "DivUnit", "FDivUnit", "NxFDivUnit")
_FIN_FLAGS = ("MatChgSub", "SigChgInC", "ChgByASRev", "ChgNoASRev", "ChgAcEst", "RetroRst")
_FIN_DATES = ("CurPerSt", "CurPerEn", "CurFYSt", "CurFYEn", "NxtFYSt", "NxtFYEn")

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="equities_master",
            path="/equities/master",
            day_field="Date",
            key=("Code", "Date"),
            fields=_typed(jq.EQ_MASTER_COLUMNS_V2, {"Date": "Date"}, S),
            required=("Date", "Code", "CoName", "S33", "Mkt"),
            by_date=True,
        ),
        Dataset(
            name="equities_bars_daily",
            path="/equities/bars/daily",
            day_field="Date",
            key=("Code", "Date"),
            fields=_typed(
                jq.EQ_BARS_DAILY_COLUMNS_V2, {"Date": "Date", "Code": S, "AdjFactor": "Float64", **_BAR_FLAGS}, F
            ),
            required=("Date", "Code", "AdjFactor"),
            by_date=True,
        ),
        Dataset(
            name="indices_topix",
            path="/indices/bars/daily/topix",
            day_field="Date",
            key=("Date",),
            fields=_typed(jq.INDICES_TOPIX_COLUMNS_V2, {"Date": "Date"}, "Float64"),
            required=("Date", "O", "H", "L", "C"),
            by_date=False,
        ),
        Dataset(
            name="markets_calendar",
            path="/markets/calendar",
            day_field="Date",
            key=("Date",),
            fields={"Date": "Date", "HolDiv": S},
            required=("Date", "HolDiv"),
            by_date=False,
        ),
        Dataset(
            name="equities_investor_types",
            path="/equities/investor-types",
            day_field="PubDate",
            key=("Section", "StDate", "EnDate", "PubDate"),
            fields=_typed(
                jq.EQ_INVESTOR_TYPES_COLUMNS_V2,
                {"PubDate": "Date", "StDate": "Date", "EnDate": "Date", "Section": S},
                F,
            ),
            required=("PubDate", "StDate", "EnDate", "Section"),
            by_date=False,
        ),
        Dataset(
            name="fins_summary",
            path="/fins/summary",
            day_field="DiscDate",
            key=("Code", "DiscNo"),
            fields=_typed(
                jq.FIN_SUMMARY_COLUMNS_V2,
                {
                    "DiscDate": "Date",
                    **{c: S for c in _FIN_TEXT},
                    **{c: FLAG for c in _FIN_FLAGS},
                    **{c: D for c in _FIN_DATES},
                },
                F,
            ),
            required=("DiscDate", "DiscTime", "Code", "DiscNo", "DocType"),
            by_date=True,
        ),
    )
}

LOAD_LOG_DDL = f"""
CREATE TABLE IF NOT EXISTS {LOAD_LOG} (
    dataset LowCardinality(String),
    day Date,
    load_id String,
    source String,
    rows UInt64,
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (dataset, day, loaded_at)
COMMENT 'One row per (dataset, day) committed by a load. Raw rows are visible downstream only when their
_load_id is here: a load killed half-way leaves invisible rows that the next run replaces.'
"""


def resolve_datasets(names: str | None) -> list[Dataset]:
    """`a,b` (table names or API paths) -> datasets; None -> all of them."""
    if not names:
        return list(DATASETS.values())
    by_path = {d.path: d for d in DATASETS.values()}
    out = []
    for raw in names.split(","):
        name = raw.strip()
        ds = DATASETS.get(name) or by_path.get(name)
        if ds is None:
            raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
        out.append(ds)
    return out


def ensure_raw_tables(client) -> None:
    """Create the raw database, its tables and the load log if missing (safe to re-run)."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {RAW_DB}")
    client.command(LOAD_LOG_DDL)
    for ds in DATASETS.values():
        client.command(ds.ddl())
