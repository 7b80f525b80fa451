"""``sacfolio meta evaluate | train``: the strategy meta-controller, walk-forward and registered."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from sacfolio.cli.app import console

__all__ = ["meta_app"]

meta_app = typer.Typer(help="The SAC meta-controller that allocates across the strategy zoo every bar: "
                            "walk-forward evaluation against baselines, training into the registry.",
                       no_args_is_help=True)

BarsOpt = Annotated[Optional[Path], typer.Option("--bars", help="Bar file (CSV/Parquet); default synthetic "
                                                 "5-minute bars of 10 stocks.")]
SessionsOpt = Annotated[int, typer.Option(min=3, help="Synthetic sessions (78 bars each).")]
StepsOpt = Annotated[int, typer.Option(min=1, help="SAC steps of the first fold (and of `train`).")]
StaticOpt = Annotated[Optional[Path], typer.Option(help="YAML/JSON {strategies: {name: weight}}: the static "
                                                   "baseline and the paper fallback.")]


def _inputs(bars: Path | None, sessions: int, seed: int):
    from sacfolio.env.allocation_run import AllocationConfig, allocation_inputs
    from sacfolio.env.allocation_state import zoo_strategies
    from sacfolio.paper.sources import load_source_bars

    config = AllocationConfig()
    strategies = zoo_strategies(config.rules)
    source = load_source_bars(path=None if bars is None else str(bars), n_bars=sessions * 78, seed=seed)
    console.print(f"state_dim={config.state.state_dim(len(strategies))}, action_dim={len(strategies)}; "
                  f"{len(source.times)} bars of {', '.join(source.symbols)} ({source.source})")
    return config, allocation_inputs(source, strategies, config, exact=False), source


def _table(rows: list[dict]) -> Table:
    table = Table(title="meta-controller vs baselines (walk-forward test bars, spread + commission)")
    for column in ("method", "total return", "Sharpe", "max drawdown", "costs $", "costs bps", "turnover/bar"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for r in rows:
        table.add_row(r["method"], f"{r['total_return']:+.2%}", f"{r['sharpe']:.2f}", f"{r['max_drawdown']:.2%}",
                      f"{r['costs']:,.0f}", f"{r['cost_bps']:.1f}", f"{r['turnover_per_bar']:.2%}")
    return table


def _write(out: Path, evaluation, rows: list[dict]) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    by_strategy = {}
    for method in evaluation.runs:
        pnl, cost = evaluation.stacked(method, "strategy_pnl"), evaluation.stacked(method, "strategy_cost")
        names = [*evaluation.strategies, "CASH"]
        by_strategy[method] = {n: {"pnl": float(pnl[:, k].sum()), "cost": float(cost[:, k].sum())}
                               for k, n in enumerate(names)}
    from sacfolio.evaluate.report.meta import meta_report_html

    report = {"folds": evaluation.folds, "summary": rows, "by_strategy": by_strategy}
    (out / "meta_report.json").write_text(json.dumps(report, indent=2))
    (out / "meta_report.html").write_text(meta_report_html(evaluation, rows, report), encoding="utf-8")
    with (out / "allocations.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["method", "time", *evaluation.strategies])
        for method in evaluation.runs:
            times, shares = evaluation.stacked(method, "times"), evaluation.stacked(method, "shares")
            writer.writerows([method, str(t), *(f"{x:.6f}" for x in s)] for t, s in zip(times, shares))
    return report


@meta_app.command("evaluate", help="Walk-forward: train SAC before each test fold, then it and the baselines "
                                   "(static, equal, best recent Sharpe, exponentiated gradient, AdaHedge) trade "
                                   "the fold on the same bars and broker; prints the table, writes "
                                   "meta_report.html (equity, allocation and P&L charts), meta_report.json "
                                   "(P&L and costs by strategy) and allocations.csv.")
def evaluate(bars: BarsOpt = None, sessions: SessionsOpt = 30, steps: StepsOpt = 3000,
             fold_steps: Annotated[int, typer.Option(min=1)] = 1500, folds: Annotated[int, typer.Option(min=1)] = 2,
             test_sessions: Annotated[int, typer.Option(min=2)] = 5, seed: int = 0, static: StaticOpt = None,
             out: Annotated[Path, typer.Option(help="Report directory.")] = Path("runs/meta"),
             progress: Annotated[bool, typer.Option("--progress/--no-progress")] = False) -> None:
    from sacfolio.workflows.meta import MetaSettings, evaluate_meta, summary_rows

    config, inputs, _ = _inputs(bars, sessions, seed)
    settings = MetaSettings(steps=steps, fold_steps=fold_steps, folds=folds, test_sessions=test_sessions, seed=seed,
                            static_weights=None if static is None else str(static))
    evaluation = evaluate_meta(inputs, config, settings, progress=progress,
                               on_fold=lambda f, lo, hi: console.print(f"fold {f}: train bars < {lo}, test {lo}..{hi}"))
    rows = summary_rows(evaluation)
    console.print(_table(rows))
    for method in ("meta_sac", "static"):
        shares = {k.split("/", 1)[1]: v for k, v in next(r for r in rows if r["method"] == method).items()
                  if k.startswith("mean_share/")}
        console.print(f"{method} mean allocation: " + ", ".join(f"{k} {v:.1%}" for k, v in shares.items()))
    report = _write(out, evaluation, rows)
    for method in ("meta_sac", "static"):
        parts = report["by_strategy"][method]
        console.print(f"{method} gross P&L / costs by strategy ($): " + ", ".join(
            f"{k} {v['pnl']:+,.0f}/{v['cost']:,.0f}" for k, v in parts.items() if k != "CASH"))
    console.print(f"report: {out / 'meta_report.html'}, {out / 'meta_report.json'}, {out / 'allocations.csv'}")


@meta_app.command("train", help="Train the meta-controller on all bars before the last --test-sessions, "
                                "register it (default name meta_sac) and run the promotion gate on those sessions.")
def train(bars: BarsOpt = None, sessions: SessionsOpt = 30, steps: StepsOpt = 3000,
          test_sessions: Annotated[int, typer.Option(min=2)] = 5, seed: int = 0, static: StaticOpt = None,
          home: Annotated[Optional[str], typer.Option(help="Registry (default $SACFOLIO_HOME or ./models).")] = None,
          name: str = "meta_sac", force: Annotated[Optional[str], typer.Option(metavar="REASON")] = None,
          progress: Annotated[bool, typer.Option("--progress/--no-progress")] = False) -> None:
    from sacfolio.cli.paper import default_home
    from sacfolio.registry.registry import Registry
    from sacfolio.workflows.meta import MetaSettings
    from sacfolio.workflows.meta_gate import register_meta

    config, inputs, source = _inputs(bars, sessions, seed)
    settings = MetaSettings(steps=steps, test_sessions=test_sessions, seed=seed,
                            static_weights=None if static is None else str(static))
    registry = Registry(default_home(home))
    outcome = register_meta(inputs, config, settings, registry, name=name, force_reason=force, progress=progress,
                            data={"source": source.source, "bars": len(source.times), "symbols": list(source.symbols)})
    verdict = "promoted" if outcome.decision.promoted else "kept, not promoted"
    console.print(f"{name} version {outcome.version}: {verdict} ({outcome.decision.reason})")
