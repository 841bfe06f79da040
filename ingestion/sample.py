"""A deterministic synthetic Japanese equity market, written as J-Quants v2 bulk files.

`write_sample_market(out_dir)` writes one gzip CSV per dataset and calendar year, `<dataset>_<YYYY>.csv.gz`
(the year of the dataset's day field), with exactly the v2 fields of `ingestion.schema.DATASETS` as header.

What the market looks like:
- the real TSE calendar (weekdays that are not jpholiday holidays and not Dec 31 - Jan 3);
- daily log returns = beta x market factor (with volatility clustering) + one of 33 sector factors + idiosyncratic
  noise, all Student-t (fat tails), limited to +-20 % a day (UL/LL set on the few days that hit the limit);
- raw prices on a 1 yen tick (0.1 yen for TOPIX100 names under 1,000 yen), volumes in 100-share lots;
- corporate actions: 1:2 and 1:5 splits and 3:1 consolidations (AdjFactor on the ex-date; Adj* back-adjusted to
  the last day written, so the adjusted series has no jump);
- listings and delistings mid-period, listed days without trades (null prices, Vo = 0);
- TOPIX = the cap-weighted index of the stocks' (economic) returns, from about 1,800;
- master snapshots on the first trading day of each month (and on listing days);
- weekly investor-type flows per section (foreigners buy into rallies, individuals sell them);
- quarterly statements (April-March years, year-to-date figures, forecasts) disclosed 30-45 days after the
  quarter, before or after the close.

Same arguments -> byte-identical files; everything is vectorised over (day, code) arrays with numpy and polars.
"""

from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import jpholiday
import numpy as np
import polars as pl

from ingestion.schema import DATASETS

# --- reference data -----------------------------------------------------------------------------------------------

S17_NAMES = {
    "1": "食品",
    "2": "エネルギー資源",
    "3": "建設・資材",
    "4": "素材・化学",
    "5": "医薬品",
    "6": "自動車・輸送機",
    "7": "鉄鋼・非鉄",
    "8": "機械",
    "9": "電機・精密",
    "10": "情報通信・サービスその他",
    "11": "電力・ガス",
    "12": "運輸・物流",
    "13": "商社・卸売",
    "14": "小売",
    "15": "銀行",
    "16": "金融（除く銀行）",
    "17": "不動産",
}

# S33, S33Nm, S17, weight (roughly the TSE's listing counts), code range, company-name word (ja, en)
SECTORS: list[tuple[str, str, str, float, tuple[int, int], str, str]] = [
    ("0050", "水産・農林業", "1", 12, (1301, 1399), "水産", "SUISAN"),
    ("1050", "鉱業", "2", 6, (1500, 1699), "鉱業", "MINING"),
    ("2050", "建設業", "3", 160, (1700, 1999), "建設", "CONSTRUCTION"),
    ("3050", "食料品", "1", 125, (2000, 2699), "食品", "FOODS"),
    ("3100", "繊維製品", "4", 50, (3000, 3599), "紡績", "SPINNING"),
    ("3150", "パルプ・紙", "4", 25, (3700, 3899), "製紙", "PAPER"),
    ("3200", "化学", "4", 210, (4000, 4499), "化学", "CHEMICAL"),
    ("3250", "医薬品", "5", 75, (4500, 4599), "製薬", "PHARMACEUTICAL"),
    ("3300", "石油・石炭製品", "2", 10, (5000, 5099), "石油", "OIL"),
    ("3350", "ゴム製品", "6", 18, (5100, 5199), "ゴム", "RUBBER"),
    ("3400", "ガラス・土石製品", "3", 55, (5200, 5399), "硝子", "GLASS"),
    ("3450", "鉄鋼", "7", 45, (5400, 5699), "製鋼", "STEEL"),
    ("3500", "非鉄金属", "7", 35, (5700, 5899), "金属", "METALS"),
    ("3550", "金属製品", "3", 90, (5900, 5999), "金属工業", "METAL INDUSTRIES"),
    ("3600", "機械", "8", 230, (6000, 6499), "機械", "MACHINERY"),
    ("3650", "電気機器", "9", 240, (6500, 6999), "電機", "ELECTRIC"),
    ("3700", "輸送用機器", "6", 90, (7000, 7299), "自動車", "MOTOR"),
    ("3750", "精密機器", "9", 50, (7700, 7799), "精機", "PRECISION"),
    ("3800", "その他製品", "10", 110, (7800, 7999), "工芸", "CRAFTS"),
    ("4050", "電気・ガス業", "11", 25, (9500, 9599), "電力", "ELECTRIC POWER"),
    ("5050", "陸運業", "12", 65, (9000, 9099), "鉄道", "RAILWAY"),
    ("5100", "海運業", "12", 12, (9100, 9199), "汽船", "KISEN"),
    ("5150", "空運業", "12", 5, (9200, 9299), "航空", "AIRLINES"),
    ("5200", "倉庫・運輸関連業", "12", 40, (9300, 9399), "倉庫", "WAREHOUSE"),
    ("5250", "情報・通信業", "10", 600, (3900, 3999), "システム", "SYSTEMS"),
    ("6050", "卸売業", "13", 310, (8000, 8199), "商事", "TRADING"),
    ("6100", "小売業", "14", 340, (2700, 2999), "百貨店", "RETAILING"),
    ("7050", "銀行業", "15", 80, (8300, 8399), "銀行", "BANK"),
    ("7100", "証券、商品先物取引業", "16", 40, (8600, 8699), "証券", "SECURITIES"),
    ("7150", "保険業", "16", 12, (8700, 8799), "海上火災", "FIRE & MARINE"),
    ("7200", "その他金融業", "16", 30, (8500, 8599), "リース", "LEASE"),
    ("8050", "不動産業", "17", 150, (8800, 8999), "地所", "ESTATE"),
    ("9050", "サービス業", "10", 560, (9600, 9799), "サービス", "SERVICES"),
]

NAME_PREFIXES = [
    ("日本", "NIPPON"), ("東洋", "TOYO"), ("大和", "DAIWA"), ("三和", "SANWA"), ("富士", "FUJI"),
    ("中央", "CHUO"), ("北陸", "HOKURIKU"), ("関西", "KANSAI"), ("東邦", "TOHO"), ("太平洋", "TAIHEIYO"),
    ("昭和", "SHOWA"), ("平和", "HEIWA"), ("信越", "SHINETSU"), ("日東", "NITTO"), ("山陽", "SANYO"),
    ("九州", "KYUSHU"), ("北海", "HOKKAI"), ("瀬戸", "SETO"), ("朝日", "ASAHI"), ("高砂", "TAKASAGO"),
    ("大同", "DAIDO"), ("協和", "KYOWA"), ("明治", "MEIJI"), ("新光", "SHINKO"), ("扶桑", "FUSO"),
    ("常盤", "TOKIWA"), ("丸和", "MARUWA"), ("安田", "YASUDA"), ("千代田", "CHIYODA"), ("横浜", "YOKOHAMA"),
    ("名古屋", "NAGOYA"), ("京都", "KYOTO"), ("神戸", "KOBE"), ("広島", "HIROSHIMA"), ("仙台", "SENDAI"),
    ("東海", "TOKAI"), ("東亜", "TOA"), ("三光", "SANKO"), ("日新", "NISSHIN"), ("菱和", "RYOWA"),
]  # fmt: skip

MARKETS = {"0111": "プライム", "0112": "スタンダード", "0113": "グロース"}
SECTIONS = {"0111": "TSEPrime", "0112": "TSEStandard", "0113": "TSEGrowth"}
MARGIN = {"1": "信用", "2": "貸借"}
PROD_CAT = "011"  # domestic common stock

CLOSE_EXTENDED = date(2024, 11, 5)  # TSE close 15:00 -> 15:30 JST from this day
PRICE_LIMIT = 0.20  # daily limit (simple return), a simplification of the TSE's yen table
START_TOPIX = 1800.0

# Investor categories (field prefix) and their share of brokerage trading value per market.
INVESTORS = ("Ind", "Frgn", "SecCo", "InvTr", "BusCo", "OthCo", "InsCo", "Bank", "TrstBnk", "OthFin")
_INV_SHARE = {
    "0111": (0.21, 0.66, 0.012, 0.02, 0.015, 0.004, 0.003, 0.003, 0.03, 0.003),
    "0112": (0.38, 0.52, 0.015, 0.01, 0.02, 0.01, 0.002, 0.002, 0.01, 0.001),
    "0113": (0.55, 0.40, 0.015, 0.005, 0.01, 0.008, 0.001, 0.001, 0.005, 0.001),
}
_SECTION_WEEKLY_THOUSAND_YEN = {"0111": 1.6e10, "0112": 6.0e8, "0113": 5.0e8}  # brokerage, both sides
_PROP_SHARE = {"0111": 0.18, "0112": 0.10, "0113": 0.08}
# Imbalance = a * (rho * z(weekly TOPIX return) + sqrt(1 - rho^2) * noise), per investor category.
_INV_FLOW = {"Frgn": (0.035, 0.8), "Ind": (0.05, -0.6), "TrstBnk": (0.05, -0.3), "InvTr": (0.06, 0.0)}

DISC_TIMES = ("11:30:00", "13:00:00", "14:00:00", "15:00:00", "15:30:00", "16:00:00", "17:30:00")
DISC_TIME_P = (0.04, 0.08, 0.05, 0.38, 0.22, 0.17, 0.06)

_FILE_RE = re.compile(r"^(?P<ds>[a-z_]+)_(?P<year>\d{4})\.csv\.gz$")


# --- calendar -----------------------------------------------------------------------------------------------------


def is_trading_day(d: date) -> bool:
    """A TSE trading day: a weekday that is not a national/substitute holiday and not Dec 31 - Jan 3."""
    if d.weekday() >= 5 or jpholiday.is_holiday(d):
        return False
    return not ((d.month == 12 and d.day == 31) or (d.month == 1 and d.day <= 3))


def trading_days(start: date, end: date) -> list[date]:
    """TSE trading days in [start, end]."""
    return [start + timedelta(days=k) for k in range((end - start).days + 1) if is_trading_day(start + timedelta(k))]


def _d64(days: list[date]) -> np.ndarray:
    return np.array(days, dtype="datetime64[D]")


# --- the simulation -----------------------------------------------------------------------------------------------


def _rng(seed: int, part: int) -> np.random.Generator:
    """An independent stream per part of the simulation, so that parts do not shift each other."""
    return np.random.default_rng([seed, part])


def _student(rng: np.random.Generator, df: float, shape: tuple[int, ...]) -> np.ndarray:
    """Student-t draws scaled to unit variance."""
    return rng.standard_t(df, shape) / np.sqrt(df / (df - 2))


class _Universe:
    """Static attributes of every code (arrays of length N, in code order)."""

    def __init__(self, n: int, n_days: int, seed: int) -> None:
        rng = _rng(seed, 1)
        weights = np.array([s[3] for s in SECTORS], dtype=float)
        sector = rng.choice(len(SECTORS), size=n, p=weights / weights.sum())
        used: set[int] = set()
        numbers = np.empty(n, dtype=np.int64)
        for i in range(n):  # a loop over codes: a 4-digit code in the sector's range when one is free
            lo, hi = SECTORS[sector[i]][4]
            num = 0
            for _ in range(64):
                cand = int(rng.integers(lo, hi + 1))
                if cand not in used:
                    num = cand
                    break
            if not num:
                num = next(c for c in range(1301, 10000) if c not in used)
            used.add(num)
            numbers[i] = num
        order = np.argsort(numbers, kind="stable")
        self.n = n
        self.number = numbers[order]
        self.sector = sector[order]
        self.code = np.array([f"{c:04d}0" for c in self.number], dtype=object)

        mkt = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
        self.market = np.array(["0111", "0112", "0113"], dtype=object)[mkt]
        cap_median = np.array([1.5e11, 1.5e10, 1.2e10])[mkt]
        self.mcap0 = cap_median * np.exp(rng.normal(0.0, 1.2, n))
        self.price0 = np.clip(np.array([2000.0, 1000.0, 900.0])[mkt] * np.exp(rng.normal(0.0, 0.8, n)), 80, 60_000)
        self.beta = np.clip(np.array([1.0, 0.85, 1.2])[mkt] + rng.normal(0.0, 0.25, n), 0.3, 2.0)
        self.idio_vol = np.array([0.014, 0.017, 0.028])[mkt] * np.exp(rng.normal(0.0, 0.25, n))
        self.turnover_ratio = np.array([0.004, 0.002, 0.012])[mkt] * np.exp(rng.normal(0.0, 0.5, n))
        self.no_trade_p = np.array([0.0002, 0.006, 0.003])[mkt] * np.exp(rng.normal(0.0, 0.5, n))
        self.consolidated = rng.random(n) < 0.85
        self.margin = np.where((mkt == 0) | (rng.random(n) < 0.4), "2", "1").astype(object)
        self.names = self._names(rng)

        # listing windows [first, last] (trading-day indices) and corporate actions
        self.first = np.zeros(n, dtype=np.int64)
        self.last = np.full(n, n_days - 1, dtype=np.int64)
        self.events: list[tuple[int, int, float]] = []  # (code index, ex-date index, AdjFactor)
        pool = list(rng.permutation(n))
        n_split2, n_split5, n_cons = max(3, n // 40), max(2, n // 100), max(1, n // 150)
        n_late, n_delist = max(2, round(0.07 * n)), max(2, round(0.05 * n))
        if n_days >= 20:
            event_codes = pool[: n_split2 + n_split5 + n_cons]
            pool = pool[len(event_codes) :]
            by_price = sorted(event_codes, key=lambda i: -self.price0[i])  # splits for the expensive names
            factors = [0.2] * n_split5 + [0.5] * n_split2 + [3.0] * n_cons
            for i, f in zip(by_price, factors, strict=False):
                if f == 3.0:  # a consolidation is what a penny stock does
                    self.price0[i] = rng.uniform(60, 150)
                elif self.price0[i] < 1500:
                    self.price0[i] *= 4 if f == 0.5 else 10
                ex = int(rng.integers(max(2, n_days // 10), max(3, n_days - n_days // 10)))
                self.events.append((int(i), ex, f))
            for i in pool[:n_late]:
                self.first[i] = int(rng.integers(max(1, n_days // 20), max(2, n_days * 17 // 20)))
                self.market[i] = "0113" if rng.random() < 0.8 else "0112"
            for i in pool[n_late : n_late + n_delist]:
                self.last[i] = int(rng.integers(max(1, n_days * 3 // 20), max(2, n_days * 19 // 20)))
        self.shares = np.round(self.mcap0 / self.price0, -3).clip(100_000)  # in the share units of day 0
        cap_rank = np.argsort(np.argsort(-self.shares * self.price0 * (self.market == "0111")))
        frac = (cap_rank + 0.5) / max(1, int((self.market == "0111").sum()))
        self.scale_cat = np.select(
            [self.market != "0111", frac < 0.02, frac < 0.06, frac < 0.3, frac < 0.65],
            ["-", "TOPIX Core30", "TOPIX Large70", "TOPIX Mid400", "TOPIX Small 1"],
            "TOPIX Small 2",
        ).astype(object)
        self.fine_tick = np.isin(self.scale_cat, ["TOPIX Core30", "TOPIX Large70"])

    def _names(self, rng: np.random.Generator) -> list[tuple[str, str]]:
        names, used = [], set()
        for i in range(self.n):
            _, _, _, _, _, word, word_en = SECTORS[self.sector[i]]
            for k in rng.permutation(len(NAME_PREFIXES) * 2):
                pre, pre_en = NAME_PREFIXES[k % len(NAME_PREFIXES)]
                hd = k // len(NAME_PREFIXES)
                ja = pre + word + ("", "ホールディングス")[hd]
                if ja not in used:
                    break
            else:
                ja, pre_en, hd = f"{pre}{word}{i}", f"{pre_en}{i}", 0
            used.add(ja)
            en = f"{pre_en} {word_en}" + (" CO.,LTD.", " HOLDINGS,INC.")[hd]
            names.append((ja, en))
        return names


@dataclass
class _Sim:
    universe: _Universe
    bars: pl.DataFrame
    topix: pl.DataFrame
    cum: np.ndarray  # (day, code): product of AdjFactors up to and including the day
    turnover: np.ndarray  # (day, code): trading value, 0 where not traded
    topix_close: np.ndarray  # (day,)


def _simulate(n_codes: int, days: list[date], seed: int) -> _Sim:
    """Bars, TOPIX and the per-code state the other datasets need."""
    t_n = len(days)
    u = _Universe(n_codes, t_n, seed)
    rng = _rng(seed, 2)

    # factors: market with volatility clustering (an AR(1) log-vol built by convolution), sectors, idiosyncratic
    phi = 0.97
    h = np.convolve(rng.normal(0.0, 0.2, t_n + 250), phi ** np.arange(250))[250 : t_n + 250] * np.sqrt(1 - phi**2)
    mkt_vol = 0.011 * np.exp(h - 0.5 * h.var())
    market = 0.0003 + mkt_vol * _student(rng, 4, (t_n,))
    sector_f = 0.006 * _student(rng, 5, (t_n, len(SECTORS)))
    idio = u.idio_vol * _student(rng, 4, (t_n, n_codes))
    log_ret = u.beta * market[:, None] + sector_f[:, u.sector] + idio
    simple = np.expm1(log_ret)
    up_limit, low_limit = simple >= PRICE_LIMIT, simple <= -PRICE_LIMIT
    log_ret = np.log1p(np.clip(simple, -PRICE_LIMIT, PRICE_LIMIT))

    t_idx = np.arange(t_n)[:, None]
    listed = (t_idx >= u.first) & (t_idx <= u.last)
    log_ret = np.where(listed, log_ret, 0.0)
    csum = np.vstack([np.zeros(n_codes), np.cumsum(log_ret, axis=0)])
    # economic (split-free) close; the listing day's "previous close" is the offering price price0
    close = u.price0 * np.exp(csum[1:] - csum[u.first, np.arange(n_codes)])
    prev = np.vstack([u.price0, close[:-1]])
    prev = np.where(t_idx == u.first, u.price0, prev)
    day_vol = u.idio_vol + u.beta * mkt_vol[:, None]
    gap = 0.25 * log_ret + rng.normal(0.0, 1.0, (t_n, n_codes)) * 0.3 * day_vol
    opn = prev * np.exp(np.clip(gap, np.log(1 - PRICE_LIMIT), np.log(1 + PRICE_LIMIT)))
    hi = np.maximum(opn, close) * np.exp(np.abs(rng.normal(0.0, 1.0, (t_n, n_codes))) * 0.4 * day_vol)
    lo = np.minimum(opn, close) * np.exp(-np.abs(rng.normal(0.0, 1.0, (t_n, n_codes))) * 0.4 * day_vol)
    hi = np.where(up_limit, close, np.minimum(hi, prev * (1 + PRICE_LIMIT)))
    lo = np.where(low_limit, close, np.maximum(lo, prev * (1 - PRICE_LIMIT)))

    # corporate actions: raw = economic x prod of factors up to t; Adj* = raw x prod of factors after t
    factor = np.ones((t_n, n_codes))
    for i, ex, f in u.events:
        factor[ex, i] = f
    cum = np.cumprod(factor, axis=0)
    later = cum[-1] / cum

    def tick(x: np.ndarray) -> np.ndarray:
        fine = u.fine_tick & (x < 1000)
        return np.maximum(np.where(fine, np.round(x, 1), np.round(x)), np.where(fine, 0.1, 1.0))

    r_open, r_close = tick(opn * cum), tick(close * cum)
    r_high = np.maximum.reduce([tick(hi * cum), r_open, r_close])
    r_low = np.minimum.reduce([tick(lo * cum), r_open, r_close])

    activity = np.exp(0.5 * h)[:, None]
    econ_vol = (
        (u.turnover_ratio * u.shares) * activity * np.exp(rng.normal(0.0, 0.45, (t_n, n_codes)) + 6 * abs(simple))
    )
    volume = np.maximum(np.round(econ_vol / cum / 100.0), 1.0) * 100.0
    turnover = np.round(volume * (r_open + r_high + r_low + r_close) / 4 * (1 + rng.normal(0.0, 0.002, (t_n, n_codes))))

    # listed days without trades: never a listing day, an ex-date or the day before one
    no_trade = listed & (rng.random((t_n, n_codes)) < u.no_trade_p) & (t_idx != u.first)
    protect = np.zeros_like(no_trade)
    for i, ex, _ in u.events:
        protect[max(0, ex - 1) : ex + 1, i] = True
    no_trade &= ~protect
    if not no_trade.any():
        cands = np.argwhere(listed & ~protect & (t_idx != u.first))
        if len(cands):
            t0, i0 = cands[len(cands) // 2]
            no_trade[t0, i0] = True

    # TOPIX: cap-weighted economic returns of the codes listed on both days
    in_prev = np.vstack([u.first == 0, listed[:-1]]) & listed
    w = np.where(in_prev, u.shares * prev, 0.0)
    w_sum = w.sum(axis=1)
    w = w / np.where(w_sum > 0, w_sum, 1.0)[:, None]
    idx_ret_c = np.where(w_sum > 0, (w * close / prev).sum(axis=1), 1.0)
    idx_ret_o = np.where(w_sum > 0, (w * opn / prev).sum(axis=1), 1.0)
    idx_close = START_TOPIX * np.cumprod(idx_ret_c)
    idx_prev = np.concatenate([[START_TOPIX], idx_close[:-1]])
    idx_open = idx_prev * idx_ret_o
    idx_high = np.maximum(idx_open, idx_close) * np.exp(np.abs(rng.normal(0, 1, t_n)) * 0.35 * mkt_vol)
    idx_low = np.minimum(idx_open, idx_close) * np.exp(-np.abs(rng.normal(0, 1, t_n)) * 0.35 * mkt_vol)
    topix = pl.DataFrame(
        {
            "Date": _d64(days),
            "O": np.round(idx_open, 2),
            "H": np.round(idx_high, 2),
            "L": np.round(idx_low, 2),
            "C": np.round(idx_close, 2),
        }
    )

    # bars: the listed cells, day-major (like a day-by-day download)
    tt, ii = np.nonzero(listed)
    traded = ~no_trade[tt, ii]
    lat = later[tt, ii]

    def px(a: np.ndarray) -> np.ndarray:
        return np.where(traded, a[tt, ii], np.nan)

    def adj(a: np.ndarray) -> np.ndarray:
        return np.round(a * lat, 6)

    o, hh, ll, c = px(r_open), px(r_high), px(r_low), px(r_close)
    vo = np.where(traded, volume[tt, ii], 0.0)
    bars = pl.DataFrame(
        {
            "Date": _d64(days)[tt],
            "Code": u.code[ii],
            "O": o,
            "H": hh,
            "L": ll,
            "C": c,
            "UL": (up_limit[tt, ii] & traded).astype(np.int8),
            "LL": (low_limit[tt, ii] & traded).astype(np.int8),
            "Vo": vo.astype(np.int64),
            "Va": np.where(traded, turnover[tt, ii], 0.0).astype(np.int64),
            "AdjFactor": factor[tt, ii],
            "AdjO": adj(o),
            "AdjH": adj(hh),
            "AdjL": adj(ll),
            "AdjC": adj(c),
            "AdjVo": np.round(vo / lat, 6),
        }
    ).with_columns(pl.col(p).fill_nan(None) for p in ("O", "H", "L", "C", "AdjO", "AdjH", "AdjL", "AdjC"))

    return _Sim(u, bars, topix, cum, np.where(listed & ~no_trade, turnover, 0.0), idx_close)


def _calendar(start: date, end: date) -> pl.DataFrame:
    all_days = [start + timedelta(days=k) for k in range((end - start).days + 1)]
    return pl.DataFrame({"Date": _d64(all_days), "HolDiv": ["1" if is_trading_day(d) else "0" for d in all_days]})


def _master(u: _Universe, days: list[date]) -> pl.DataFrame:
    t_n = len(days)
    months = np.array([d.year * 12 + d.month for d in days])
    snap = np.zeros(t_n, dtype=bool)
    snap[0] = True
    snap[1:] = months[1:] != months[:-1]
    t_idx = np.arange(t_n)[:, None]
    rows = ((t_idx >= u.first) & (t_idx <= u.last) & snap[:, None]) | (t_idx == u.first)
    tt, ii = np.nonzero(rows)
    s33 = np.array([s[0] for s in SECTORS], dtype=object)[u.sector]
    s17 = np.array([s[2] for s in SECTORS], dtype=object)[u.sector]
    return pl.DataFrame(
        {
            "Date": _d64(days)[tt],
            "Code": u.code[ii],
            "CoName": np.array([n[0] for n in u.names], dtype=object)[ii],
            "CoNameEn": np.array([n[1] for n in u.names], dtype=object)[ii],
            "S17": s17[ii],
            "S17Nm": np.array([S17_NAMES[s] for s in s17], dtype=object)[ii],
            "S33": s33[ii],
            "S33Nm": np.array([s[1] for s in SECTORS], dtype=object)[u.sector][ii],
            "ScaleCat": u.scale_cat[ii],
            "Mkt": u.market[ii],
            "MktNm": np.array([MARKETS[m] for m in u.market], dtype=object)[ii],
            "Mrgn": u.margin[ii],
            "MrgnNm": np.array([MARGIN[m] for m in u.margin], dtype=object)[ii],
            "ProdCat": np.full(len(ii), PROD_CAT, dtype=object),
        }
    )


def _investor_types(
    sim: _Sim, days: list[date], start: date, end: date, ext_days: np.ndarray, seed: int
) -> pl.DataFrame:
    rng = _rng(seed, 3)
    d64 = _d64(days)
    day_no = d64.astype("int64")  # days since 1970-01-01, a Thursday
    week = day_no - (day_no + 3) % 7  # the Monday of the week
    first_pos = np.flatnonzero(np.r_[True, week[1:] != week[:-1]])
    last_pos = np.r_[first_pos[1:] - 1, len(days) - 1]
    # a week that began before `start` is partial: drop it
    monday0 = np.datetime64(int(week[0]), "D")
    keep = np.ones(len(first_pos), dtype=bool)
    if ((ext_days >= monday0) & (ext_days < d64[0])).any():
        keep[0] = False
    pos_end = np.searchsorted(ext_days, d64[last_pos])
    pub = ext_days[np.minimum(pos_end + 4, len(ext_days) - 1)]
    keep &= (pos_end + 4 < len(ext_days)) & (pub <= np.datetime64(end))
    first_pos, last_pos, pub = first_pos[keep], last_pos[keep], pub[keep]
    n_w = len(first_pos)
    if not n_w:
        return pl.DataFrame({"PubDate": [], "StDate": [], "EnDate": [], "Section": []})
    close = sim.topix_close
    before = np.where(first_pos > 0, close[np.maximum(first_pos - 1, 0)], START_TOPIX)
    wk_ret = close[last_pos] / before - 1
    z = (wk_ret - wk_ret.mean()) / (wk_ret.std() if n_w > 1 and wk_ret.std() > 0 else 1.0)
    csum = np.concatenate([[0.0], np.cumsum(sim.turnover.sum(axis=1))])
    activity = (csum[last_pos + 1] - csum[first_pos]) / (last_pos - first_pos + 1)
    activity = activity / activity.mean()

    frames = []
    for mkt, section in SECTIONS.items():
        total = _SECTION_WEEKLY_THOUSAND_YEN[mkt] * activity * np.exp(rng.normal(0, 0.05, n_w))
        cols: dict[str, np.ndarray] = {}
        brk_sell = np.zeros(n_w, dtype=np.int64)
        brk_buy = np.zeros(n_w, dtype=np.int64)
        for name, share in zip(INVESTORS, _INV_SHARE[mkt], strict=True):
            a, rho = _INV_FLOW.get(name, (0.08, 0.0))
            imb = a * (rho * z + np.sqrt(1 - rho**2) * rng.normal(0, 1, n_w))
            gross = total * share * np.exp(rng.normal(0, 0.08, n_w))
            sell = np.round(gross * (1 - imb) / 2).astype(np.int64)
            buy = np.round(gross * (1 + imb) / 2).astype(np.int64)
            cols.update({f"{name}Sell": sell, f"{name}Buy": buy, f"{name}Tot": sell + buy, f"{name}Bal": buy - sell})
            brk_sell += sell
            brk_buy += buy
        prop_gross = total * _PROP_SHARE[mkt] / (1 - _PROP_SHARE[mkt])
        prop_imb = 0.02 * rng.normal(0, 1, n_w)
        prop_sell = np.round(prop_gross * (1 - prop_imb) / 2).astype(np.int64)
        prop_buy = np.round(prop_gross * (1 + prop_imb) / 2).astype(np.int64)
        for name, sell, buy in (
            ("Prop", prop_sell, prop_buy),
            ("Brk", brk_sell, brk_buy),
            ("Tot", prop_sell + brk_sell, prop_buy + brk_buy),
        ):
            cols.update({f"{name}Sell": sell, f"{name}Buy": buy, f"{name}Tot": sell + buy, f"{name}Bal": buy - sell})
        frames.append(
            pl.DataFrame(
                {
                    "PubDate": pub,
                    "StDate": d64[first_pos],
                    "EnDate": d64[last_pos],
                    "Section": np.full(n_w, section, dtype=object),
                    **cols,
                }
            )
        )
    return pl.concat(frames).sort("PubDate", "EnDate", "Section")


def _fins_summary(sim: _Sim, days: list[date], start: date, end: date, ext_days: np.ndarray, seed: int) -> pl.DataFrame:
    """Quarterly statements (April-March fiscal years), vectorised over (code, fiscal year, quarter)."""
    rng = _rng(seed, 4)
    u = sim.universe
    cum = sim.cum
    n = u.n
    years = np.arange(start.year - 2, end.year + 1)  # fiscal years starting in April of these years
    n_y = len(years)

    # annual actuals for n_y + 1 years (the last one is "next year", for the FY statements' forecasts)
    sales0 = u.mcap0 * np.exp(rng.normal(0.0, 0.6, n))
    growth = rng.normal(0.04, 0.08, (n, n_y + 1))
    annual = sales0[:, None] * np.exp(np.cumsum(growth, axis=1) - growth[:, :1])
    season = 0.25 * np.exp(rng.normal(0, 0.08, (n, 1, 4)) + rng.normal(0, 0.03, (n, n_y + 1, 4)))
    season /= season.sum(axis=2, keepdims=True)
    q_sales = annual[:, :, None] * season
    margin = np.clip(rng.normal(0.08, 0.04, n), 0.01, 0.3)
    q_op = q_sales * (margin[:, None, None] + rng.normal(0, 0.015, (n, n_y + 1, 4)))
    q_odp = q_op * (1 + rng.normal(0.03, 0.03, q_op.shape)) + q_sales * 0.002
    q_np = q_odp * 0.68 * (1 + rng.normal(0, 0.08, q_op.shape))
    ytd = {k: np.cumsum(v, axis=2) for k, v in (("Sales", q_sales), ("OP", q_op), ("OdP", q_odp), ("NP", q_np))}
    banks = u.sector == [s[0] for s in SECTORS].index("7050")
    eq_ratio = np.where(banks, 0.05, np.clip(rng.normal(0.45, 0.15, n), 0.1, 0.85))  # 27 = 7050 banks
    eq_fy0 = u.mcap0 / np.exp(rng.normal(0.2, 0.5, n))
    eq_start = eq_fy0[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(0.7 * ytd["NP"][:, :, 3], axis=1)], 1)
    eq = eq_start[:, : n_y + 1, None] + 0.7 * ytd["NP"]

    # period ends and disclosure dates
    per_end = np.array(
        [[date(y, 6, 30), date(y, 9, 30), date(y, 12, 31), date(y + 1, 3, 31)] for y in years], dtype="datetime64[D]"
    )
    fy_st = np.array([date(y, 4, 1) for y in years], dtype="datetime64[D]")
    fy_en = np.array([date(y + 1, 3, 31) for y in years], dtype="datetime64[D]")
    nxt_st = np.array([date(y + 1, 4, 1) for y in years], dtype="datetime64[D]")
    nxt_en = np.array([date(y + 2, 3, 31) for y in years], dtype="datetime64[D]")
    lag = rng.integers(30, 46, (n, n_y, 4)).astype("timedelta64[D]")
    target = per_end[None, :, :] + lag
    disc = ext_days[np.minimum(np.searchsorted(ext_days, target), len(ext_days) - 1)]
    d64 = _d64(days)
    pos = np.searchsorted(d64, disc)
    listed_from, listed_to = d64[u.first][:, None, None], d64[u.last][:, None, None]
    keep = (disc >= np.datetime64(start)) & (disc <= np.datetime64(end)) & (disc >= listed_from) & (disc <= listed_to)
    ci, yi, qi = np.nonzero(keep)
    if not len(ci):
        return pl.DataFrame({"DiscDate": [], "DiscTime": [], "Code": [], "DiscNo": [], "DocType": []})
    m = len(ci)
    shares = u.shares[ci] / cum[pos[ci, yi, qi], ci]  # shares outstanding in the units of the disclosure day
    is_fy = qi == 3

    def pick(a: np.ndarray) -> np.ndarray:
        return a[ci, yi, qi]

    def money(a: np.ndarray) -> np.ndarray:
        return np.round(a, -3)  # yen, to the thousand

    per_type = np.array(["1Q", "2Q", "3Q", "FY"], dtype=object)[qi]
    kind = np.where(u.consolidated[ci], "Consolidated", "NonConsolidated")
    doc = np.array([f"{p}FinancialStatements_{k}_JP" for p, k in zip(per_type, kind, strict=True)], dtype=object)
    err = rng.normal(0, 1, m) * np.array([0.05, 0.03, 0.015, 0.0])[qi]
    f_annual = {k: v[:, :, 3][ci, yi] * (1 + err) for k, v in ytd.items()}
    nx_err = 1 + rng.normal(0, 0.06, m)
    nx_annual = {k: v[:, :, 3][ci, yi + 1] * nx_err for k, v in ytd.items()}
    cur_eps = pick(ytd["NP"]) / shares
    dps = np.round(np.maximum(ytd["NP"][:, :, 3][ci, yi] / shares, 0) * 0.3 / 2, 0) * 2  # annual, two halves

    def fy_only(a: np.ndarray) -> np.ndarray:
        return np.where(is_fy, a, np.nan)

    def not_fy(a: np.ndarray) -> np.ndarray:
        return np.where(is_fy, np.nan, a)

    eq_v, ta_v = money(pick(eq)), money(pick(eq) / eq_ratio[ci])
    cols: dict[str, object] = {
        "DiscDate": disc[ci, yi, qi],
        "DiscTime": np.array(DISC_TIMES, dtype=object)[rng.choice(len(DISC_TIMES), m, p=DISC_TIME_P)],
        "Code": u.code[ci],
        "DocType": doc,
        "CurPerType": per_type,
        "CurPerSt": fy_st[yi],
        "CurPerEn": per_end[yi, qi],
        "CurFYSt": fy_st[yi],
        "CurFYEn": fy_en[yi],
        "NxtFYSt": np.where(is_fy, nxt_st[yi], np.datetime64("NaT")),
        "NxtFYEn": np.where(is_fy, nxt_en[yi], np.datetime64("NaT")),
        "Sales": money(pick(ytd["Sales"])),
        "OP": money(pick(ytd["OP"])),
        "OdP": money(pick(ytd["OdP"])),
        "NP": money(pick(ytd["NP"])),
        "EPS": np.round(cur_eps, 2),
        "TA": ta_v,
        "Eq": eq_v,
        "EqAR": np.round(eq_v / ta_v, 3),
        "BPS": np.round(eq_v / shares, 2),
        "Div2Q": np.where(qi >= 1, dps / 2, np.nan),
        "DivFY": fy_only(dps / 2),
        "DivAnn": fy_only(dps),
        "FDivAnn": not_fy(dps),
        "NxFDivAnn": fy_only(np.round(dps * nx_err)),
        "FSales": not_fy(money(f_annual["Sales"])),
        "FOP": not_fy(money(f_annual["OP"])),
        "FOdP": not_fy(money(f_annual["OdP"])),
        "FNP": not_fy(money(f_annual["NP"])),
        "FEPS": not_fy(np.round(f_annual["NP"] / shares, 2)),
        "NxFSales": fy_only(money(nx_annual["Sales"])),
        "NxFOP": fy_only(money(nx_annual["OP"])),
        "NxFOdP": fy_only(money(nx_annual["OdP"])),
        "NxFNp": fy_only(money(nx_annual["NP"])),
        "NxFEPS": fy_only(np.round(nx_annual["NP"] / shares, 2)),
        **{f: np.zeros(m, dtype=np.int8) for f in ("MatChgSub", "ChgByASRev", "ChgNoASRev", "ChgAcEst", "RetroRst")},
        "ShOutFY": np.round(shares),
        "AvgSh": np.round(shares * (1 - 0.002 * qi)),
        "ROE": fy_only(np.round(pick(ytd["NP"]) / eq_v * 100, 2)),
    }
    frame = pl.DataFrame(cols).with_columns(
        pl.col(c).fill_nan(None) for c, v in cols.items() if isinstance(v, np.ndarray) and v.dtype == np.float64
    )
    frame = frame.sort("DiscDate", "DiscTime", "Code", "CurPerEn")
    seq = pl.int_range(pl.len(), dtype=pl.Int64) + 100_001  # unique over the whole file set
    return frame.with_columns(DiscNo=pl.col("DiscDate").dt.strftime("%Y%m%d") + seq.cast(pl.String))


# --- writing ------------------------------------------------------------------------------------------------------


def _write_dataset(out_dir: Path, name: str, frame: pl.DataFrame, default_year: int) -> tuple[int, set[str]]:
    """Write `frame` as `<name>_<YYYY>.csv.gz` files (year of the day field); return (rows, file names)."""
    ds = DATASETS[name]
    frame = frame.select(
        [pl.col(f) if f in frame.columns else pl.lit(None, pl.String).alias(f) for f in ds.fields]
    ).with_columns(pl.col(ds.day_field).cast(pl.Date))
    years = frame.get_column(ds.day_field).dt.year()
    written = set()
    for year in sorted(years.unique().to_list()) or [default_year]:
        part = frame.filter(years == year)
        fname = f"{name}_{year:04d}.csv.gz"
        data = gzip.compress(part.write_csv(null_value="").encode("utf-8"), compresslevel=6, mtime=0)
        tmp = out_dir / f".{fname}.{os.getpid()}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, out_dir / fname)
        written.add(fname)
    return frame.height, written


def write_sample_market(
    out_dir: Path,
    codes: int = 300,
    start: date = date(2021, 1, 4),
    end: date = date(2024, 12, 30),
    seed: int = 7,
) -> dict[str, int]:
    """Write the sample market as bulk files into out_dir; return {dataset_name: rows written}.

    Files are `<dataset>_<YYYY>.csv.gz`; sample files of other years left in out_dir by an earlier run are
    removed so that the directory holds exactly one market.
    """
    if not 1 <= codes <= 8000:
        raise ValueError(f"codes must be in [1, 8000] (4-digit codes), got {codes}")
    days = trading_days(start, end)
    if not days:
        raise ValueError(f"no TSE trading day in [{start}, {end}]")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ext_days = _d64(trading_days(start - timedelta(days=14), date(end.year + 2, 1, 31)))

    sim = _simulate(codes, days, seed)
    frames = {
        "equities_master": _master(sim.universe, days),
        "equities_bars_daily": sim.bars,
        "indices_topix": sim.topix,
        "markets_calendar": _calendar(start, end),
        "equities_investor_types": _investor_types(sim, days, start, end, ext_days, seed),
        "fins_summary": _fins_summary(sim, days, start, end, ext_days, seed),
    }
    sort_keys = {
        "equities_master": ["Date", "Code"],
        "equities_bars_daily": ["Date", "Code"],
        "indices_topix": ["Date"],
        "markets_calendar": ["Date"],
    }
    rows, written = {}, set()
    for name in DATASETS:
        frame = frames[name]
        if name in sort_keys:
            frame = frame.sort(sort_keys[name])
        rows[name], files = _write_dataset(out_dir, name, frame, start.year)
        written |= files
    for path in out_dir.iterdir():
        match = _FILE_RE.match(path.name)
        if match and match["ds"] in DATASETS and path.name not in written:
            path.unlink()
    return rows
