"""``sacfolio features build|show``: compute, cache and look at the per-stock state features."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from sacfolio.cli.app import app, console
from sacfolio.cli.options import DataOpt, EndOpt, FundamentalsOpt, NewsOpt, ProgressOpt, StartOpt, VariantOpt
from sacfolio.exceptions import ConfigError

__all__ = ["features_app"]

features_app = typer.Typer(help="Compute, cache and inspect the per-stock state features.",
                           no_args_is_help=True)


def _features(data, start, end, variant, news, fundamentals, progress):
    from sacfolio.features.variants import FeatureSources, build_features, check_variant
    from sacfolio.workflows.evaluation import load_panel

    check_variant(variant)
    panel = load_panel(data, start, end)
    return panel, build_features(panel, variant, sources=FeatureSources.of(news, fundamentals), progress=progress)


def _print_coverage(panel, feats) -> None:
    console.print(f"[bold]{len(feats.dates)} dates x {len(feats.symbols)} symbols x {feats.n_features} "
                  f"features[/bold] ({feats.dates[0]}..{feats.dates[-1]}, source {panel.source})")
    table = Table(title="coverage: share of (date, symbol) cells computed from data; the rest are neutral 0")
    for col in ("feature", "coverage", "first date with data", "mean", "std"):
        table.add_column(col, justify="left" if col == "feature" else "right")
    for f, name in enumerate(feats.names):
        valid = feats.valid[:, :, f]
        rows_with = valid.any(axis=1)
        first = str(feats.dates[rows_with.argmax()]) if rows_with.any() else "never"
        vals = feats.values[:, :, f][valid]
        table.add_row(name, f"{valid.mean():.1%}", first, f"{vals.mean():+.4f}" if vals.size else "-",
                      f"{vals.std():.4f}" if vals.size else "-")
    console.print(table)


@features_app.command("build")
def features_build(
    variant: VariantOpt = "sac_lstm", data: DataOpt = None, start: StartOpt = None, end: EndOpt = None,
    news: NewsOpt = None, fundamentals: FundamentalsOpt = None, progress: ProgressOpt = True,
) -> None:
    """Compute the features of --variant (filling the forecast cache, $SACFOLIO_CACHE) and show coverage."""
    panel, feats = _features(data, start, end, variant, news, fundamentals, progress)
    _print_coverage(panel, feats)


@features_app.command("show")
def features_show(
    variant: VariantOpt = "sac_lstm", data: DataOpt = None, start: StartOpt = None, end: EndOpt = None,
    news: NewsOpt = None, fundamentals: FundamentalsOpt = None,
    symbol: Annotated[Optional[str], typer.Option(help="Symbol whose rows to print (default: the first).")] = None,
    rows: Annotated[int, typer.Option(min=1, help="How many of the last dates to print.")] = 5,
) -> None:
    """Shape, coverage per feature and the last few rows of one symbol (unscaled)."""
    panel, feats = _features(data, start, end, variant, news, fundamentals, False)
    _print_coverage(panel, feats)
    sym = symbol or feats.symbols[0]
    if sym not in feats.symbols:
        raise ConfigError(f"unknown --symbol {sym!r}; the data has {', '.join(feats.symbols)}")
    n = feats.symbols.index(sym)
    table = Table(title=f"{sym}: last {rows} dates")
    table.add_column("date")
    for name in feats.names:
        table.add_column(name, justify="right")
    for t in range(max(0, len(feats.dates) - rows), len(feats.dates)):
        table.add_row(str(feats.dates[t]), *(f"{v:+.4f}" if ok else "·" for v, ok in
                                              zip(feats.values[t, n], feats.valid[t, n])))
    console.print(table)


app.add_typer(features_app, name="features")
