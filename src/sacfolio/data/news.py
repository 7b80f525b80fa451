"""News items -> per-item sentiment -> ``daily_sentiment.parquet`` (date, symbol, score, count).

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

Daily assignment is point in time: an item stamped before the market close
(16:00 America/New_York) of a day counts for that day; one stamped at or after it
counts for the next day, so a decision at a day's close never sees later news.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from sacfolio.exceptions import ConfigError, DataError, DataWarning, MissingDependencyError

__all__ = [
    "DAILY_COLUMNS",
    "FinBertScorer",
    "NewsBatch",
    "SentimentScorer",
    "VaderScorer",
    "daily_sentiment",
    "load_daily_sentiment",
    "load_news",
    "read_daily_sentiment",
    "validate_daily",
    "write_daily_sentiment",
]

DAILY_COLUMNS: tuple[str, ...] = ("date", "symbol", "score", "count")
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


# ------------------------------------------------------------------------------ reading
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


# ------------------------------------------------------------------------------ scoring
class SentimentScorer(Protocol):
    """Maps texts to sentiment scores in [-1, 1] (negative to positive)."""

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Scores of shape (len(texts),)."""
        ...


class VaderScorer:
    """VADER compound score (Hutto & Gilbert 2014), offline and rule based."""

    def __init__(self) -> None:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as exc:
            raise MissingDependencyError("VADER scoring needs the vaderSentiment package: "
                                         "pip install vaderSentiment") from exc
        self._analyzer = SentimentIntensityAnalyzer()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Compound scores in [-1, 1], shape (len(texts),)."""
        return np.array([self._analyzer.polarity_scores(t)["compound"] for t in texts], dtype=np.float64)


class FinBertScorer:
    """A local FinBERT-style sequence classifier: score = P(positive) - P(negative).

    Parameters
    ----------
    model_dir : path
        Directory saved by ``save_pretrained`` (``config.json`` with ``id2label`` naming
        positive and negative labels, plus weights). Nothing is downloaded.
    batch_size : int
        Texts per forward pass.
    """

    def __init__(self, model_dir: str | Path, *, batch_size: int = 32) -> None:
        root = Path(model_dir)
        config_path = root / "config.json"
        if not config_path.is_file():
            raise ConfigError(f"sentiment model directory {str(root)!r} is not a model: it has no "
                              "config.json. Pass a directory written by save_pretrained().")
        try:
            labels = {int(k): str(v).lower() for k, v in json.loads(config_path.read_text())["id2label"].items()}
        except (json.JSONDecodeError, KeyError, AttributeError, ValueError) as exc:
            raise ConfigError(f"{config_path} has no readable id2label mapping ({exc!r}); it is not a "
                              "sentiment classifier.") from exc
        if "positive" not in labels.values() or "negative" not in labels.values():
            raise ConfigError(f"model labels {sorted(labels.values())} in {config_path} lack "
                              "'positive' and 'negative'; it is not a sentiment classifier.")
        try:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:
            raise MissingDependencyError("FinBERT scoring needs the transformers package: "
                                         "pip install transformers (or use the default VADER scorer)") from exc
        self._tokenizer = AutoTokenizer.from_pretrained(root, local_files_only=True)
        self._model = AutoModelForSequenceClassification.from_pretrained(root, local_files_only=True).eval()
        inverse = {v: k for k, v in labels.items()}
        self._pos, self._neg, self._batch = inverse["positive"], inverse["negative"], batch_size

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) - P(negative) per text, shape (len(texts),)."""
        import torch

        out = []
        with torch.no_grad():
            for b in range(0, len(texts), self._batch):
                enc = self._tokenizer(list(texts[b:b + self._batch]), padding=True, truncation=True,
                                      return_tensors="pt")
                prob = torch.softmax(self._model(**enc).logits, dim=-1)
                out.append((prob[:, self._pos] - prob[:, self._neg]).double().numpy())
        return np.concatenate(out) if out else np.zeros(0)


# ------------------------------------------------------------------------ daily table
def daily_sentiment(news: NewsBatch, scorer: SentimentScorer | None = None, *,
                    close_time: str = "16:00", market_tz: str = "America/New_York") -> pd.DataFrame:
    """Score each item and average per (session date, symbol).

    Parameters
    ----------
    news : NewsBatch
    scorer : SentimentScorer, optional
        Default :class:`VaderScorer` on ``headline + ". " + summary``.
    close_time, market_tz : str
        Items stamped at or after ``close_time`` local time count for the next day.

    Returns
    -------
    DataFrame
        Columns ``date`` (datetime64, day), ``symbol``, ``score`` (mean in [-1, 1]),
        ``count`` (items), sorted by date and symbol.
    """
    frame = news.frame
    if frame.empty:
        return _empty_daily()
    scorer = VaderScorer() if scorer is None else scorer
    texts = (frame["headline"] + np.where(frame["summary"] != "", ". " + frame["summary"], "")).tolist()
    scores = np.asarray(scorer(texts), dtype=np.float64)
    if scores.shape != (len(texts),) or not np.isfinite(scores).all():
        raise DataError(f"sentiment scorer returned shape {scores.shape} or non-finite scores for "
                        f"{len(texts)} texts")
    try:
        hh, mm = (int(x) for x in close_time.split(":"))
    except ValueError as exc:
        raise ConfigError(f"close_time={close_time!r} must be HH:MM, e.g. '16:00'.") from exc
    local = frame["timestamp"].dt.tz_convert(market_tz)
    minutes = local.dt.hour * 60 + local.dt.minute
    day = local.dt.tz_localize(None).dt.normalize() + pd.to_timedelta((minutes >= hh * 60 + mm).astype(int), unit="D")
    out = (pd.DataFrame({"date": day, "symbol": frame["symbol"], "score": scores})
           .groupby(["date", "symbol"], sort=True)["score"].agg(["mean", "size"]).reset_index())
    out.columns = list(DAILY_COLUMNS)
    out["count"] = out["count"].astype(np.int64)
    return out


def _empty_daily() -> pd.DataFrame:
    return pd.DataFrame({"date": pd.Series([], dtype="datetime64[ns]"), "symbol": pd.Series([], dtype=object),
                         "score": pd.Series([], dtype=np.float64), "count": pd.Series([], dtype=np.int64)})


def validate_daily(frame: pd.DataFrame, *, source: str = "memory") -> pd.DataFrame:
    """Check a daily sentiment table; returns a clean copy sorted by date and symbol.

    Raises
    ------
    DataError
        On missing columns, unparseable dates, scores outside [-1, 1] or non-finite,
        negative counts, or duplicate (date, symbol) rows.
    """
    cols = {c.lower(): c for c in frame.columns}
    missing = [c for c in DAILY_COLUMNS if c not in cols]
    if missing:
        raise DataError(f"daily sentiment lacks columns {missing} (has {list(frame.columns)})", path=source,
                        fix="Write columns date, symbol, score, count.")
    out = frame[[cols[c] for c in DAILY_COLUMNS]].copy()
    out.columns = list(DAILY_COLUMNS)
    try:
        dates = pd.to_datetime(out["date"])
    except (ValueError, TypeError) as exc:
        raise DataError(f"daily sentiment dates cannot be parsed ({exc})", path=source, column="date") from exc
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)
    out["date"] = dates.dt.normalize()
    out["symbol"] = out["symbol"].astype(str).str.upper()
    score = pd.to_numeric(out["score"], errors="coerce").to_numpy(np.float64)
    count = pd.to_numeric(out["count"], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(score) | (np.abs(score) > 1)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"score {out['score'].iloc[i]} is not a number in [-1, 1]", path=source,
                        column="score", row=i + 1)
    bad = ~np.isfinite(count) | (count < 0) | (count != np.round(count))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"count {out['count'].iloc[i]} is not a whole number >= 0", path=source,
                        column="count", row=i + 1)
    out["score"], out["count"] = score, count.astype(np.int64)
    dup = out.duplicated(["date", "symbol"], keep=False)
    if dup.any():
        i = int(np.argmax(dup.to_numpy()))
        raise DataError(f"duplicate daily sentiment for {out['symbol'].iloc[i]} on "
                        f"{out['date'].iloc[i].date()}", path=source, row=i + 1,
                        fix="Keep one row per date and symbol.")
    return out.sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)


def write_daily_sentiment(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a daily sentiment table to Parquet atomically (temporary file + rename)."""
    path = Path(path)
    clean = validate_daily(frame, source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".parquet")
    os.close(fd)
    try:
        clean.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_daily_sentiment(path: str | Path) -> pd.DataFrame:
    """Read and validate a ``daily_sentiment.parquet`` (columns date, symbol, score, count)."""
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise DataError(f"cannot read daily sentiment Parquet ({exc})", path=str(path)) from exc
    return validate_daily(frame, source=str(path))


def load_daily_sentiment(source: str | Path | pd.DataFrame, *, symbols: Iterable[str] | None = None,
                         scorer: SentimentScorer | None = None) -> pd.DataFrame:
    """A daily sentiment table from a ready table, a ``daily_sentiment.parquet`` or a news file.

    A Parquet file with columns date, symbol, score, count is read as a daily table;
    any other file is read with :func:`load_news` and scored with ``scorer``.
    """
    if isinstance(source, pd.DataFrame):
        return validate_daily(source)
    path = Path(source)
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq

            names = {n.lower() for n in pq.read_schema(path).names}
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise DataError(f"cannot read Parquet ({exc})", path=str(path)) from exc
        if set(DAILY_COLUMNS) <= names:
            return read_daily_sentiment(path)
    return daily_sentiment(load_news(path, symbols=symbols), scorer)
