"""TA-Lib's outputs for the contract's indicators, the oracle of tests/dbt (the macros alone, and the feature mart).

Each entry is (TA-Lib's array, the indicator's natural scale): the scale against which a difference counts as
relative (a price level: the median close; a 0-100 oscillator: 100; OBV: the total volume).
"""

from __future__ import annotations

import numpy as np
import pytest

talib = pytest.importorskip("talib")

Expected = dict[str, tuple[np.ndarray, float]]


def talib_indicators(h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray) -> Expected:
    """SMA, EMA, MACD, RSI, Bollinger bands, ATR/NATR, DMI/ADX, STOCH, Williams %R, CCI, MFI, ROC, MOM and OBV
    of one code's high, low, close and volume, under the contract's column names."""
    price, pct = float(np.median(c)), 100.0
    exp: Expected = {}
    for n in (5, 10, 20, 60, 120):
        exp[f"sma_{n}"] = (talib.SMA(c, n), price)
    for n in (5, 10, 20, 60, 200):
        exp[f"ema_{n}"] = (talib.EMA(c, n), price)
    macd, signal, hist = talib.MACD(c, 12, 26, 9)
    exp |= {"macd": (macd, price), "macd_signal": (signal, price), "macd_hist": (hist, price)}
    exp["rsi_2"] = (talib.RSI(c, 2), pct)
    exp["rsi_14"] = (talib.RSI(c, 14), pct)
    upper, middle, lower = talib.BBANDS(c, 20, 2, 2, 0)
    exp |= {"bb_upper_20": (upper, price), "bb_middle_20": (middle, price), "bb_lower_20": (lower, price)}
    exp["atr_14"] = (talib.ATR(h, lo, c, 14), price)
    exp["natr_14"] = (talib.NATR(h, lo, c, 14), pct)
    exp["plus_di_14"] = (talib.PLUS_DI(h, lo, c, 14), pct)
    exp["minus_di_14"] = (talib.MINUS_DI(h, lo, c, 14), pct)
    exp["adx_14"] = (talib.ADX(h, lo, c, 14), pct)
    slowk, slowd = talib.STOCH(h, lo, c, 14, 3, 0, 3, 0)
    exp |= {"stoch_k": (slowk, pct), "stoch_d": (slowd, pct)}
    exp["willr_14"] = (talib.WILLR(h, lo, c, 14), pct)
    exp["cci_20"] = (talib.CCI(h, lo, c, 20), pct)
    exp["mfi_14"] = (talib.MFI(h, lo, c, v, 14), pct)
    exp["roc_10"] = (talib.ROC(c, 10), pct)
    exp["mom_10"] = (talib.MOM(c, 10), price)
    exp["obv"] = (talib.OBV(c, v), float(np.sum(v)))
    return exp
