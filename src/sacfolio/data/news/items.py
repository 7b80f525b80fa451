"""News items read from JSONL, JSON or Parquet into a :class:`NewsBatch`, one row per (item, symbol).

Input formats
-------------
* **JSONL** (``.jsonl``): one JSON object per line.
* **JSON** (``.json``): a list of objects, an Alpaca News response ``{"news": [...]}`` or an
  Alpha Vantage ``NEWS_SENTIMENT`` response ``{"feed": [...]}``.
* **Parquet** (``.parquet``, ``.pq``): one row per item.

Each item needs a timestamp (``timestamp``, ``created_at``, ``time_published`` or
``datetime``; ISO 8601 or Alpha Vantage's ``20220410T013000``), one or more symbols
(``symbol``, ``symbols``, ``ticker`` or ``tickers`` as a string or list, or Alpha
Vantage's ``ticker_sentiment``) and a headline (``headline`` or ``title``); ``summary``
is optional. Stamps without a time zone are read in ``naive_tz`` (default UTC).

Malformed JSON is an error naming the file and line. Items without a timestamp, a
symbol or a headline, and symbols outside the requested universe, are skipped,
counted per reason in :attr:`NewsBatch.skipped`, and reported with a
:class:`~sacfolio.exceptions.DataWarning` (never dropped silently).
"""

from __future__ import annotations

import json
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sacfolio.exceptions import DataError, DataWarning

__all__ = ["NewsBatch", "load_news"]

_TS_KEYS = ("timestamp", "created_at", "time_published", "datetime")
_SYM_KEYS = ("symbol", "symbols", "ticker", "tickers")
_HEAD_KEYS = ("headline", "title")
_AV_STAMP = re.compile(r"^\d{8}T\d{4}(\d{2})?$")


@dataclass(frozen=True, eq=False)
class NewsBatch:
    """News items, one row per (item, symbol).

    Attributes
    ----------
    frame : DataFrame
        Columns ``timestamp`` (tz-aware UTC), ``symbol``, ``headline``, ``summary``,
        sorted by timestamp then symbol.
    skipped : dict of str to int
        Items (or item symbols) left out, per reason.
    source : str
    """

    frame: pd.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)
    source: str = "memory"




def _read_items(path: Path) -> list[tuple[int, object]]:
    """(line or position, raw item) pairs of a JSONL/JSON/Parquet news file."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise DataError(f"cannot read news Parquet ({exc})", path=str(path)) from exc
        records = frame.to_dict(orient="records")
        return [(i + 1, r) for i, r in enumerate(records)]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read news file ({exc.strerror})", path=str(path)) from exc
    if suffix == ".jsonl":
        items = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append((lineno, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise DataError(f"malformed JSON ({exc.msg} at column {exc.colno})", path=str(path),
                                row=lineno, fix="Write one JSON object per line.") from exc
        return items
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"malformed JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                            path=str(path)) from exc
        if isinstance(data, dict):
            for key in ("news", "feed"):
                if isinstance(data.get(key), list):
                    data = data[key]
                    break
            else:
                raise DataError(f"JSON object has keys {sorted(data)[:6]}, expected a 'news' or "
                                "'feed' list", path=str(path),
                                fix="Pass a list of news items or an Alpaca/Alpha Vantage response.")
        if not isinstance(data, list):
            raise DataError("news JSON must hold a list of items", path=str(path))
        return list(enumerate(data, start=1))
    raise DataError(f"news file type {suffix!r} is not supported", path=str(path),
                    fix="Use .jsonl, .json or .parquet.")


def _first(item: dict, keys: Sequence[str]) -> object:
    for k in keys:
        v = item.get(k)
        if v is not None and not (isinstance(v, float) and np.isnan(v)) and not (isinstance(v, str) and not v.strip()):
            return v
    return None


def _symbols_of(item: dict) -> list[str]:
    raw = _first(item, _SYM_KEYS)
    if raw is None and isinstance(item.get("ticker_sentiment"), list):
        raw = [t.get("ticker") for t in item["ticker_sentiment"] if isinstance(t, dict)]
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [s for s in re.split(r"[,\s]+", raw) if s]
    return [str(s).strip().upper() for s in np.atleast_1d(np.asarray(raw, dtype=object)).tolist()
            if s is not None and str(s).strip()]


def _parse_stamp(value: object, naive_tz: str) -> pd.Timestamp | None:
    text = str(value).strip()
    try:
        stamp = (pd.Timestamp(pd.to_datetime(text, format="%Y%m%dT%H%M%S" if len(text) == 15 else "%Y%m%dT%H%M"))
                 if _AV_STAMP.match(text) else pd.Timestamp(value))
    except (ValueError, TypeError):
        return None
    if stamp is pd.NaT or pd.isna(stamp):
        return None
    return stamp.tz_localize(naive_tz) if stamp.tzinfo is None else stamp


def load_news(path: str | Path, *, symbols: Iterable[str] | None = None,
              naive_tz: str = "UTC") -> NewsBatch:
    """Read news items from a JSONL, JSON or Parquet file.

    Parameters
    ----------
    path : path
        The news file (formats in the module docstring).
    symbols : iterable of str, optional
        The universe; item symbols outside it are skipped and counted.
    naive_tz : str
        Time zone of stamps written without one.

    Returns
    -------
    NewsBatch
        One row per (item, known symbol).

    Raises
    ------
    DataError
        If the file cannot be read, holds malformed JSON, an item is not an object or
        a stamp cannot be parsed.
    """
    path = Path(path)
    universe = None if symbols is None else {str(s).upper() for s in symbols}
    rows, skipped = [], Counter()
    for where, item in _read_items(path):
        if not isinstance(item, dict):
            raise DataError(f"news item is {type(item).__name__}, expected an object", path=str(path),
                            row=where)
        raw_ts = _first(item, _TS_KEYS)
        syms = _symbols_of(item)
        headline = _first(item, _HEAD_KEYS)
        if raw_ts is None:
            skipped["no timestamp"] += 1
            continue
        if not syms:
            skipped["no symbol"] += 1
            continue
        if headline is None:
            skipped["no headline"] += 1
            continue
        stamp = _parse_stamp(raw_ts, naive_tz)
        if stamp is None:
            raise DataError(f"timestamp {raw_ts!r} is not a date-time", path=str(path), row=where,
                            fix="Write ISO 8601 stamps such as 2021-01-04T14:30:00Z.")
        summary = _first(item, ("summary",))
        for sym in dict.fromkeys(syms):
            if universe is not None and sym not in universe:
                skipped["unknown symbol"] += 1
                continue
            rows.append((stamp.tz_convert("UTC"), sym, str(headline), "" if summary is None else str(summary)))
    frame = pd.DataFrame(rows, columns=["timestamp", "symbol", "headline", "summary"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame = frame.sort_values(["timestamp", "symbol"], kind="stable").reset_index(drop=True)
    if skipped:
        detail = ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items()))
        warnings.warn(f"news file {path}: skipped {detail}; kept {len(frame)} item-symbol rows",
                      DataWarning, stacklevel=2)
    return NewsBatch(frame=frame, skipped=dict(skipped), source=str(path))
