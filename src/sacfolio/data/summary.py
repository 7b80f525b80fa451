"""A JSON-ready overview of a panel for the CLI and the API."""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from sacfolio.data.panel import EXTRA_FIELDS, MarketPanel

__all__ = ["DataSummary", "describe"]


class DataSummary(TypedDict):
    """What :func:`describe` returns: a JSON-ready overview of a panel."""

    source: str
    start: str | None
    end: str | None
    n_dates: int
    n_symbols: int
    symbols: list[str]
    fields: list[str]
    coverage: dict[str, float]


def describe(panel: MarketPanel) -> DataSummary:
    """Summarize a panel for the CLI and the API.

    Parameters
    ----------
    panel : MarketPanel

    Returns
    -------
    DataSummary
        Source, first and last date (ISO, ``None`` when empty), number of dates and
        symbols, the symbols, the fields present (``close`` first) and, per symbol, the
        fraction of dates on which it is available (0.0 to 1.0).
    """
    n = panel.n_dates
    coverage = panel.available.mean(axis=0) if n else np.zeros(panel.n_symbols)
    return DataSummary(
        source=panel.source,
        start=str(panel.dates[0]) if n else None,
        end=str(panel.dates[-1]) if n else None,
        n_dates=n,
        n_symbols=panel.n_symbols,
        symbols=list(panel.symbols),
        fields=["close", *(f for f in EXTRA_FIELDS if f in panel.extra)],
        coverage={s: float(c) for s, c in zip(panel.symbols, coverage)},
    )
