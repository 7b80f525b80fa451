"""Daily adjusted prices downloaded with yfinance (an optional extra)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sacfolio.data.panel import EXTRA_FIELDS, MarketPanel
from sacfolio.data.sources.assemble import panel_from_frames
from sacfolio.data.validate import check_options
from sacfolio.exceptions import DataError

__all__ = ["load_yfinance"]


def load_yfinance(
    symbols: Sequence[str],
    start: str,
    end: str,
    *,
    frequency: str | None = "W-FRI",
    max_ffill: int = 2,
) -> MarketPanel:
    """Download daily adjusted prices with yfinance (optional extra) and build a panel.

    Parameters
    ----------
    symbols : sequence of str
        At least 2 ticker symbols, e.g. ``["AAPL", "MSFT"]``.
    start, end : str
        ISO dates; as in yfinance, ``end`` is exclusive.
    frequency, max_ffill
        As in :func:`load_prices`.

    Returns
    -------
    MarketPanel
        Adjusted closes, with open/high/low/volume in ``extra``; ``source`` is
        ``"yfinance:SYM1,SYM2,..."``.

    Raises
    ------
    DataError
        When yfinance is not installed, returns nothing, or lacks a requested symbol.
    """
    check_options(frequency=frequency, max_ffill=max_ffill, start=start, end=end)
    tickers = [str(s).strip().upper() for s in symbols]
    source = "yfinance:" + ",".join(tickers)
    if len(set(tickers)) < 2:
        raise DataError(f"a portfolio needs at least 2 distinct symbols, got {tickers}", path=source,
                        fix="Pass two or more ticker symbols.")
    try:
        import yfinance
    except ImportError as exc:
        raise DataError("yfinance is not installed", path=source,
                        fix="Install the optional extra with pip install 'sacfolio[yfinance]', "
                            "or load a CSV/Parquet file with --data instead.") from exc
    raw = yfinance.download(tickers, start=start, end=end, auto_adjust=True, actions=False,
                            progress=False, group_by="column", multi_level_index=True)
    if raw is None or raw.empty:
        raise DataError(f"yfinance returned no prices between {start} and {end}", path=source,
                        fix="Check the symbols, the dates and the network connection.")
    frames: dict[str, pd.DataFrame] = {}
    for field in ("close", *EXTRA_FIELDS):
        label = field.capitalize()
        if label in raw.columns.get_level_values(0):
            frames[field] = raw[label].reindex(columns=tickers).astype(np.float64)
    if "close" not in frames:
        raise DataError("yfinance returned no 'Close' prices", path=source, column="Close",
                        fix="Upgrade yfinance or load a CSV/Parquet file instead.")
    index = pd.DatetimeIndex(raw.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    index = index.normalize()
    for frame in frames.values():
        frame.index = index
    close = frames.pop("close").sort_index()
    return panel_from_frames(close, {k: v.sort_index() for k, v in frames.items()}, source=source,
                              frequency=frequency, max_ffill=max_ffill, start=start, end=end)
