"""The report of a walk-forward run: HTML, PNG, weights CSV, metrics JSON, terminal table.

Everything is computed before the first file is written, so a failure leaves no
half-written report. The HTML is self-contained: plotly.js is embedded once from
the installed plotly package, nothing is fetched when it is opened.
"""

from __future__ import annotations

import csv
import html
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sacfolio.evaluate.bootstrap import Interval, paired_block_bootstrap, verdict
from sacfolio.evaluate.metrics import CONVENTIONS, Metrics, sharpe, summarize
from sacfolio.evaluate.results import BacktestResult, WalkForwardResult
from sacfolio.exceptions import EvaluationWindowError

__all__ = ["ReportPaths", "edge_summary", "print_summary", "slice_since", "write_report"]

BENCHMARK = "equal_weight"
"""The baseline the agent's Sharpe is bootstrapped against (1/N)."""

_CEILING_PREFIX = "hindsight"

# column key, header, format ("pct" | "ratio")
_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("cagr", "CAGR", "pct"), ("sharpe", "Sharpe", "ratio"), ("sortino", "Sortino", "ratio"),
    ("volatility", "Vol", "pct"), ("max_drawdown", "Max DD", "pct"), ("calmar", "Calmar", "ratio"),
    ("avg_turnover", "Turnover/wk", "pct"), ("total_costs", "Costs", "pct"),
    ("final_value", "Final value", "ratio"),
)


@dataclass(frozen=True, kw_only=True)
class ReportPaths:
    """Files written by :func:`write_report`."""

    html: Path
    png: Path
    weights_csv: Path
    metrics_json: Path


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
    return BacktestResult(
        name=result.name, symbols=result.symbols, dates=result.dates[first:],
        weights=result.weights[first:], returns=result.returns[first:],
        turnover=result.turnover[first:], costs=result.costs[first:],
    )


def _order(result: WalkForwardResult, agent: str) -> list[str]:
    if agent not in result.results:
        raise ValueError(f"agent {agent!r} has no results; strategies are {sorted(result.results)}")
    rest = [n for n in result.results if n != agent]
    ceilings = [n for n in rest if n.startswith(_CEILING_PREFIX)]
    return [agent] + [n for n in rest if n not in ceilings] + ceilings


def _fmt(value: float | None, kind: str) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{100 * value:.1f}%" if kind == "pct" else f"{value:.2f}"


def _interval(result: WalkForwardResult, agent: str, seed: int) -> Interval | str:
    """Bootstrap of Sharpe(agent) - Sharpe(1/N), or the reason it was not computed."""
    if agent == BENCHMARK or BENCHMARK not in result.results:
        return f"not computed: the run has no {BENCHMARK!r} baseline to compare {agent!r} with"
    a, b = result.combined(agent).returns, result.combined(BENCHMARK).returns
    try:
        return paired_block_bootstrap(a, b, sharpe, seed=seed)
    except ValueError as err:  # too short, or a flat series with an undefined Sharpe
        return f"not computed: {err}"


def edge_summary(result: WalkForwardResult, *, agent: str = "sac", seed: int = 0) -> str:
    """One line: the bootstrap interval of Sharpe(agent) - Sharpe(1/N) and its verdict."""
    iv = _interval(result, agent, seed)
    if isinstance(iv, str):
        return f"Sharpe({agent}) - Sharpe({BENCHMARK}): {iv}"
    return (f"Sharpe({agent}) - Sharpe({BENCHMARK}) = {iv.point:+.2f}; {iv.level:.0%} block-bootstrap "
            f"interval [{iv.low:+.2f}, {iv.high:+.2f}]: {verdict(iv)}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _metrics_document(result: WalkForwardResult, names: list[str], title: str, agent: str,
                      total: dict[str, Metrics], interval: Interval | str) -> dict[str, Any]:
    folds = []
    for i, fold in enumerate(result.folds):
        first = result.results[names[0]][i]
        folds.append({
            "label": fold.label, "start": str(first.dates[0]), "end": str(first.dates[-1]),
            "metrics": {n: summarize(result.results[n][i]).as_dict() for n in names},
        })
    agent_all = result.combined(agent)
    return {
        "title": title, "agent": agent, "conventions": CONVENTIONS,
        "symbols": list(result.symbols),
        "span": {"start": str(agent_all.dates[0]), "end": str(agent_all.dates[-1])},
        "folds": folds,
        "total": {n: total[n].as_dict() for n in names},
        "bootstrap": ({"statistic": f"sharpe({agent}) - sharpe({BENCHMARK})", **interval.as_dict()}
                      if isinstance(interval, Interval) else {"error": interval}),
        "info": _jsonable(result.info),
    }


def _drawdown(equity: np.ndarray) -> np.ndarray:
    return equity / np.maximum.accumulate(equity) - 1.0


def _figures(result: WalkForwardResult, names: list[str], agent: str,
             combined: dict[str, BacktestResult]) -> list[tuple[str, Any]]:
    import plotly.graph_objects as go

    starts = [str(combined[agent].dates[0])] + [
        str(result.results[agent][i].dates[0]) for i in range(1, len(result.folds))]
    equity, drawdown = go.Figure(), go.Figure()
    for n in names:
        res = combined[n]
        x = res.dates.astype("datetime64[D]").astype(str)
        ceiling = n.startswith(_CEILING_PREFIX)
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


def _table_html(metrics: dict[str, Metrics], names: list[str], agent: str) -> str:
    head = "".join(f"<th>{h}</th>" for _, h, _ in _COLUMNS)
    rows = []
    for n in names:
        m = metrics[n]
        cells = "".join(f"<td>{_fmt(getattr(m, k), kind)}</td>" for k, _, kind in _COLUMNS)
        cls = ' class="agent"' if n == agent else (' class="ceiling"' if n.startswith(_CEILING_PREFIX) else "")
        label = html.escape(n) + (" (uses the future)" if n.startswith(_CEILING_PREFIX) else "")
        rows.append(f"<tr{cls}><th>{label}</th>{cells}<td>{m.n_periods}</td></tr>")
    return f"<table><tr><th>strategy</th>{head}<th>weeks</th></tr>{''.join(rows)}</table>"


_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{padding:3px 9px;border-bottom:1px solid #ddd;
text-align:right}tr th:first-child{text-align:left}tr.agent{font-weight:bold;background:#eef5ff}
tr.ceiling{color:#888}.verdict{font-size:1.15em;padding:0.6em 1em;background:#f4f4f4;border-left:4px solid #36c}
pre{background:#f8f8f8;padding:0.8em;overflow-x:auto}"""


def _html(title: str, doc: dict[str, Any], figures: list[tuple[str, Any]], total: dict[str, Metrics],
          per_fold: list[tuple[str, dict[str, Metrics]]], names: list[str], agent: str,
          interval: Interval | str) -> str:
    from plotly.offline import get_plotlyjs

    plots = "\n".join(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div,
                                  config={"displaylogo": False}) for div, fig in figures)
    if isinstance(interval, Interval):
        boot = (f'<p class="verdict">Sharpe({html.escape(agent)}) &minus; Sharpe({BENCHMARK}) = '
                f"{interval.point:+.2f}; {100 * interval.level:.0f}% interval "
                f"[{interval.low:+.2f}, {interval.high:+.2f}]: <b>{verdict(interval)}</b></p>"
                f"<p>Paired circular block bootstrap: {interval.n_boot} samples of {interval.block}-week "
                f"blocks, the same weeks for both strategies, seed {interval.seed}.</p>")
    else:
        boot = f'<p class="verdict">{html.escape(interval)}</p>'
    folds = "\n".join(f"<h3>Fold {html.escape(label)}</h3>{_table_html(m, names, agent)}"
                      for label, m in per_fold)
    info = html.escape(json.dumps(doc["info"], indent=2, sort_keys=True))
    span = doc["span"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<h1>{html.escape(title)}</h1>
<p>Out-of-sample walk-forward, {span['start']} to {span['end']}, {len(per_fold)} yearly fold(s),
{len(doc['symbols'])} symbols. Agent: <b>{html.escape(agent)}</b>.</p>
<h2>Edge over 1/N</h2>{boot}
<h2>Equity and drawdowns</h2>{plots}
<h2>Metrics, whole span</h2>{_table_html(total, names, agent)}
<h2>Metrics per fold</h2>{folds}
<h2>Conventions</h2>
<p>{html.escape(CONVENTIONS)} Each fold is trained only on data before it (expanding window) and
backtested with the same env and cost code as training; weights are targets chosen at each
decision close (exported in weights.csv). The hindsight strategy reads the coming week's prices:
it is a ceiling, not a strategy (hidden in the charts until clicked in the legend).</p>
{_forecast_html(doc["info"])}<h2>Run settings</h2><pre>{info}</pre>
</body></html>
"""


def _png(path: Path, names: list[str], agent: str, combined: dict[str, BacktestResult], title: str,
         fold_starts: list[np.datetime64]) -> None:
    from matplotlib.figure import Figure  # no pyplot: no global backend state, renders with Agg
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(11, 5.5), layout="constrained")
    ax = fig.add_subplot()
    for n in names:
        if n.startswith(_CEILING_PREFIX):
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


def _write_weights(path: Path, res: BacktestResult) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["date", *res.symbols, "CASH"])
        for d, row in zip(res.dates[:-1].astype("datetime64[D]"), res.weights):
            writer.writerow([str(d), *(f"{w:.10g}" for w in row)])


def _forecast_html(info: Mapping[str, Any]) -> str:
    """Per-year forecast quality table (seed 001 variants), or nothing."""
    rows = info.get("forecast_quality") or []
    if not rows:
        return ""
    head = ("<tr><th>year</th><th>weeks</th><th>rank IC</th><th>IC momentum</th><th>hit rate</th>"
            "<th>hit rate momentum</th></tr>")

    def cell(v: Any) -> str:
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:+.3f}"

    body = "".join(
        f"<tr><td>{r['year']}</td><td>{r['n_weeks']}</td><td>{cell(r['ic'])}</td><td>{cell(r['ic_momentum'])}</td>"
        f"<td>{cell(r['hit_rate'])}</td><td>{cell(r['hit_rate_momentum'])}</td></tr>" for r in rows)
    return ("<h2>Forecast quality per year</h2><p>Walk-forward forecasts of next week's return: the model "
            "for year Y was trained on the 5 years before Y only. Rank IC is the mean cross-sectional Spearman "
            "correlation of forecast and realized return; momentum is the trailing 52-week return as a "
            f"forecast.</p><table>{head}{body}</table>")


def _write_equity(path: Path, names: list[str], combined: Mapping[str, BacktestResult]) -> None:
    """``date,<strategy...>``: every strategy's equity (start 1.0) on every decision close."""
    dates = next(iter(combined.values())).dates
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["date", *names])
        curves = np.column_stack([combined[n].equity for n in names])
        for d, row in zip(dates, curves):
            writer.writerow([str(d), *(f"{v:.8g}" for v in row)])


def write_report(result: WalkForwardResult, out_dir: Path, *, agent: str = "sac", title: str,
                 seed: int = 0) -> ReportPaths:
    """Write ``report.html``, ``equity.png``, ``weights.csv``, ``equity.csv`` and ``metrics.json``.

    Parameters
    ----------
    result : WalkForwardResult
        Every strategy's backtest per fold; must hold ``agent``.
    out_dir : Path
        Created if missing; existing report files are replaced.
    agent : str, default "sac"
        The strategy the report is about (bold rows, weights chart, weights.csv).
    title : str
        Heading of the HTML page and the PNG.
    seed : int, default 0
        Seed of the bootstrap of Sharpe(agent) - Sharpe(equal_weight).

    Returns
    -------
    ReportPaths

    Raises
    ------
    ValueError
        If ``agent`` is not one of the strategies in ``result``.
    """
    names = _order(result, agent)
    combined = {n: result.combined(n) for n in names}
    total = {n: summarize(combined[n]) for n in names}
    per_fold = [(fold.label, {n: summarize(result.results[n][i]) for n in names})
                for i, fold in enumerate(result.folds)]
    interval = _interval(result, agent, seed)
    doc = _metrics_document(result, names, title, agent, total, interval)
    page = _html(title, doc, _figures(result, names, agent, combined), total, per_fold, names, agent, interval)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(html=out_dir / "report.html", png=out_dir / "equity.png",
                        weights_csv=out_dir / "weights.csv", metrics_json=out_dir / "metrics.json")
    paths.html.write_text(page, encoding="utf-8")
    paths.metrics_json.write_text(json.dumps(doc, indent=2, allow_nan=False), encoding="utf-8")
    _write_weights(paths.weights_csv, combined[agent])
    _write_equity(out_dir / "equity.csv", names, combined)
    _png(paths.png, names, agent, combined, title,
         [r.dates[0].astype("datetime64[D]") for r in result.results[agent][1:]])
    return paths


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

    names = _order(result, agent)
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
        for _, header, _ in _COLUMNS:
            table.add_column(header, justify="right")
        for n in names:
            m = summarize(runs[n])
            ceiling = n.startswith(_CEILING_PREFIX)
            style = "bold cyan" if n == agent else ("dim" if ceiling else None)
            label = f"{n} (uses future)" if ceiling else n
            table.add_row(label, *(_fmt(getattr(m, k), kind) for k, _, kind in _COLUMNS), style=style)
        console.print(table)
