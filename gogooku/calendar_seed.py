"""Write `dbt_project/seeds/jp_holidays.csv`: Japanese national and substitute holidays from jpholiday.

Covers 2008-01-01 through 12-31 of next year (run by `make seeds`; re-run each year). The Dec 31 - Jan 3
market closure is not a holiday: `dim_trading_calendar` applies it in SQL.
"""

from __future__ import annotations

import csv
import sys
from datetime import date
from pathlib import Path

import jpholiday

from gogooku.settings import DBT_PROJECT_DIR

FIRST_YEAR = 2008
SEED_PATH = DBT_PROJECT_DIR / "seeds" / "jp_holidays.csv"


def holidays(first_year: int, last_year: int) -> list[tuple[date, str]]:
    return sorted(
        (day, name) for year in range(first_year, last_year + 1) for day, name in jpholiday.year_holidays(year)
    )


def write_seed(path: Path = SEED_PATH, last_year: int | None = None) -> int:
    rows = holidays(FIRST_YEAR, last_year or date.today().year + 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["holiday_date", "holiday_name"])
        writer.writerows((d.isoformat(), name) for d, name in rows)
    return len(rows)


if __name__ == "__main__":
    n = write_seed()
    print(f"wrote {n} holidays to {SEED_PATH}", file=sys.stderr)
