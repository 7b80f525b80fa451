"""The embedded sample: weekly closes of 20 S&P 500 stocks shipped inside skfolio."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sacfolio.data.panel import MarketPanel
from sacfolio.data.sources.assemble import panel_from_frames

__all__ = ["load_sp500_sample"]


def load_sp500_sample(*, start: str | None = None, end: str | None = None) -> MarketPanel:
    """Weekly (Friday) closes of the 20 S&P 500 stocks shipped inside skfolio, 1990-2022.

    Parameters
    ----------
    start, end : str, optional
        Inclusive ISO date window; default the whole sample.

    Returns
    -------
    MarketPanel
        Close prices resampled to ``W-FRI`` (each week's last close, labelled with the
        week's Friday), ``source="embedded:sp500"``. No download is needed.
    """
    from skfolio.datasets import load_sp500_dataset

    prices = load_sp500_dataset()
    close = prices.astype(np.float64)
    close.index = pd.DatetimeIndex(close.index).normalize()
    return panel_from_frames(close, {}, source="embedded:sp500", frequency="W-FRI",
                              max_ffill=2, start=start, end=end)
