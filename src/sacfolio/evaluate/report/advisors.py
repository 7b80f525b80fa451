"""The report's universal-model section: which advisors the agent trusted, and how it traded
universes it was not trained on.

Reads what :func:`sacfolio.workflows.universal.universal_record` put in the run's
``info``: ``advisor_mixture`` (dates, advisors, the mixture of every out-of-sample
decision) is drawn as stacked areas over time with the mean weight per advisor;
``universe_change`` as a table beside 1/N on the same stocks. Runs of other variants
have neither, and the section is empty.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["advisor_figure", "advisors_html"]


def advisor_figure(record: Mapping[str, Any]):
    """Stacked-area plotly figure of the advisor mixture over the out-of-sample decisions."""
    import plotly.graph_objects as go

    weights = np.asarray(record["weights"], dtype=float)
    fig = go.Figure()
    for k, name in enumerate(record["advisors"]):
        fig.add_trace(go.Scatter(x=record["dates"], y=weights[:, k], name=name, stackgroup="mixture",
                                 mode="lines", line={"width": 0.5}))
    fig.update_layout(title="Advisor mixture per decision (sums to 1)", yaxis={"range": [0, 1], "title": "weight"},
                      height=380, margin={"l": 50, "r": 20, "t": 40, "b": 30})
    return fig


def _mean_table(record: Mapping[str, Any]) -> str:
    weights = np.asarray(record["weights"], dtype=float)
    mean, last = weights.mean(axis=0), weights[-1]
    order = np.argsort(-mean)
    rows = "".join(f"<tr><th>{html.escape(record['advisors'][k])}</th><td>{mean[k]:.3f}</td>"
                   f"<td>{last[k]:.3f}</td></tr>" for k in order)
    return f"<table><tr><th>advisor</th><th>mean weight</th><th>last decision</th></tr>{rows}</table>"


def _universe_table(changes: list[Mapping[str, Any]]) -> str:
    def cells(m: Mapping[str, float]) -> str:
        return f"<td>{100 * m['cagr']:+.2f}%</td><td>{m['sharpe']:+.2f}</td><td>{100 * m['max_drawdown']:.1f}%</td>"

    rows = "".join(f"<tr><th>{html.escape(c['universe'])} (fold {html.escape(str(c['fold']))})</th>"
                   f"{cells(c['agent'])}{cells(c['equal_weight'])}"
                   f"<td>{'yes' if c['feasible_every_step'] else '<b>NO</b>'}</td></tr>" for c in changes)
    head = ("<tr><th>universe</th><th>CAGR</th><th>Sharpe</th><th>max DD</th><th>1/N CAGR</th><th>1/N Sharpe</th>"
            "<th>1/N max DD</th><th>weights valid every step</th></tr>")
    return f"<table>{head}{rows}</table>"


def advisors_html(info: Mapping[str, Any]) -> str:
    """The section's HTML (plotly.js must already be on the page), or "" without a universal record."""
    record, changes = info.get("advisor_mixture"), info.get("universe_change")
    if not record and not changes:
        return ""
    parts = ["<h2>Universal model: advisors and universe changes</h2>"]
    if record:
        fig = advisor_figure(record)
        parts.append("<p>The policy fuses the zoo's portfolios with softmax weights conditioned on its pooled "
                     "transformer feature, then tilts the fused portfolio per slot. Which advisors it trusted, "
                     "decision by decision (out of sample):</p>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=False, div_id="advisor-mixture",
                                 config={"displaylogo": False}))
        parts.append(_mean_table(record))
    if changes:
        parts.append("<p>The last fold's model, not retrained, trading other universes over the last test "
                     "year (same costs and rules), beside 1/N on the same stocks:</p>")
        parts.append(_universe_table(list(changes)))
    return "\n".join(parts)
