"""The steps every source ends in: validated frames -> resampled, forward-filled, windowed panel.

Resampling to weekly closes is optional; short gaps are forward-filled by
:meth:`MarketPanel.from_close_frame`; a :class:`DataWarning` says how many prices were
filled or marked unavailable; every step between two prices is checked
(:func:`~sacfolio.data.validate.check_price_steps`); an optional date window comes last.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from sacfolio.data.panel import MarketPanel
from sacfolio.data.validate import check_price_steps
from sacfolio.exceptions import DataError, DataWarning

__all__ = ["panel_from_frames"]

_RESAMPLE_HOW = {"open": "first", "high": "max", "low": "min", "close": "last"}


def panel_from_frames(
    close: pd.DataFrame,
    extra: dict[str, pd.DataFrame],
    *,
    source: str,
    frequency: str | None,
    max_ffill: int,
    start: str | None,
    end: str | None,
    header_row: int | None = None,
) -> MarketPanel:
    """Resample, forward-fill and window validated frames into a panel, warning about repairs."""
    empty = [str(s) for s in close.columns[close.isna().all().to_numpy()]]
    if empty:
        raise DataError(f"{empty[0]} has no prices at all", path=source, column=empty[0],
                        row=header_row, fix="Fill in its prices or delete the column.")
    if frequency is not None:
        close = close.resample(frequency).last()
        extra = {k: (v.resample(frequency).sum(min_count=1) if k == "volume"
                     else v.resample(frequency).agg(_RESAMPLE_HOW[k])) for k, v in extra.items()}
    base = MarketPanel.from_close_frame(close, source=source, max_ffill=max_ffill)
    _warn_repairs(close, base, max_ffill)
    panel = MarketPanel(
        dates=base.dates, symbols=base.symbols, close=base.close, available=base.available,
        extra={k: np.where(base.available, v.reindex(index=close.index, columns=close.columns)
                           .to_numpy(dtype=np.float64), np.nan) for k, v in extra.items()},
        source=source,
    )
    check_price_steps(panel)
    if start is None and end is None:
        return panel
    window = panel.between(None if start is None else str(pd.Timestamp(start).date()),
                           None if end is None else str(pd.Timestamp(end).date()))
    if window.n_dates == 0:
        raise DataError(f"no dates between {start or 'the start'} and {end or 'the end'}; the data "
                        f"covers {panel.dates[0]} to {panel.dates[-1]}", path=source,
                        fix="Choose start/end dates inside that range.")
    return window


def _warn_repairs(close: pd.DataFrame, panel: MarketPanel, max_ffill: int) -> None:
    """Warn (DataWarning) how many missing prices were forward-filled or marked unavailable."""
    present = np.isfinite(close.to_numpy(dtype=np.float64))
    seen_before = np.maximum.accumulate(present, axis=0)
    seen_after = np.maximum.accumulate(present[::-1], axis=0)[::-1]
    inside = seen_before & seen_after
    filled = panel.available & ~present
    dropped = inside & ~panel.available
    if not (filled.any() or dropped.any()):
        return

    def per_symbol(mask: np.ndarray) -> str:
        parts = []
        for n in np.flatnonzero(mask.any(axis=0)):
            first = panel.dates[int(np.argmax(mask[:, n]))]
            parts.append(f"{panel.symbols[n]} {int(mask[:, n].sum())} (first {first})")
        return "; ".join(parts)

    notes = []
    if filled.any():
        notes.append(f"forward-filled {int(filled.sum())} missing prices, at most {max_ffill} in a "
                     f"row: {per_symbol(filled)}")
    if dropped.any():
        notes.append(f"marked {int(dropped.sum())} prices unavailable in gaps longer than "
                     f"{max_ffill} rows, after their first {max_ffill}: {per_symbol(dropped)}")
    warnings.warn(DataWarning(f"{panel.source}: " + ". ".join(notes) + "."), stacklevel=4)
