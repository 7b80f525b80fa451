"""The files of a walk-forward report: HTML, PNG, weights CSV, equity CSV and metrics JSON.

Everything is computed before the first file is written, so a failure leaves no
half-written report. The HTML is self-contained: plotly.js is embedded once from
the installed plotly package, nothing is fetched when it is opened.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sacfolio.evaluate.bootstrap import Interval
from sacfolio.evaluate.metrics import CONVENTIONS, Metrics, summarize
from sacfolio.evaluate.report.charts import report_figures, write_png
from sacfolio.evaluate.report.columns import BENCHMARK, strategy_order
from sacfolio.evaluate.report.edge import sharpe_edge
from sacfolio.evaluate.report.evidence import Evidence, gather_evidence
from sacfolio.evaluate.report.page import report_html
from sacfolio.evaluate.results import BacktestResult, WalkForwardResult

__all__ = ["ReportPaths", "write_report"]


@dataclass(frozen=True, kw_only=True)
class ReportPaths:
    """Files written by :func:`write_report`."""

    html: Path
    png: Path
    weights_csv: Path
    metrics_json: Path


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
                      total: dict[str, Metrics], interval: Interval | str, evidence: Evidence) -> dict[str, Any]:
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
        "evidence": _jsonable(evidence.as_dict()),
        "info": _jsonable(result.info),
    }


def _write_weights(path: Path, res: BacktestResult) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["date", *res.symbols, "CASH"])
        for d, row in zip(res.dates[:-1].astype("datetime64[D]"), res.weights):
            writer.writerow([str(d), *(f"{w:.10g}" for w in row)])


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
                 seed: int = 0, n_trials: int = 1) -> ReportPaths:
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
    n_trials : int, default 1
        Configurations tried when the run's settings were chosen (the deflated Sharpe ratio).

    Returns
    -------
    ReportPaths

    Raises
    ------
    ValueError
        If ``agent`` is not one of the strategies in ``result``.
    """
    names = strategy_order(result, agent)
    combined = {n: result.combined(n) for n in names}
    total = {n: summarize(combined[n]) for n in names}
    per_fold = [(fold.label, {n: summarize(result.results[n][i]) for n in names})
                for i, fold in enumerate(result.folds)]
    interval = sharpe_edge(result, agent, seed)
    evidence = gather_evidence(result, agent, n_trials=n_trials)
    doc = _metrics_document(result, names, title, agent, total, interval, evidence)
    figures = report_figures(result, names, agent, combined, band=evidence.equity_band)
    page = report_html(title, doc, figures, total, per_fold, names, agent, interval, evidence.lines(agent))

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(html=out_dir / "report.html", png=out_dir / "equity.png",
                        weights_csv=out_dir / "weights.csv", metrics_json=out_dir / "metrics.json")
    paths.html.write_text(page, encoding="utf-8")
    paths.metrics_json.write_text(json.dumps(doc, indent=2, allow_nan=False), encoding="utf-8")
    _write_weights(paths.weights_csv, combined[agent])
    _write_equity(out_dir / "equity.csv", names, combined)
    write_png(paths.png, names, agent, combined, title,
              [r.dates[0].astype("datetime64[D]") for r in result.results[agent][1:]], band=evidence.equity_band)
    return paths
