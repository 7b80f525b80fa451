"""The self-contained HTML page of the report: plotly.js embedded once, nothing fetched."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from typing import Any

from sacfolio.evaluate.bootstrap import Interval, verdict
from sacfolio.evaluate.metrics import CONVENTIONS, Metrics
from sacfolio.evaluate.report.columns import BENCHMARK, CEILING_PREFIX, COLUMNS, format_value
from sacfolio.evaluate.report.advisors import advisors_html

__all__ = ["forecast_quality_html", "holdout_decision_words", "metrics_table_html", "page_start", "report_html"]


def metrics_table_html(metrics: dict[str, Metrics], names: list[str], agent: str) -> str:
    """One row per strategy of ``names``: the :data:`COLUMNS` metrics and the number of weeks."""
    head = "".join(f"<th>{h}</th>" for _, h, _ in COLUMNS)
    rows = []
    for n in names:
        m = metrics[n]
        cells = "".join(f"<td>{format_value(getattr(m, k), kind)}</td>" for k, _, kind in COLUMNS)
        cls = ' class="agent"' if n == agent else (' class="ceiling"' if n.startswith(CEILING_PREFIX) else "")
        label = html.escape(n) + (" (uses the future)" if n.startswith(CEILING_PREFIX) else "")
        rows.append(f"<tr{cls}><th>{label}</th>{cells}<td>{m.n_periods}</td></tr>")
    return f"<table><tr><th>strategy</th>{head}<th>weeks</th></tr>{''.join(rows)}</table>"


_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{padding:3px 9px;border-bottom:1px solid #ddd;
text-align:right}tr th:first-child{text-align:left}tr.agent{font-weight:bold;background:#eef5ff}
tr.ceiling{color:#888}.verdict{font-size:1.15em;padding:0.6em 1em;background:#f4f4f4;border-left:4px solid #36c}
pre{background:#f8f8f8;padding:0.8em;overflow-x:auto}"""


def page_start(title: str) -> str:
    """A sacfolio page up to its heading: the style and plotly.js embedded once, nothing fetched."""
    from plotly.offline import get_plotlyjs

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<h1>{html.escape(title)}</h1>"""


def report_html(title: str, doc: dict[str, Any], figures: list[tuple[str, Any]], total: dict[str, Metrics],
                per_fold: list[tuple[str, dict[str, Metrics]]], names: list[str], agent: str,
                interval: Interval | str, evidence_lines: list[str] = ()) -> str:
    """The whole page: the edge over 1/N and the evidence behind it, the charts, metrics of the
    span and per fold, settings."""
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
    folds = "\n".join(f"<h3>Fold {html.escape(label)}</h3>{metrics_table_html(m, names, agent)}"
                      for label, m in per_fold)
    info = html.escape(json.dumps(doc["info"], indent=2, sort_keys=True))
    span = doc["span"]
    return f"""{page_start(title)}
<p>Out-of-sample walk-forward, {span['start']} to {span['end']}, {len(per_fold)} yearly fold(s),
{len(doc['symbols'])} symbols. Agent: <b>{html.escape(agent)}</b>.</p>
<h2>Edge over 1/N</h2>{boot}{_evidence_html(evidence_lines)}
<h2>Equity and drawdowns</h2>{plots}
<h2>Metrics, whole span</h2>{metrics_table_html(total, names, agent)}
<h2>Metrics per fold</h2>{folds}
<h2>Conventions</h2>
<p>{html.escape(CONVENTIONS)} Each fold is trained only on data before it (expanding window) and
backtested with the same env and cost code as training; weights are targets chosen at each
decision close (exported in weights.csv). The hindsight strategy reads the coming week's prices:
it is a ceiling, not a strategy (hidden in the charts until clicked in the legend).</p>
{holdout_html(doc["info"])}{forecast_quality_html(doc["info"])}{advisors_html(doc["info"])}<h2>Run settings</h2><pre>{info}</pre>
</body></html>
"""


def _evidence_html(lines: list[str]) -> str:
    """The seed band, gross vs net, Sharpe confidence and known-policy share, one item each."""
    if not lines:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f'<ul class="evidence">{items}</ul>'


def holdout_html(info: Mapping[str, Any]) -> str:
    """Per fold and member, the holdout check that let the agent trade its tilt or held it at the
    benchmark (runs with ``--holdout-weeks``), or nothing."""
    rows = [(r["fold"], r.get("member", 0), c) for r in info.get("training") or () for c in r.get("holdout") or ()]
    if not rows:
        return ""
    mixed = {c["fold"]: c for c in info.get("ensemble_holdout") or ()}
    if mixed:  # each fold's members, then the check of their mean action, which decided
        rows = [row for fold in dict.fromkeys(f for f, _, _ in rows)
                for row in [r for r in rows if r[0] == fold] + ([(fold, "mean action", mixed[fold])]
                                                                if fold in mixed else [])]

    def record(c: Mapping[str, Any]) -> str:
        r = c.get("record") or c
        return f"<td>{html.escape(str(r.get('since', c['window'][0])))}</td><td>{r['weeks']}</td><td>{r['t']:+.2f}</td>"

    body = "".join(
        f"<tr><td>{html.escape(str(fold))}</td><td>{member}</td><td>{html.escape(' .. '.join(c['window']))}</td>"
        f"<td>{c['weeks']}</td><td>{c['ic']:+.3f}</td><td>{c['t']:+.2f}</td>{record(c)}"
        f"<td>{_decision(c, mixed and member != 'mean action')}</td></tr>" for fold, member, c in rows)
    return ("<h2>Holdout checks</h2><p>Before each fold's model trades, its residual tilts are walked through weeks "
            "of its training window it was not trained on, and the weekly rank IC of tilt and next-week return is "
            "pooled with the model's earlier out-of-sample checks (a warm start's): the record's t-statistic must "
            f"reach {rows[0][2]['min_t']:g}, or the model holds the benchmark that fold"
            + (" (scaled sizing: short of it, the model trades t / "
               f"{rows[0][2]['min_t']:g} of its tilt, and holds the benchmark at t &le; 0)."
               if rows[0][2].get("sizing") == "scaled" else ".")
            + (" The seed ensemble trades its members' mean action, so that is what is checked: the "
               "<em>mean action</em> row, walked with the members' checked policies together, decides for "
               "every member; the member rows are each member's own check, for comparison." if mixed else "")
            + "</p>"
            "<table><tr><th>fold</th><th>member</th><th>holdout weeks</th><th>n</th><th>rank IC</th><th>t</th>"
            f"<th>record since</th><th>record n</th><th>record t</th><th>decision</th></tr>{body}</table>")


def _decision(check: Mapping[str, Any], own: bool) -> str:
    """A check's decision; ``own``: a member's own check, overruled by the ensemble's."""
    if not own:
        return holdout_decision_words(check)
    scale = _scale(check, "member_scale")
    return "would hold alone" if scale <= 0 else "would trade alone" if scale >= 1 else \
        f"would trade {scale:.0%} alone"


def holdout_decision_words(check: Mapping[str, Any]) -> str:
    """What a holdout check decided: "trades its tilt", "trades 45% of its tilt" (scaled
    sizing) or "holds the benchmark"."""
    scale = _scale(check, "scale")
    return "holds the benchmark" if scale <= 0 else "trades its tilt" if scale >= 1 else \
        f"trades {scale:.0%} of its tilt"


def _scale(check: Mapping[str, Any], key: str) -> float:
    """The share of its tilt a check's decision trades (a check from before scaled sizing: 0 or 1)."""
    trades = bool(check.get("member_trades", check["trades"]) if key == "member_scale" else check["trades"])
    return float(check.get(key, check.get("scale", 1.0))) if trades else 0.0


def forecast_quality_html(info: Mapping[str, Any]) -> str:
    """Per-year forecast quality table (variants with a forecast feature), or nothing."""
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
