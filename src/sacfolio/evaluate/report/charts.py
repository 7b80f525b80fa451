"""The report's charts: interactive plotly figures for the HTML page and a static equity PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sacfolio.evaluate.report.columns import CEILING_PREFIX
from sacfolio.evaluate.results import BacktestResult, WalkForwardResult

__all__ = ["report_figures", "write_png"]


def _drawdown(equity: np.ndarray) -> np.ndarray:
    return equity / np.maximum.accumulate(equity) - 1.0


Band = tuple[np.ndarray, np.ndarray] | None
"""Lowest and highest single-seed equity at each date of a seed ensemble (None: one seed)."""


def report_figures(result: WalkForwardResult, names: list[str], agent: str,
                   combined: dict[str, BacktestResult], band: Band = None) -> list[tuple[str, Any]]:
    """``(div id, plotly figure)`` of the equity (with the seed band), drawdown and agent-weights charts."""
    import plotly.graph_objects as go

    starts = [str(combined[agent].dates[0])] + [
        str(result.results[agent][i].dates[0]) for i in range(1, len(result.folds))]
    equity, drawdown = go.Figure(), go.Figure()
    if band is not None:
        x = combined[agent].dates.astype("datetime64[D]").astype(str)
        equity.add_trace(go.Scatter(x=x, y=band[0], line={"width": 0}, showlegend=False, hoverinfo="skip"))
        equity.add_trace(go.Scatter(x=x, y=band[1], line={"width": 0}, fill="tonexty",
                                    fillcolor="rgba(31,119,180,0.18)", name=f"{agent}: range of single seeds"))
    for n in names:
        res = combined[n]
        x = res.dates.astype("datetime64[D]").astype(str)
        ceiling = n.startswith(CEILING_PREFIX)
        style = {"width": 3} if n == agent else {"width": 1.3, "dash": "dot" if ceiling else "solid"}
        label = f"{n} (uses the future: ceiling)" if ceiling else n
        shown = "legendonly" if ceiling else True
        equity.add_trace(go.Scatter(x=x, y=res.equity, name=label, line=style, visible=shown))
        drawdown.add_trace(go.Scatter(x=x, y=_drawdown(res.equity), name=label, line=style, visible=shown))
    for fig in (equity, drawdown):
        for s in starts[1:]:
            fig.add_vline(x=s, line={"color": "#bbb", "width": 1, "dash": "dash"})
    equity.update_layout(title="Equity (log scale, start = 1; dashed lines: fold starts)",
                         yaxis_type="log", hovermode="x unified", height=480)
    drawdown.update_layout(title="Drawdown from running peak", yaxis_tickformat=".0%",
                           hovermode="x unified", height=360)

    agent_res = combined[agent]
    x = agent_res.dates[:-1].astype("datetime64[D]").astype(str)
    weights = go.Figure()
    for j, sym in enumerate(list(agent_res.symbols) + ["CASH"]):
        weights.add_trace(go.Scatter(x=x, y=agent_res.weights[:, j], name=sym, mode="lines",
                                     stackgroup="weights", line={"width": 0.5}))
    weights.update_layout(title=f"Target weights of {agent} at each decision close",
                          yaxis={"range": [0, 1], "tickformat": ".0%"}, hovermode="x unified",
                          height=480)
    return [("equity", equity), ("drawdown", drawdown), ("weights", weights)]


def write_png(path: Path, names: list[str], agent: str, combined: dict[str, BacktestResult], title: str,
              fold_starts: list[np.datetime64], band: Band = None) -> None:
    """The equity curves (log scale, ceilings omitted) as a PNG at ``path``."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state, renders with Agg
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(11, 5.5), layout="constrained")
    ax = fig.add_subplot()
    if band is not None:
        ax.fill_between(combined[agent].dates.astype("datetime64[D]"), band[0], band[1], alpha=0.2,
                        label=f"{agent}: range of single seeds", zorder=1)
    for n in names:
        if n.startswith(CEILING_PREFIX):
            continue
        res = combined[n]
        ax.plot(res.dates.astype("datetime64[D]"), res.equity, label=n,
                linewidth=2.4 if n == agent else 1.0, zorder=3 if n == agent else 2)
    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.tick_params(axis="y", which="minor", labelsize=7)
    for start in fold_starts:
        ax.axvline(start, color="#bbb", linewidth=0.8, linestyle="--")
    ax.set_ylabel("equity (start = 1, log scale)")
    ax.set_title(f"{title} (hindsight ceiling omitted)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.savefig(path, dpi=110, backend="agg")
