"""The synthetic sample market (ingestion.sample): files, calendar, prices, corporate actions, flows, statements."""

from __future__ import annotations

import gzip
import hashlib
import math
import time
from datetime import date, timedelta
from pathlib import Path

import jpholiday
import numpy as np
import polars as pl
import pytest

from ingestion.frames import typed_table
from ingestion.sample import write_sample_market
from ingestion.schema import DATASETS

CODES = 40
START = date(2023, 6, 1)
END = date(2024, 12, 30)
SEED = 7

S33_REAL = {
    "0050": "水産・農林業", "1050": "鉱業", "2050": "建設業", "3050": "食料品", "3100": "繊維製品",
    "3150": "パルプ・紙", "3200": "化学", "3250": "医薬品", "3300": "石油・石炭製品", "3350": "ゴム製品",
    "3400": "ガラス・土石製品", "3450": "鉄鋼", "3500": "非鉄金属", "3550": "金属製品", "3600": "機械",
    "3650": "電気機器", "3700": "輸送用機器", "3750": "精密機器", "3800": "その他製品", "4050": "電気・ガス業",
    "5050": "陸運業", "5100": "海運業", "5150": "空運業", "5200": "倉庫・運輸関連業", "5250": "情報・通信業",
    "6050": "卸売業", "6100": "小売業", "7050": "銀行業", "7100": "証券、商品先物取引業", "7150": "保険業",
    "7200": "その他金融業", "8050": "不動産業", "9050": "サービス業",
}  # fmt: skip
INVESTORS = ("Ind", "Frgn", "SecCo", "InvTr", "BusCo", "OthCo", "InsCo", "Bank", "TrstBnk", "OthFin")


# --- helpers ------------------------------------------------------------------------------------------------------


def tse_open(d: date) -> bool:
    """Independent statement of the TSE calendar."""
    if d.weekday() >= 5 or jpholiday.is_holiday(d):
        return False
    return not ((d.month, d.day) == (12, 31) or (d.month == 1 and d.day <= 3))


def tse_days(start: date, end: date) -> list[date]:
    return [start + timedelta(k) for k in range((end - start).days + 1) if tse_open(start + timedelta(k))]


def read(out: Path, name: str) -> pl.DataFrame:
    """Every bulk file of a dataset, typed after ingestion.schema (dates, floats, flags; text stays text)."""
    ds = DATASETS[name]
    parts = []
    for path in sorted(out.glob(f"{name}_*.csv.gz")):
        raw = pl.read_csv(path, infer_schema=False)
        casts = []
        for f, t in ds.fields.items():
            if "Date" in t:
                casts.append(pl.col(f).str.to_date("%Y-%m-%d"))
            elif "Float64" in t:
                casts.append(pl.col(f).cast(pl.Float64))
            elif "UInt8" in t:
                casts.append(pl.col(f).cast(pl.UInt8))
        parts.append(raw.with_columns(casts))
    return pl.concat(parts)


def file_hashes(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.csv.gz"))}


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("sample")
    counts = write_sample_market(out, codes=CODES, start=START, end=END, seed=SEED)
    return out, counts


@pytest.fixture(scope="module")
def bars(market: tuple[Path, dict[str, int]]) -> pl.DataFrame:
    return read(market[0], "equities_bars_daily").sort("Code", "Date")


@pytest.fixture(scope="module")
def topix(market: tuple[Path, dict[str, int]]) -> pl.DataFrame:
    return read(market[0], "indices_topix").sort("Date")


@pytest.fixture(scope="module")
def master(market: tuple[Path, dict[str, int]]) -> pl.DataFrame:
    return read(market[0], "equities_master")


# --- files --------------------------------------------------------------------------------------------------------


def test_one_gzip_csv_per_dataset_and_year_with_the_v2_header(market: tuple[Path, dict[str, int]]) -> None:
    out, counts = market
    names = {p.name for p in out.iterdir()}
    expected = {f"{ds}_{y}.csv.gz" for ds in DATASETS for y in (2023, 2024)}
    assert names == expected  # no tmp files left behind either
    assert set(counts) == set(DATASETS)
    for name, ds in DATASETS.items():
        total = 0
        for year in (2023, 2024):
            text = gzip.decompress((out / f"{name}_{year}.csv.gz").read_bytes()).decode("utf-8")
            lines = text.splitlines()
            assert lines[0].split(",") == list(ds.fields), name
            frame = pl.read_csv(text.encode(), infer_schema=False)
            days = frame.get_column(ds.day_field)
            assert days.str.starts_with(str(year)).all(), f"{name}_{year}: rows of another year"
            assert days.str.contains(r"^\d{4}-\d{2}-\d{2}$").all()
            total += frame.height
        assert total == counts[name] > 0, name


def test_every_file_lands_under_the_raw_schema(market: tuple[Path, dict[str, int]]) -> None:
    """The bulk loader's typing accepts every value and finds every required field (no unknown fields)."""
    out, _ = market
    for path in sorted(out.glob("*.csv.gz")):
        name = path.name.rsplit("_", 1)[0]
        frame = pl.read_csv(path, infer_schema=False)
        table, unknown = typed_table(DATASETS[name], frame, lambda row, p=path: f"{p}:{row}", "test")
        assert unknown == [] and table.num_rows == frame.height


def test_codes_are_five_digit_strings(bars: pl.DataFrame, master: pl.DataFrame) -> None:
    for frame in (bars, master):
        assert frame.get_column("Code").str.contains(r"^[1-9]\d{3}0$").all()
    assert bars.get_column("Code").n_unique() == CODES


# --- calendar -----------------------------------------------------------------------------------------------------


def test_trading_calendar_is_the_tse_calendar(market: tuple[Path, dict[str, int]], bars, topix) -> None:
    cal = read(market[0], "markets_calendar").sort("Date")
    every_day = [START + timedelta(k) for k in range((END - START).days + 1)]
    assert cal.get_column("Date").to_list() == every_day
    assert cal.get_column("HolDiv").to_list() == ["1" if tse_open(d) else "0" for d in every_day]
    open_days = tse_days(START, END)
    assert topix.get_column("Date").to_list() == open_days
    assert sorted(bars.get_column("Date").unique().to_list()) == open_days
    for closed in (date(2023, 12, 31), date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 8), date(2024, 2, 12)):
        assert closed not in open_days  # year end, Coming of Age Day, a substitute holiday
    assert date(2023, 12, 29) in open_days and date(2024, 1, 4) in open_days


# --- prices -------------------------------------------------------------------------------------------------------


def test_ohlc_volume_and_turnover_are_consistent(bars: pl.DataFrame) -> None:
    traded = bars.filter(pl.col("C").is_not_null())
    bad = traded.filter(
        (pl.col("L") > pl.min_horizontal("O", "C"))
        | (pl.col("H") < pl.max_horizontal("O", "C"))
        | (pl.min_horizontal("O", "H", "L", "C") <= 0)
        | (pl.col("Vo") <= 0)
    )
    assert bad.height == 0, bad.head()
    assert (traded.get_column("Vo") % 100 == 0).all()  # 100-share lots
    ratio = traded.get_column("Va") / (traded.get_column("C") * traded.get_column("Vo"))
    assert ratio.min() > 0.75 and ratio.max() < 1.33
    # prices on a tick: whole yen, or 0.1 yen
    assert ((traded.get_column("C") * 10).round(6) % 1 == 0).all()
    assert traded.get_column("UL").mean() < 0.01 and traded.get_column("LL").mean() < 0.01


def _returns(bars: pl.DataFrame) -> pl.DataFrame:
    """Daily log returns of the adjusted close, (Date x Code), traded days only."""
    return (
        bars.filter(pl.col("AdjC").is_not_null())
        .with_columns(r=(pl.col("AdjC") / pl.col("AdjC").shift(1).over("Code")).log())
        .pivot(on="Code", index="Date", values="r")
        .sort("Date")
    )


def test_returns_have_market_and_sector_factors(bars: pl.DataFrame, master: pl.DataFrame, topix) -> None:
    wide = _returns(bars)
    codes = [c for c in wide.columns if c != "Date"]
    corr = wide.select(codes).to_pandas().corr(min_periods=60).to_numpy()
    sector = dict(master.select("Code", "S33").unique().iter_rows())
    same = np.array([[sector[a] == sector[b] for b in codes] for a in codes])
    off = ~np.eye(len(codes), dtype=bool)
    ok = ~np.isnan(corr)
    within, across = corr[same & off & ok].mean(), corr[~same & ok].mean()
    assert within > across + 0.05, (within, across)
    assert across > 0.1  # a common market factor

    mkt = topix.with_columns(tr=(pl.col("C") / pl.col("C").shift(1)).log()).select("Date", "tr")
    joined = wide.join(mkt, on="Date").drop_nulls("tr")
    betas = []
    for c in codes:
        pair = joined.select(c, "tr").drop_nulls().to_numpy()
        if len(pair) > 60:
            betas.append(np.cov(pair[:, 0], pair[:, 1])[0, 1] / pair[:, 1].var(ddof=1))
    assert min(betas) > 0 and 0.6 < float(np.median(betas)) < 1.5
    # fat-ish tails: pooled excess kurtosis of standardized returns
    pooled = np.concatenate([(x - np.nanmean(x)) / np.nanstd(x) for x in wide.select(codes).to_numpy().T])
    pooled = pooled[~np.isnan(pooled)]
    assert float(np.mean(pooled**4)) > 3.5


def test_sectors_and_master_reference_data(master: pl.DataFrame) -> None:
    s33 = master.select("S33", "S33Nm").unique()
    assert all(S33_REAL[code] == name for code, name in s33.iter_rows())
    assert master.select("S17", "S17Nm").unique().group_by("S17").len().get_column("len").max() == 1
    assert master.get_column("S17").cast(pl.Int32).is_between(1, 17).all()
    mkt = dict(master.select("Mkt", "MktNm").unique().iter_rows())
    assert set(mkt) <= {"0111", "0112", "0113"} and mkt.get("0111", "プライム") == "プライム"
    assert "0111" in mkt and len(mkt) >= 2
    for f in ("CoName", "CoNameEn", "ScaleCat", "Mrgn", "MrgnNm", "ProdCat"):
        assert master.get_column(f).is_not_null().all(), f
    assert master.group_by("Date", "Code").len().get_column("len").max() == 1


def test_topix_is_the_index_of_the_stocks(bars: pl.DataFrame, topix: pl.DataFrame) -> None:
    first = topix.row(0, named=True)
    assert 1700 < first["O"] < 1900 and 1600 < first["C"] < 2000
    assert (
        topix.filter((pl.col("L") > pl.min_horizontal("O", "C")) | (pl.col("H") < pl.max_horizontal("O", "C"))).height
        == 0
    )
    stock_mean = (
        bars.filter(pl.col("AdjC").is_not_null())
        .with_columns(r=(pl.col("AdjC") / pl.col("AdjC").shift(1).over("Code")).log())
        .group_by("Date")
        .agg(pl.col("r").mean())
    )
    joined = topix.with_columns(tr=(pl.col("C") / pl.col("C").shift(1)).log()).join(stock_mean, on="Date").drop_nulls()
    assert np.corrcoef(joined.get_column("tr"), joined.get_column("r"))[0, 1] > 0.85


# --- corporate actions --------------------------------------------------------------------------------------------


def test_splits_and_consolidations(bars: pl.DataFrame) -> None:
    events = bars.filter(pl.col("AdjFactor") != 1.0)
    factors = events.get_column("AdjFactor").to_list()
    assert set(factors) <= {0.5, 0.2, 3.0}
    assert factors.count(0.5) >= 3 and factors.count(0.2) >= 2 and factors.count(3.0) >= 1
    assert bars.get_column("AdjFactor").is_null().sum() == 0
    for code, ex, f in events.select("Code", "Date", "AdjFactor").iter_rows():
        s = bars.filter(pl.col("Code") == code).sort("Date").with_row_index("i")
        k = s.filter(pl.col("Date") == ex).get_column("i")[0]
        before, on = s.row(k - 1, named=True), s.row(k, named=True)
        raw = on["C"] / before["C"]
        assert 0.75 * f < raw < 1.3 * f, (code, ex, f, raw)  # the raw price jumps by the factor
        econ = on["AdjC"] / before["AdjC"]
        assert 0.75 < econ < 1.3, (code, ex, f, econ)  # the adjusted series does not
        vo_before = s.slice(k - 20, 20).get_column("Vo").median()
        vo_after = s.slice(k, 20).get_column("Vo").median()
        assert 0.4 / f < vo_after / vo_before < 2.5 / f, (code, ex, f)  # volume scales inversely


def test_adjusted_columns_are_back_adjusted_to_the_last_day(market: tuple[Path, dict[str, int]]) -> None:
    """AdjC(t) = C(t) x prod_{s>t} AdjFactor(s), AdjVo(t) = Vo(t) / prod_{s>t} AdjFactor(s), read back from files."""
    bars = read(market[0], "equities_bars_daily").sort("Code", "Date")
    later = (
        pl.col("AdjFactor").reverse().cum_prod().reverse().over("Code", order_by="Date") / pl.col("AdjFactor")
    ).alias("later")
    bars = bars.with_columns(later)
    split_codes = bars.filter(pl.col("AdjFactor") != 1).get_column("Code").unique().to_list()
    assert split_codes
    for code in split_codes:  # a code with a split: the ratio steps exactly at the ex-date
        s = bars.filter((pl.col("Code") == code) & pl.col("C").is_not_null())
        ratio = (s.get_column("AdjC") / s.get_column("C")).to_numpy()
        assert np.allclose(ratio, s.get_column("later").to_numpy(), rtol=1e-9)
        assert len(np.unique(np.round(ratio, 9))) == 2
    traded = bars.filter(pl.col("C").is_not_null())
    for raw, adj in (("O", "AdjO"), ("H", "AdjH"), ("L", "AdjL"), ("C", "AdjC")):
        assert np.allclose(traded.get_column(adj), traded.get_column(raw) * traded.get_column("later"), rtol=1e-9)
    assert np.allclose(bars.get_column("AdjVo"), bars.get_column("Vo") / bars.get_column("later"), rtol=1e-9)


# --- listings, days without trades, master ------------------------------------------------------------------------


def test_listings_and_delistings(bars: pl.DataFrame, master: pl.DataFrame) -> None:
    days = tse_days(START, END)
    span = bars.group_by("Code").agg(first=pl.col("Date").min(), last=pl.col("Date").max(), n=pl.len())
    late = span.filter(pl.col("first") > days[0])
    gone = span.filter(pl.col("last") < days[-1])
    assert late.height >= 2 and gone.height >= 2
    # a row on every trading day between listing and delisting, none outside
    for code, first, last, n in span.iter_rows():
        assert n == sum(first <= d <= last for d in days), code
    # the master lists a code from its listing day until its last trading day, never after
    m_span = master.group_by("Code").agg(m_first=pl.col("Date").min(), m_last=pl.col("Date").max())
    both = span.join(m_span, on="Code")
    assert both.height == span.height
    assert (both.get_column("m_first") == both.get_column("first")).all()
    assert (both.get_column("m_last") <= both.get_column("last")).all()
    for code, first in late.select("Code", "first").iter_rows():
        assert master.filter((pl.col("Code") == code) & (pl.col("Date") == first)).height == 1


def test_master_snapshots_on_first_trading_day_of_each_month(bars: pl.DataFrame, master: pl.DataFrame) -> None:
    days = tse_days(START, END)
    month_firsts = [
        d for k, d in enumerate(days) if k == 0 or (d.year, d.month) != (days[k - 1].year, days[k - 1].month)
    ]
    listing_days = set(bars.group_by("Code").agg(pl.col("Date").min()).get_column("Date").to_list())
    assert set(master.get_column("Date").unique().to_list()) == set(month_firsts) | (listing_days - {days[0]})
    for d in month_firsts:  # everything listed that day, nothing else
        listed = set(bars.filter(pl.col("Date") == d).get_column("Code").to_list())
        assert set(master.filter(pl.col("Date") == d).get_column("Code").to_list()) == listed, d


def test_listed_days_without_trades(bars: pl.DataFrame) -> None:
    empty = bars.filter(pl.col("C").is_null())
    assert empty.height > 0
    for f in ("O", "H", "L", "AdjO", "AdjH", "AdjL", "AdjC"):
        assert empty.get_column(f).is_null().all(), f
    assert (empty.get_column("Vo") == 0).all() and (empty.get_column("Va") == 0).all()
    assert (empty.get_column("AdjVo") == 0).all() and (empty.get_column("AdjFactor") == 1).all()
    firsts = bars.group_by("Code").agg(pl.col("Date").min().alias("Date"))
    assert empty.join(firsts, on=["Code", "Date"]).height == 0
    assert bars.filter(pl.col("C").is_not_null() & (pl.col("Vo") == 0)).height == 0


# --- investor types -----------------------------------------------------------------------------------------------


def test_weekly_investor_types(market: tuple[Path, dict[str, int]], topix: pl.DataFrame) -> None:
    inv = read(market[0], "equities_investor_types").sort("EnDate", "Section")
    assert set(inv.get_column("Section").unique().to_list()) == {"TSEPrime", "TSEStandard", "TSEGrowth"}
    ext = tse_days(START - timedelta(10), END + timedelta(40))
    per_week = inv.group_by("StDate", "EnDate", "PubDate").len()
    assert (per_week.get_column("len") == 3).all()
    weeks = sorted(per_week.select("StDate", "EnDate", "PubDate").iter_rows())
    assert len(weeks) >= 70  # ~ every week of 1.5 years
    for st, en, pub in weeks:
        monday = st - timedelta(st.weekday())
        in_week = [d for d in ext if monday <= d <= monday + timedelta(4)]
        assert (st, en) == (in_week[0], in_week[-1])
        assert START <= st and pub <= END
        assert pub == ext[ext.index(en) + 4]
    for a, b in zip(weeks, weeks[1:], strict=False):
        assert b[0] > a[1]  # consecutive, non-overlapping
    for name in (*INVESTORS, "Prop", "Brk", "Tot"):
        sell, buy = inv.get_column(f"{name}Sell"), inv.get_column(f"{name}Buy")
        assert (sell > 0).all() and (buy > 0).all()
        assert (inv.get_column(f"{name}Bal") == buy - sell).all() and (inv.get_column(f"{name}Tot") == buy + sell).all()
    for side in ("Sell", "Buy"):
        brk = sum(inv.get_column(f"{n}{side}") for n in INVESTORS)
        assert (inv.get_column(f"Brk{side}") == brk).all()
        assert (inv.get_column(f"Tot{side}") == inv.get_column(f"Prop{side}") + brk).all()

    # foreigners buy the rallies
    close = dict(topix.select("Date", "C").iter_rows())
    days = topix.get_column("Date").to_list()
    prime = inv.filter(pl.col("Section") == "TSEPrime")
    rets, flows = [], []
    for st, en, bal in prime.select("StDate", "EnDate", "FrgnBal").iter_rows():
        k = days.index(st)
        if k > 0:
            rets.append(close[en] / close[days[k - 1]] - 1)
            flows.append(bal)
    assert np.corrcoef(rets, flows)[0, 1] > 0.4


# --- statements ---------------------------------------------------------------------------------------------------


def test_quarterly_statements(market: tuple[Path, dict[str, int]], bars: pl.DataFrame) -> None:
    fins = read(market[0], "fins_summary")
    assert fins.height > 0
    open_days = set(tse_days(START, END))
    assert fins.get_column("DiscDate").is_in(open_days).all()
    disc_no = fins.get_column("DiscNo")
    assert disc_no.n_unique() == fins.height and disc_no.str.contains(r"^\d{14}$").all()
    # only while listed
    span = bars.group_by("Code").agg(first=pl.col("Date").min(), last=pl.col("Date").max())
    joined = fins.join(span, on="Code")
    assert joined.height == fins.height
    assert joined.filter((pl.col("DiscDate") < pl.col("first")) | (pl.col("DiscDate") > pl.col("last"))).height == 0

    ends = {"1Q": (6, 30), "2Q": (9, 30), "3Q": (12, 31), "FY": (3, 31)}
    for row in fins.iter_rows(named=True):
        pt = row["CurPerType"]
        assert row["DocType"].startswith(f"{pt}FinancialStatements_") and row["DocType"].endswith("_JP")
        fy = row["CurFYSt"]
        assert (fy.month, fy.day) == (4, 1) and row["CurFYEn"] == date(fy.year + 1, 3, 31)
        assert row["CurPerSt"] == fy and (row["CurPerEn"].month, row["CurPerEn"].day) == ends[pt]
        assert fy < row["CurPerEn"] <= row["CurFYEn"]
        assert 30 <= (row["DiscDate"] - row["CurPerEn"]).days <= 52
        for f in ("Sales", "OP", "OdP", "NP", "EPS", "BPS", "TA", "Eq", "EqAR"):
            assert row[f] is not None, f
        forecasts = ("FSales", "FOP", "FOdP", "FNP", "FEPS")
        if pt == "FY":  # the year is over: the forecasts are for the next one
            assert all(row[f] is None for f in forecasts) and row["NxFSales"] is not None
            assert row["NxtFYSt"] == date(fy.year + 1, 4, 1)
        else:
            assert all(row[f] is not None for f in forecasts)
        assert 0 < row["EqAR"] < 1 and math.isclose(row["EqAR"], row["Eq"] / row["TA"], abs_tol=1e-3)
        assert math.isclose(row["EPS"], row["NP"] / row["ShOutFY"], rel_tol=0.02, abs_tol=0.02)

    # year-to-date figures grow through the fiscal year
    ytd = fins.sort("Code", "CurFYSt", "CurPerEn").with_columns(prev=pl.col("Sales").shift(1).over("Code", "CurFYSt"))
    assert ytd.filter(pl.col("prev").is_not_null() & (pl.col("Sales") <= pl.col("prev"))).height == 0
    assert ytd.get_column("prev").is_not_null().sum() > 0

    # disclosed before the close and after it (15:00 JST, 15:30 from 2024-11-05)
    def before_close(d: date, t: str) -> bool:
        return t < ("15:30:00" if d >= date(2024, 11, 5) else "15:00:00")

    flags = [before_close(d, t) for d, t in fins.select("DiscDate", "DiscTime").iter_rows()]
    assert any(flags) and not all(flags)
    assert fins.get_column("DiscTime").str.contains(r"^\d{2}:\d{2}:\d{2}$").all()
    assert set(fins.get_column("CurPerType").unique().to_list()) == {"1Q", "2Q", "3Q", "FY"}


# --- determinism and short windows --------------------------------------------------------------------------------


def test_deterministic_and_seed_dependent(tmp_path: Path) -> None:
    kw = dict(codes=15, start=date(2024, 1, 4), end=date(2024, 6, 28))
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    counts_a = write_sample_market(a, seed=11, **kw)
    counts_b = write_sample_market(b, seed=11, **kw)
    write_sample_market(c, seed=12, **kw)
    assert counts_a == counts_b
    ha, hb, hc = file_hashes(a), file_hashes(b), file_hashes(c)
    assert ha == hb and len(ha) == len(DATASETS)
    for name in ("equities_bars_daily_2024.csv.gz", "indices_topix_2024.csv.gz", "fins_summary_2024.csv.gz"):
        assert ha[name] != hc[name], name
    assert ha["markets_calendar_2024.csv.gz"] == hc["markets_calendar_2024.csv.gz"]  # the calendar is the calendar


def test_rewriting_a_directory_replaces_the_market(tmp_path: Path) -> None:
    write_sample_market(tmp_path, codes=10, start=date(2023, 11, 1), end=date(2024, 2, 29))
    assert (tmp_path / "equities_bars_daily_2023.csv.gz").exists()
    (tmp_path / "notes.txt").write_text("kept")
    write_sample_market(tmp_path, codes=10, start=date(2024, 1, 4), end=date(2024, 2, 29))
    names = {p.name for p in tmp_path.iterdir()}
    assert not any("2023" in n for n in names) and "notes.txt" in names
    assert not any(n.endswith(".tmp") for n in names)


def test_short_window_has_every_dataset(tmp_path: Path) -> None:
    """The shared test fixture's shape (30 codes, four months) still gets a bit of everything."""
    counts = write_sample_market(tmp_path, codes=30, start=date(2023, 12, 1), end=date(2024, 3, 29), seed=7)
    assert all(n > 0 for n in counts.values()), counts
    bars = read(tmp_path, "equities_bars_daily")
    assert bars.filter(pl.col("AdjFactor") != 1).height >= 6
    assert bars.filter(pl.col("C").is_null()).height > 0


@pytest.mark.slow
def test_default_market(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    counts = write_sample_market(tmp_path)
    elapsed = time.perf_counter() - t0
    print(f"default sample market: {counts} in {elapsed:.1f}s")
    n_days = len(tse_days(date(2021, 1, 4), date(2024, 12, 30)))
    assert counts["indices_topix"] == n_days
    assert counts["markets_calendar"] == (date(2024, 12, 30) - date(2021, 1, 4)).days + 1
    assert 0.85 * 300 * n_days < counts["equities_bars_daily"] <= 300 * n_days
    assert counts["fins_summary"] > 300 * 4 * 3
    assert len(list(tmp_path.glob("*.csv.gz"))) == len(DATASETS) * 4
