"""``sacfolio paper``: paper-trade the strategy book bar by bar into a SQLite ledger."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from sacfolio.cli.app import app, console

__all__ = ["paper", "default_home"]


def default_home(home: str | None) -> str:
    return home or os.environ.get("SACFOLIO_HOME") or "./models"


def _symbols(text: str | None) -> tuple[str, ...] | None:
    return None if not text else tuple(s.strip() for s in text.split(",") if s.strip())


@app.command(help="Paper-trade the strategy book: each bar the promoted meta-controller (or the static "
                  "weights of --static when none is promoted) allocates across the strategy zoo, the targets "
                  "are netted into one order per instrument, filled by the simulated broker, and every bar, "
                  "order, fill, trade (with its strategies), position and account snapshot goes to the "
                  "SQLite ledger --db. Restart it after a crash: it resumes where the ledger ends.")
def paper(
    synthetic: Annotated[bool, typer.Option("--synthetic", help="Trade synthetic 5-minute bars (the default "
                                            "when no --file is given).")] = False,
    bars: Annotated[int, typer.Option("--bars", min=2, help="Synthetic bars to generate.")] = 2000,
    file: Annotated[Optional[Path], typer.Option("--file", help="Replay this bar file (CSV/Parquet: time, "
                                                 "symbol, open, high, low, close[, bid, ask, volume]).")] = None,
    speed: Annotated[float, typer.Option(min=0.0, help="Bars per second (0: as fast as possible; 1/300 is "
                                         "real time for 5-minute bars).")] = 0.0,
    db: Annotated[Optional[Path], typer.Option(help="Ledger file (default <home>/paper.sqlite3).")] = None,
    home: Annotated[Optional[str], typer.Option(help="Model registry (default $SACFOLIO_HOME or ./models).")] = None,
    model: Annotated[str, typer.Option(help="Meta-controller model name in the registry.")] = "meta_sac",
    static: Annotated[Optional[Path], typer.Option(help="YAML/JSON {strategies: {name: weight}} of the "
                                                   "fallback weights (default: built-in).")] = None,
    symbols: Annotated[Optional[str], typer.Option(help="Comma-separated symbols of the generator "
                                                   "(default 10 stocks of the embedded sample).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic bars.")] = 0,
    max_bars: Annotated[Optional[int], typer.Option(min=1, help="Stop after this many new bars.")] = None,
    stall_seconds: Annotated[float, typer.Option(min=0.0, help="Report a source without a new bar for "
                                                 "this long.")] = 30.0,
) -> None:
    from sacfolio.env.allocation_run import AllocationConfig
    from sacfolio.env.allocation_state import zoo_strategies
    from sacfolio.paper.allocators import select_allocator
    from sacfolio.paper.ledger import Ledger
    from sacfolio.paper.loop import PaperLoop
    from sacfolio.paper.reconcile import reconcile
    from sacfolio.paper.sources import bar_stream, load_source_bars

    if file is not None and synthetic:
        raise typer.BadParameter("give --synthetic or --file, not both")
    config = AllocationConfig()
    strategies = zoo_strategies(config.rules)
    source_bars = load_source_bars(path=None if file is None else str(file), n_bars=bars,
                                   symbols=_symbols(symbols), seed=seed)
    root = default_home(home)
    selection = select_allocator(home=root, model=model, strategies=strategies.names, config=config,
                                 static_weights=static)
    path = db or Path(root) / "paper.sqlite3"
    console.print(f"state_dim={config.state.state_dim(len(strategies))}, action_dim={len(strategies)}; "
                  f"strategies: {', '.join(strategies.names)}")
    console.print(f"allocation: source: {selection.source} ({selection.reason})")
    console.print(f"bars: {source_bars.source}, {len(source_bars.times)} bars of {', '.join(source_bars.symbols)}; "
                  f"ledger {path}")
    ledger = Ledger.open(path)
    loop = PaperLoop(ledger, symbols=source_bars.symbols, strategies=strategies, config=config,
                     allocate=selection.allocate, source=selection.source, reason=selection.reason,
                     fallback=selection.fallback, stall_seconds=stall_seconds)
    summary = loop.run(bar_stream(source_bars, loop.broker.instruments, speed=speed), max_bars=max_bars)
    check = reconcile(ledger)
    console.print(f"processed {summary.processed} bars ({summary.skipped_on_resume} already in the ledger, "
                  f"{summary.rejected_bars} rejected); NAV {check.nav or 0.0:,.2f}; {check.trades} trades; "
                  f"reconciled: {'yes' if check.ok else 'NO: ' + '; '.join(check.problems)}")
    ledger.close()
    if not check.ok:
        raise typer.Exit(1)
