"""The meta-controller's HTML page: equity of each method, what meta_sac allocated, where its P&L came from.

``sacfolio meta evaluate`` writes it beside ``meta_report.json``; like the portfolio
report it is one self-contained file (plotly.js embedded once, nothing fetched).
"""

from __future__ import annotations

import html
from typing import Any, Mapping, Sequence

import numpy as np

from sacfolio.evaluate.report.page import page_start

__all__ = ["meta_report_html"]

AGENT = "meta_sac"


def _summary_table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("total return", "Sharpe", "max drawdown", "costs $", "costs bps",
                                             "turnover/bar"))
    body = []
    for r in rows:
        cls = ' class="agent"' if r["method"] == AGENT else ""
        body.append(f"<tr{cls}><th>{html.escape(str(r['method']))}</th><td>{r['total_return']:+.2%}</td>"
                    f"<td>{r['sharpe']:.2f}</td><td>{r['max_drawdown']:.2%}</td><td>{r['costs']:,.0f}</td>"
                    f"<td>{r['cost_bps']:.1f}</td><td>{r['turnover_per_bar']:.2%}</td></tr>")
    return f"<table><tr><th>method</th>{head}</tr>{''.join(body)}</table>"


def _strategy_table(by_strategy: Mapping[str, Mapping[str, Mapping[str, float]]], strategies: Sequence[str]) -> str:
    methods = list(by_strategy)
    head = "".join(f"<th>{html.escape(m)}<br>P&amp;L / costs $</th>" for m in methods)
    body = "".join(f"<tr><th>{html.escape(s)}</th>" + "".join(
        f"<td>{by_strategy[m][s]['pnl']:+,.0f} / {by_strategy[m][s]['cost']:,.0f}</td>" for m in methods) + "</tr>"
        for s in strategies)
    return f"<table><tr><th>strategy</th>{head}</tr>{body}</table>"


def meta_report_html(evaluation: Any, rows: Sequence[Mapping[str, Any]], report: Mapping[str, Any], *,
                     title: str = "sacfolio meta-controller: walk-forward") -> str:
    """The page of a :class:`~sacfolio.workflows.meta.MetaEvaluation`: the summary table
    (``rows``, :func:`~sacfolio.workflows.meta.summary_rows`), the equity of every method
    over the test bars (fold starts dashed), meta_sac's allocation across the strategies
    bar by bar, and the gross P&L and costs by strategy (``report["by_strategy"]``)."""
    import plotly.graph_objects as go

    times = [str(t) for t in evaluation.stacked(AGENT, "times")]
    starts = np.cumsum([0] + [len(r.times) for r in evaluation.runs[AGENT]])[1:-1]
    equity = go.Figure()
    for method in evaluation.runs:
        style = {"width": 3} if method == AGENT else {"width": 1.3}
        equity.add_trace(go.Scatter(x=list(range(len(times))), y=np.cumprod(1.0 + evaluation.returns(method)).tolist(),
                                    name=method, line=style, customdata=times,
                                    hovertemplate="%{customdata}: %{y:.4f}"))
    for s in starts:
        equity.add_vline(x=int(s), line={"color": "#bbb", "width": 1, "dash": "dash"})
    equity.update_layout(title="Equity over the test bars (start = 1, net of spread and commission; "
                               "dashed: fold starts)", xaxis_title="test bar", hovermode="x unified", height=460)
    shares = evaluation.stacked(AGENT, "shares")
    allocation = go.Figure()
    for k, name in enumerate(evaluation.strategies):
        allocation.add_trace(go.Scatter(x=list(range(len(times))), y=shares[:, k].tolist(), name=name, mode="lines",
                                        stackgroup="shares", line={"width": 0.5}))
    allocation.update_layout(title=f"{AGENT}: share of the book given to each strategy, bar by bar",
                             xaxis_title="test bar", yaxis_tickformat=".0%", hovermode="x unified", height=420)
    plots = "\n".join(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div, config={"displaylogo": False})
                      for div, fig in (("meta-equity", equity), ("meta-allocation", allocation)))
    folds = ", ".join(f"bars {lo}..{hi - 1}" for lo, hi in report["folds"])
    return f"""{page_start(title)}
<p>{len(report['folds'])} walk-forward fold(s) ({folds}): the controller trains only on bars before each fold,
then it and every baseline allocate across the same {len(evaluation.strategies)} strategies on the same bars,
through the same broker (spread and commission).</p>
<h2>Summary</h2>{_summary_table(rows)}
<h2>Equity and allocation</h2>{plots}
<h2>Gross P&amp;L and costs by strategy</h2>{_strategy_table(report["by_strategy"], evaluation.strategies)}
</body></html>
"""
