"""What every part of the report shares: the benchmark, the metric columns, the strategy order."""

from __future__ import annotations

import math

from sacfolio.evaluate.results import WalkForwardResult

__all__ = ["BENCHMARK", "CEILING_PREFIX", "COLUMNS", "format_value", "strategy_order"]

BENCHMARK = "equal_weight"
"""The baseline the agent's Sharpe is bootstrapped against (1/N)."""

CEILING_PREFIX = "hindsight"
"""Strategies named so read the future: a ceiling, shown apart and hidden in charts."""

# column key, header, format ("pct" | "ratio")
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("cagr", "CAGR", "pct"), ("sharpe", "Sharpe", "ratio"), ("sortino", "Sortino", "ratio"),
    ("volatility", "Vol", "pct"), ("max_drawdown", "Max DD", "pct"), ("calmar", "Calmar", "ratio"),
    ("avg_turnover", "Turnover/wk", "pct"), ("total_costs", "Costs", "pct"),
    ("final_value", "Final value", "ratio"),
)


def strategy_order(result: WalkForwardResult, agent: str) -> list[str]:
    """The agent first, then the strategies of the run, hindsight ceilings last."""
    if agent not in result.results:
        raise ValueError(f"agent {agent!r} has no results; strategies are {sorted(result.results)}")
    rest = [n for n in result.results if n != agent]
    ceilings = [n for n in rest if n.startswith(CEILING_PREFIX)]
    return [agent] + [n for n in rest if n not in ceilings] + ceilings


def format_value(value: float | None, kind: str) -> str:
    """``"12.3%"`` for ``kind="pct"``, ``"0.85"`` otherwise; ``"n/a"`` when missing or not finite."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{100 * value:.1f}%" if kind == "pct" else f"{value:.2f}"
