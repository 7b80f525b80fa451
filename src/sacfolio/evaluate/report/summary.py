"""The terminal summary of a walk-forward run: one rich table per span."""

from __future__ import annotations

from typing import Any

import numpy as np

from sacfolio.evaluate.metrics import summarize
from sacfolio.evaluate.report.columns import CEILING_PREFIX, COLUMNS, format_value, strategy_order
from sacfolio.evaluate.results import BacktestResult, WalkForwardResult
from sacfolio.exceptions import EvaluationWindowError

__all__ = ["print_summary", "slice_since"]


def slice_since(result: BacktestResult, start: str | np.datetime64) -> BacktestResult:
    """The periods of ``result`` whose return ends on or after ``start``.

    Parameters
    ----------
    result : BacktestResult
        S periods.
    start : str or datetime64
        ISO date; with ``"2021-01-01"`` the result covers the returns landing in 2021
        and later (the fold convention).

    Returns
    -------
    BacktestResult
        The last S' periods, ``dates`` of shape (S' + 1,).

    Raises
    ------
    EvaluationWindowError
        If no period ends on or after ``start``.
    """
    d = np.datetime64(start, "D")
    ends = result.dates[1:].astype("datetime64[D]")
    first = int(np.searchsorted(ends, d, side="left"))
    if first >= len(ends):
        raise EvaluationWindowError(
            f"no period of {result.name!r} ends on or after {d}; its results cover "
            f"{result.dates[0]}..{result.dates[-1]}")
    return result.sliced(first)


def print_summary(result: WalkForwardResult, console: Any, *, agent: str = "sac",
                  since: str | np.datetime64 | None = None) -> None:
    """Print one rich table per span: the whole run, and the periods since ``since``.

    Parameters
    ----------
    result : WalkForwardResult
    console : rich.console.Console
    agent : str, default "sac"
        Highlighted row.
    since : str or datetime64, optional
        Also print the sub-span of returns ending on or after this date (e.g.
        ``"2021-01-01"`` for the last two years of a 2015-2022 run).
    """
    from rich.table import Table

    names = strategy_order(result, agent)
    combined = {n: result.combined(n) for n in names}
    spans = [("", combined)]
    if since is not None:
        spans.append((f", returns from {np.datetime64(since, 'D')}",
                      {n: slice_since(r, since) for n, r in combined.items()}))
    for suffix, runs in spans:
        first = runs[agent]
        table = Table(title=f"Out of sample{suffix}: {first.dates[0]} .. {first.dates[-1]} "
                            f"({len(first.returns)} weeks)")
        table.add_column("strategy", justify="left")
        for _, header, _ in COLUMNS:
            table.add_column(header, justify="right")
        for n in names:
            m = summarize(runs[n])
            ceiling = n.startswith(CEILING_PREFIX)
            style = "bold cyan" if n == agent else ("dim" if ceiling else None)
            label = f"{n} (uses future)" if ceiling else n
            table.add_row(label, *(format_value(getattr(m, k), kind) for k, _, kind in COLUMNS), style=style)
        console.print(table)
