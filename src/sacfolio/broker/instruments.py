"""Instruments as data: OANDA v20 instrument fields read from a JSON or YAML file.

A file holds ``{"instruments": [...]}`` (or the bare list), one object per instrument
with the fields ``GET /v3/accounts/{id}/instruments`` returns that matter to a broker
simulation, plus a typical spread and an optional commission:

``name``, ``type`` (``CURRENCY``, ``CFD``, ``METAL``), ``pipLocation`` (a pip is
``10 ** pipLocation`` of the price), ``displayPrecision`` (decimals of a price),
``tradeUnitsPrecision`` (decimals of a number of units), ``minimumTradeSize``,
``marginRate`` in (0, 1], ``financing`` = ``{"longRate", "shortRate",
"financingDaysOfWeek": [{"dayOfWeek": "WEDNESDAY", "daysCharged": 3}, ...]}`` (annual
rates, negative = the holder pays; days absent from the list charge 0),
``quoteCurrency``, ``baseCurrency`` (currency pairs only; defaults to the part of the
name before ``_``), ``typicalSpreadPips`` (a number, or 24 numbers by UTC hour), optionally
``typicalSpreadBps`` (a spread proportional to the price, in basis points of mid, added to the
pips: the natural unit for split-adjusted share prices that span 0.10 to 500 over decades) and
``commission`` = ``{"perUnit": quote currency per unit, "bps": of traded value}``.

The package ships :data:`EXAMPLE_FILE` (a few FX pairs, an index CFD, US equities) and
:data:`SAMPLE_CFD_FILE` (the 20 stocks of the embedded S&P 500 sample as share CFDs).
Every problem raises a :class:`~sacfolio.exceptions.DataError` naming the file, the
instrument (row = its 1-based position and name) and the field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from sacfolio.exceptions import ConfigError, DataError

__all__ = ["DAYS", "EXAMPLE_FILE", "SAMPLE_CFD_FILE", "Instrument", "InstrumentSet", "equity_instruments", "load_instruments"]

DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
TYPES = ("CURRENCY", "CFD", "METAL")
EXAMPLE_FILE = "oanda_example.json"
SAMPLE_CFD_FILE = "sp500_cfd_example.json"
SHIPPED_FILES = (EXAMPLE_FILE, SAMPLE_CFD_FILE)
_REQUIRED = ("name", "type", "pipLocation", "displayPrecision", "tradeUnitsPrecision", "minimumTradeSize",
             "marginRate", "financing", "quoteCurrency", "typicalSpreadPips")
_OPTIONAL = ("baseCurrency", "commission", "typicalSpreadBps")
_V20_IGNORED = frozenset({"displayName", "maximumTrailingStopDistance", "minimumTrailingStopDistance",
                          "maximumPositionSize", "maximumOrderUnits", "guaranteedStopLossOrderMode",
                          "tags", "minimumGuaranteedStopLossDistance", "guaranteedStopLossOrderExecutionPremium",
                          "guaranteedStopLossOrderLevelRestriction"})
"""v20 fields a simulation does not need: accepted in a user's dump and not used."""


@dataclass(frozen=True, kw_only=True)
class Instrument:
    """One tradable instrument (v20 field names in snake case; see the module docstring)."""

    name: str
    type: str
    pip_location: int
    display_precision: int
    trade_units_precision: int
    minimum_trade_size: float
    margin_rate: float
    long_rate: float
    short_rate: float
    days_charged: tuple[int, ...]
    """Days of financing charged at the rollover of each weekday, Monday first (7 values)."""
    quote_currency: str
    base_currency: str | None = None
    spread_pips: tuple[float, ...] = (0.0,) * 24
    """Typical spread in pips for each UTC hour 0..23."""
    spread_bps: float = 0.0
    """Spread proportional to the price, basis points of mid (added to the pips)."""
    commission_per_unit: float = 0.0
    commission_bps: float = 0.0

    @property
    def pip(self) -> float:
        """Size of one pip in price units, ``10 ** pipLocation``."""
        return 10.0 ** self.pip_location


@dataclass(frozen=True)
class InstrumentSet:
    """Instruments in a fixed order with their fields as arrays for the batched broker core.

    Array attributes have shape (N,) unless stated: ``pip``, ``display_precision``,
    ``units_precision``, ``min_size``, ``margin_rate``, ``long_rate``, ``short_rate``,
    ``commission_per_unit``, ``commission_bps``, ``spread_bps``, ``commission_rate`` (bps / 1e4), ``units_scale``
    (``10 ** units_precision``), ``days_charged`` (N, 7) Monday first,
    ``spread_pips`` (N, 24) by UTC hour.
    """

    instruments: tuple[Instrument, ...]
    source: str = "memory"
    arrays: dict[str, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rows = self.instruments
        names = [i.name for i in rows]
        if not rows or len(set(names)) != len(names):
            raise ConfigError(f"an instrument set needs at least one instrument and unique names, got {names}")
        get = lambda attr, dtype=np.float64: np.array([getattr(i, attr) for i in rows], dtype=dtype)  # noqa: E731
        arrays = {
            "pip": np.array([i.pip for i in rows]), "display_precision": get("display_precision", np.int64),
            "units_precision": get("trade_units_precision", np.int64), "min_size": get("minimum_trade_size"),
            "margin_rate": get("margin_rate"), "long_rate": get("long_rate"), "short_rate": get("short_rate"),
            "commission_per_unit": get("commission_per_unit"), "commission_bps": get("commission_bps"),
            "spread_bps": get("spread_bps"),
            "days_charged": np.array([i.days_charged for i in rows], dtype=np.float64),
            "spread_pips": np.array([i.spread_pips for i in rows], dtype=np.float64),
        }
        arrays["units_scale"] = 10.0 ** arrays["units_precision"]
        arrays["commission_rate"] = arrays["commission_bps"] * 1e-4
        for a in arrays.values():
            a.setflags(write=False)
        object.__setattr__(self, "arrays", arrays)

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(name)

    def __len__(self) -> int:
        return len(self.instruments)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.instruments)

    def index(self, name: str) -> int:
        """Position of instrument ``name``; an unknown name is a :class:`ConfigError`."""
        for k, inst in enumerate(self.instruments):
            if inst.name == name:
                return k
        raise ConfigError(f"unknown instrument {name!r} in an order; the instruments of {self.source} are "
                          f"{', '.join(self.names)}")

    def units_vector(self, orders: Mapping[str, float]) -> np.ndarray:
        """Orders ``{name: signed units}`` as a vector in instrument order (others 0)."""
        out = np.zeros(len(self))
        for name, units in orders.items():
            out[self.index(name)] = float(units)
        return out

    def select(self, names: Sequence[str]) -> "InstrumentSet":
        """The instruments ``names`` in that order (a panel's symbols, say)."""
        return InstrumentSet(tuple(self.instruments[self.index(n)] for n in names), source=self.source)


def equity_instruments(symbols: Sequence[str], *, cost_bps: float = 10.0, currency: str = "USD") -> InstrumentSet:
    """The equity configuration: cash stocks with no spread, no leverage (margin 100%), no
    financing and ``cost_bps`` commission on traded value, in fractional shares.

    Trading a portfolio of these pays ``cost_bps`` on the traded value, the cost rule of
    :func:`sacfolio.broker.costs.rebalance` on drifted weights.
    """
    return InstrumentSet(tuple(
        Instrument(name=str(s), type="CFD", pip_location=-2, display_precision=10, trade_units_precision=8,
                   minimum_trade_size=0.0, margin_rate=1.0, long_rate=0.0, short_rate=0.0, days_charged=(0,) * 7,
                   quote_currency=currency, commission_bps=float(cost_bps))
        for s in symbols), source="equity configuration")


def load_instruments(path: str | Path | None = None) -> InstrumentSet:
    """Read an instrument file (``.json``, ``.yaml`` or ``.yml``); default: the shipped example.

    ``path`` is a file, or the name of a file the package ships (:data:`EXAMPLE_FILE`,
    :data:`SAMPLE_CFD_FILE`) when no file of that name exists.

    Raises
    ------
    DataError
        The file is missing or unreadable, or an instrument lacks a field or has a bad
        value (``marginRate`` outside (0, 1], a negative spread, ...): the message names the
        file, the instrument and the field.
    """
    name = EXAMPLE_FILE if path is None else str(path)
    if name in SHIPPED_FILES and not Path(name).exists():
        ref = resources.files("sacfolio.broker") / "instruments" / name
        where, text = f"package:sacfolio.broker/instruments/{name}", ref.read_text(encoding="utf-8")
    else:
        where = name
        try:
            text = Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the instrument file ({exc.__class__.__name__}: {exc})", path=where,
                            fix=f"Give an existing UTF-8 .json or .yaml file, or a shipped one: "
                                f"{', '.join(SHIPPED_FILES)}.") from exc
    rows = _parse_document(text, where)
    return InstrumentSet(tuple(_instrument(row, where, k + 1) for k, row in enumerate(rows)), source=where)


def _parse_document(text: str, where: str) -> list[Any]:
    if where.lower().endswith((".yaml", ".yml")):
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise _unparsable(exc, where) from exc
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _unparsable(exc, where) from exc
    rows = doc.get("instruments") if isinstance(doc, dict) else doc
    if not isinstance(rows, list) or not rows:
        raise DataError("the file holds no list of instruments", path=where, column="instruments",
                        fix="Write {\"instruments\": [{\"name\": \"EUR_USD\", ...}, ...]}.")
    names = [r.get("name") if isinstance(r, dict) else None for r in rows]
    for k, name in enumerate(names):
        if name is not None and names.index(name) != k:
            raise DataError(f"instrument {name!r} appears twice (rows {names.index(name) + 1} and {k + 1})",
                            path=where, column="name", row=f"{k + 1} ({name})", fix="Keep one entry per instrument.")
    return rows


def _unparsable(exc: Exception, where: str) -> DataError:
    return DataError(f"the instrument file cannot be parsed: {' '.join(str(exc).split())}", path=where,
                     fix="Write a JSON/YAML document {\"instruments\": [{...}, ...]}.")


class _Row:
    """Field access on one instrument object that fails with file, row and field."""

    def __init__(self, data: Any, where: str, number: int) -> None:
        if not isinstance(data, dict):
            raise DataError(f"instrument entry is a {type(data).__name__}, not an object", path=where, row=number)
        self.data, self.where = data, where
        self.label = f"{number} ({data['name']})" if isinstance(data.get("name"), str) else str(number)

    def fail(self, column: str, problem: str, fix: str) -> DataError:
        return DataError(problem, path=self.where, column=column, row=self.label, fix=fix)

    def get(self, key: str, data: Mapping[str, Any] | None = None, prefix: str = "") -> Any:
        data = self.data if data is None else data
        if key not in data:
            raise self.fail(prefix + key, f"the field {prefix + key!r} is missing",
                            f"Add {prefix + key!r} to the instrument (see the shipped {EXAMPLE_FILE}).")
        return data[key]

    def number(self, key: str, value: Any, *, lo: float | None = None, hi: float | None = None,
               lo_open: bool = False, integer: bool = False) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if ok and integer:
            ok = float(value).is_integer()
        if not ok:
            raise self.fail(key, f"{key} = {value!r} is not a finite {'integer' if integer else 'number'}",
                            "Write a plain number.")
        bad_lo = lo is not None and (value <= lo if lo_open else value < lo)
        if bad_lo or (hi is not None and value > hi):
            left = "(" if lo_open else "["
            raise self.fail(key, f"{key} = {value!r} is outside {left}{lo}, {hi if hi is not None else 'inf'}]",
                            _RANGE_FIX.get(key, "Correct the value."))
        return float(value)


_RANGE_FIX = {"marginRate": "Write the margin as a fraction: 0.02 for 50:1 leverage, 1 for none.",
              "typicalSpreadPips": "Spreads are zero or positive numbers of pips.",
              "minimumTradeSize": "The minimum trade size is zero or a positive number of units."}


def _instrument(data: Any, where: str, number: int) -> Instrument:
    row = _Row(data, where, number)
    unknown = sorted(set(row.data) - set(_REQUIRED) - set(_OPTIONAL) - _V20_IGNORED)
    if unknown:
        raise row.fail(unknown[0], f"unknown field(s) {unknown}",
                       f"The fields are {', '.join(_REQUIRED + _OPTIONAL)}; remove or rename the others.")
    name, kind, quote = (row.get(k) for k in ("name", "type", "quoteCurrency"))
    if not isinstance(name, str) or not name.strip():
        raise row.fail("name", f"name = {name!r} is not a non-empty string", "Write the v20 name, e.g. EUR_USD.")
    if kind not in TYPES:
        raise row.fail("type", f"type = {kind!r} is not one of {', '.join(TYPES)}", "Use a v20 instrument type.")
    base = row.data.get("baseCurrency", name.split("_")[0] if kind == "CURRENCY" else None)
    for key, code in (("quoteCurrency", quote), ("baseCurrency", base)):
        if code is not None and (not isinstance(code, str) or len(code) != 3 or not code.isalpha()):
            raise row.fail(key, f"{key} = {code!r} is not a 3-letter currency code", "Write e.g. USD.")
    financing = row.get("financing")
    if not isinstance(financing, dict):
        raise row.fail("financing", "financing is not an object", "Write {\"longRate\", \"shortRate\", "
                       "\"financingDaysOfWeek\"}.")
    long_rate, short_rate = (row.number(f"financing.{k}", row.get(k, financing, "financing."), lo=-1.0, hi=1.0)
                             for k in ("longRate", "shortRate"))
    commission = row.data.get("commission", {})
    if not isinstance(commission, dict) or set(commission) - {"perUnit", "bps"}:
        raise row.fail("commission", f"commission = {commission!r} is not {{\"perUnit\", \"bps\"}}",
                       "Write e.g. {\"bps\": 1.0} or {\"perUnit\": 0.005}.")
    return Instrument(
        name=name, type=kind, quote_currency=quote.upper(), base_currency=base.upper() if base else None,
        pip_location=int(row.number("pipLocation", row.get("pipLocation"), lo=-10, hi=10, integer=True)),
        display_precision=int(row.number("displayPrecision", row.get("displayPrecision"), lo=0, hi=10, integer=True)),
        trade_units_precision=int(row.number("tradeUnitsPrecision", row.get("tradeUnitsPrecision"), lo=0, hi=10,
                                             integer=True)),
        minimum_trade_size=row.number("minimumTradeSize", row.get("minimumTradeSize"), lo=0.0),
        margin_rate=row.number("marginRate", row.get("marginRate"), lo=0.0, hi=1.0, lo_open=True),
        long_rate=long_rate, short_rate=short_rate, days_charged=_days(row, financing),
        spread_pips=_spread(row),
        spread_bps=row.number("typicalSpreadBps", row.data.get("typicalSpreadBps", 0.0), lo=0.0, hi=1000.0),
        commission_per_unit=row.number("commission.perUnit", commission.get("perUnit", 0.0), lo=0.0),
        commission_bps=row.number("commission.bps", commission.get("bps", 0.0), lo=0.0, hi=1000.0),
    )


def _days(row: _Row, financing: Mapping[str, Any]) -> tuple[int, ...]:
    key = "financing.financingDaysOfWeek"
    entries = row.get("financingDaysOfWeek", financing, "financing.")
    if not isinstance(entries, list):
        raise row.fail(key, "financingDaysOfWeek is not a list", "Write [{\"dayOfWeek\": \"MONDAY\", "
                       "\"daysCharged\": 1}, ...].")
    days = [0] * 7
    for entry in entries:
        day = entry.get("dayOfWeek") if isinstance(entry, dict) else None
        if day not in DAYS:
            raise row.fail(key, f"dayOfWeek {day!r} is not one of {', '.join(DAYS)}", "Use upper-case day names.")
        days[DAYS.index(day)] = int(row.number(f"{key}.daysCharged", entry.get("daysCharged"), lo=0, hi=7,
                                               integer=True))
    return tuple(days)


def _spread(row: _Row) -> tuple[float, ...]:
    value = row.get("typicalSpreadPips")
    values = value if isinstance(value, list) else [value] * 24
    if len(values) != 24:
        raise row.fail("typicalSpreadPips", f"typicalSpreadPips has {len(values)} values",
                       "Give one number, or 24 numbers (one per UTC hour, 0 first).")
    return tuple(row.number("typicalSpreadPips", v, lo=0.0) for v in values)
