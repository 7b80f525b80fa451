"""Walk-forward evaluation: folds, backtests, metrics, bootstrap and the report."""

from __future__ import annotations

from typing import Any

from sacfolio.evaluate.bootstrap import Interval, block_indices, paired_block_bootstrap, verdict
from sacfolio.evaluate.folds import parse_years, yearly_folds
from sacfolio.evaluate.metrics import (
    CONVENTIONS,
    PERIODS_PER_YEAR,
    Metrics,
    annual_volatility,
    cagr,
    calmar,
    max_drawdown,
    metrics_table,
    sharpe,
    sortino,
    summarize,
)
from sacfolio.evaluate.report import ReportPaths, print_summary, slice_since, write_report
from sacfolio.evaluate.results import BacktestResult, Fold, WalkForwardResult

__all__ = [
    "CONVENTIONS",
    "PERIODS_PER_YEAR",
    "BacktestResult",
    "Fold",
    "Interval",
    "Metrics",
    "ReportPaths",
    "WalkForwardResult",
    "annual_volatility",
    "block_indices",
    "cagr",
    "calmar",
    "max_drawdown",
    "metrics_table",
    "paired_block_bootstrap",
    "parse_years",
    "print_summary",
    "run_backtest",
    "sharpe",
    "slice_since",
    "sortino",
    "summarize",
    "verdict",
    "write_report",
    "yearly_folds",
]


def __getattr__(name: str) -> Any:
    """Import ``run_backtest`` on first use (it pulls in the env)."""
    if name == "run_backtest":
        from sacfolio.evaluate.backtest import run_backtest

        return run_backtest
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
