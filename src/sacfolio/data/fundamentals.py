"""Point-in-time quarterly fundamentals from cached Alpha Vantage JSON responses.

A directory holds the responses as saved from the API (any file names, ``*.json``,
searched recursively). Each file is recognised by its content:

* ``INCOME_STATEMENT`` (``symbol``, ``quarterlyReports`` with ``totalRevenue``),
* ``BALANCE_SHEET`` (``symbol``, ``quarterlyReports`` with ``totalShareholderEquity``),
* ``EARNINGS`` (``symbol``, ``quarterlyEarnings`` with ``reportedDate``),
* ``OVERVIEW`` (``Symbol``, ``AssetType``): kept as descriptive info only, because its
  ratios are today's values and would leak the future into history.

From each quarter four ratios are derived: gross margin (grossProfit / totalRevenue),
operating margin (operatingIncome / totalRevenue), net margin (netIncome /
totalRevenue) and debt to equity (shortLongTermDebtTotal, else longTermDebt +
shortTermDebt, over totalShareholderEquity). A quarter becomes available
``lag_days`` after its reported date (the report's own ``reportedDate``, else the
EARNINGS response's, else ``fiscalDateEnding + 45`` days, the 10-Q deadline).

Alpha Vantage writes ``"None"`` and empty strings for missing values: they are NaN,
and a ratio with a missing or non-positive denominator is NaN. API notes
(``Information``, ``Note``, ``Error Message``), empty responses, unknown symbols and
exact duplicate quarters are skipped, counted and reported with a
:class:`~sacfolio.exceptions.DataWarning`; malformed JSON, unrecognised responses,
non-numeric values and conflicting duplicates are errors naming the file.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sacfolio.exceptions import ConfigError, DataError, DataWarning

__all__ = ["RATIOS", "REPORT_LAG_DAYS", "FundamentalsTable", "load_fundamentals"]

RATIOS: tuple[str, ...] = ("gross_margin", "operating_margin", "net_margin", "debt_to_equity")
REPORT_LAG_DAYS: int = 45
"""Days after ``fiscalDateEnding`` a quarter is assumed reported when no date is known."""

_INCOME_FIELDS = ("totalRevenue", "grossProfit", "operatingIncome", "netIncome")
_BALANCE_FIELDS = ("totalShareholderEquity", "shortLongTermDebtTotal", "longTermDebt", "shortTermDebt")
_API_NOTES = ("Information", "Note", "Error Message")


@dataclass(frozen=True, eq=False)
class FundamentalsTable:
    """Quarterly fundamental ratios with the date each became public.

    Attributes
    ----------
    frame : DataFrame
        One row per (symbol, fiscal quarter): ``symbol``, ``fiscal_date``,
        ``reported_date``, ``available_date`` (datetime64 days), then the four
        :data:`RATIOS` (float, NaN when missing). Sorted by symbol and fiscal date.
    skipped : dict of str to int
        Files or quarters left out, per reason.
    overview : dict of str to dict
        OVERVIEW fields (Name, Sector, ...) per symbol, descriptive only.
    """

    frame: pd.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)
    overview: dict[str, dict] = field(default_factory=dict)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(sorted(self.frame["symbol"].unique()))


def _number(value: object, *, path: Path, name: str, fiscal: str) -> float:
    """A numeric AV field: 'None', '', None and missing are NaN; other text is an error."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "None", "-")):
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}={value!r} for fiscal quarter {fiscal} is not a number", path=str(path),
                        column=name, fix='Alpha Vantage writes missing values as "None".') from exc
    if not math.isfinite(out):
        raise DataError(f"{name}={value!r} for fiscal quarter {fiscal} is not finite", path=str(path),
                        column=name)
    return out


def _date(value: object, *, path: Path, name: str) -> pd.Timestamp | None:
    if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
        return None
    try:
        return pd.Timestamp(str(value)).normalize()
    except ValueError as exc:
        raise DataError(f"{name}={value!r} is not a date", path=str(path), column=name,
                        fix="Write dates as YYYY-MM-DD.") from exc


def _kind(data: object, path: Path) -> str:
    if not isinstance(data, dict):
        raise DataError(f"response is a {type(data).__name__}, expected a JSON object", path=str(path))
    if not data:
        return "empty"
    if any(k in data for k in _API_NOTES):
        return "api note"
    if isinstance(data.get("quarterlyEarnings"), list):
        return "earnings"
    reports = data.get("quarterlyReports")
    if isinstance(reports, list):
        keys = set().union(*(r.keys() for r in reports if isinstance(r, dict))) if reports else set()
        if "totalRevenue" in keys:
            return "income"
        if "totalShareholderEquity" in keys:
            return "balance"
        if not reports:
            return "empty"
    if "Symbol" in data and "AssetType" in data:
        return "overview"
    raise DataError(f"unrecognised Alpha Vantage response with keys {sorted(data)[:6]}", path=str(path),
                    fix="Expected OVERVIEW, INCOME_STATEMENT, BALANCE_SHEET or EARNINGS JSON.")


def _collect(store: dict, key: tuple, record: dict, path: Path, skipped: Counter) -> None:
    """Add one quarter; an identical repeat is counted, a different one is an error."""
    old = store.get(key)
    if old is None:
        store[key] = (record, path)
        return
    prev, prev_path = old
    same = all((a == b) or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
               for a, b in ((prev.get(k), record.get(k)) for k in set(prev) | set(record)))
    if not same:
        diff = sorted(k for k in set(prev) | set(record) if str(prev.get(k)) != str(record.get(k)))
        raise DataError(f"conflicting {key[1]} reports for {key[0]} fiscal quarter {key[2]}: fields {diff} "
                        f"differ from {prev_path}", path=str(path),
                        fix="Delete the stale cached response.")
    skipped["duplicate quarter"] += 1


def load_fundamentals(directory: str | Path, *, symbols: Iterable[str] | None = None,
                      lag_days: int = 1) -> FundamentalsTable:
    """Read cached Alpha Vantage responses into a point-in-time ratio table.

    Parameters
    ----------
    directory : path
        Folder of ``*.json`` responses (searched recursively).
    symbols : iterable of str, optional
        The universe; responses for other symbols are skipped and counted.
    lag_days : int
        Days after the reported date a quarter becomes usable (>= 0). The default 1
        keeps a report released after the close out of that day's decision.

    Returns
    -------
    FundamentalsTable

    Raises
    ------
    DataError
        If the directory is missing, a file is malformed JSON, unrecognised, holds a
        non-numeric value, or two responses disagree about a quarter.
    ConfigError
        If ``lag_days`` is negative.
    """
    if isinstance(lag_days, bool) or not isinstance(lag_days, int) or lag_days < 0:
        raise ConfigError(f"lag_days={lag_days!r} must be an integer >= 0.")
    root = Path(directory)
    if not root.is_dir():
        raise DataError("fundamentals directory does not exist", path=str(root),
                        fix="Pass the folder of cached Alpha Vantage JSON responses.")
    universe = None if symbols is None else {str(s).upper() for s in symbols}
    skipped: Counter = Counter()
    quarters: dict[tuple, tuple[dict, Path]] = {}
    reported: dict[tuple, tuple[dict, Path]] = {}
    overview: dict[str, dict] = {}
    for path in sorted(root.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"malformed JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                            path=str(path), fix="Delete the file and fetch it again.") from exc
        kind = _kind(data, path)
        if kind in ("empty", "api note"):
            skipped[f"{kind} response"] += 1
            warnings.warn(f"skipping {path}: {kind} response "
                          f"{str(next((data[k] for k in _API_NOTES if k in data), ''))[:80]!r}",
                          DataWarning, stacklevel=2)
            continue
        sym = str(data.get("Symbol" if kind == "overview" else "symbol", "")).strip().upper()
        if not sym:
            raise DataError(f"{kind} response has no symbol", path=str(path))
        if universe is not None and sym not in universe:
            skipped["unknown symbol"] += 1
            continue
        if kind == "overview":
            overview[sym] = {k: v for k, v in data.items() if isinstance(v, str)}
            continue
        if kind == "earnings":
            for q in data["quarterlyEarnings"]:
                fiscal = _date(q.get("fiscalDateEnding"), path=path, name="fiscalDateEnding")
                rep = _date(q.get("reportedDate"), path=path, name="reportedDate")
                if fiscal is None or rep is None:
                    skipped["earnings quarter without dates"] += 1
                    continue
                _collect(reported, (sym, "earnings", fiscal), {"reported": rep}, path, skipped)
            continue
        fields = _INCOME_FIELDS if kind == "income" else _BALANCE_FIELDS
        for q in data["quarterlyReports"]:
            fiscal = _date(q.get("fiscalDateEnding"), path=path, name="fiscalDateEnding")
            if fiscal is None:
                skipped["quarter without fiscalDateEnding"] += 1
                continue
            rec = {f: _number(q.get(f), path=path, name=f, fiscal=str(fiscal.date())) for f in fields}
            rec["reported"] = _date(q.get("reportedDate"), path=path, name="reportedDate")
            _collect(quarters, (sym, kind, fiscal), rec, path, skipped)
    frame = _ratios(quarters, reported, lag_days)
    if skipped:
        detail = ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items()))
        warnings.warn(f"fundamentals {root}: skipped {detail}; kept {len(frame)} quarters",
                      DataWarning, stacklevel=2)
    return FundamentalsTable(frame=frame, skipped=dict(skipped), overview=overview)


def _div(num: float, den: float) -> float:
    return num / den if math.isfinite(num) and math.isfinite(den) and den > 0 else math.nan


def _ratios(quarters: dict, reported: dict, lag_days: int) -> pd.DataFrame:
    keys = sorted({(s, f) for s, _, f in quarters})
    rows = []
    for sym, fiscal in keys:
        inc = quarters.get((sym, "income", fiscal), ({}, None))[0]
        bal = quarters.get((sym, "balance", fiscal), ({}, None))[0]
        own = [d for d in (inc.get("reported"), bal.get("reported")) if d is not None]
        earn = reported.get((sym, "earnings", fiscal))
        rep = max(own) if own else (earn[0]["reported"] if earn else fiscal + pd.Timedelta(days=REPORT_LAG_DAYS))
        rev = inc.get("totalRevenue", math.nan)
        debt = bal.get("shortLongTermDebtTotal", math.nan)
        if not math.isfinite(debt):
            parts = [bal.get(k, math.nan) for k in ("longTermDebt", "shortTermDebt")]
            debt = sum(p for p in parts if math.isfinite(p)) if any(math.isfinite(p) for p in parts) else math.nan
        rows.append((sym, fiscal, rep, rep + pd.Timedelta(days=lag_days),
                     _div(inc.get("grossProfit", math.nan), rev), _div(inc.get("operatingIncome", math.nan), rev),
                     _div(inc.get("netIncome", math.nan), rev),
                     _div(debt, bal.get("totalShareholderEquity", math.nan))))
    frame = pd.DataFrame(rows, columns=["symbol", "fiscal_date", "reported_date", "available_date", *RATIOS])
    for col in ("fiscal_date", "reported_date", "available_date"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
    for col in RATIOS:
        frame[col] = frame[col].astype(np.float64)
    return frame
