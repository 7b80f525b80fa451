"""``sacfolio features build|show|ic``: compute, cache, look at and score the per-stock state features."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from sacfolio.cli.app import app, console
from sacfolio.cli.options import DataOpt, EndOpt, FundamentalsOpt, NewsOpt, ProgressOpt, StartOpt, VariantOpt, \
    YearsOpt
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


def _ic_table(table, title: str) -> Table:
    """The rich table of a :class:`~sacfolio.features.ic.ICTable`."""
    out = Table(title=title, caption="IC: Spearman correlation across stocks of the feature at t with the "
                "return t->t+1; wf signed: each year's ICs times the sign of all earlier weeks' mean IC")
    for col in ("feature", "weeks", "mean IC", "t-stat", "weeks IC>0", "wf signed IC",
                f"IC x100 per year {table.years[0]}..{table.years[-1]}"):
        out.add_column(col, justify="left" if col in ("feature",) or col.startswith("IC x100") else "right")
    for row in table.rows:
        yearly = " ".join("·" if v != v else f"{100 * v:+.0f}" for v in row.yearly_ic)
        out.add_row(row.feature, str(row.n_weeks), f"{row.mean_ic:+.4f}", f"{row.t_stat:+.2f}",
                    f"{row.hit_rate:.1%}", f"{row.signed_ic:+.4f}", yearly)
    return out


@features_app.command("ic")
def features_ic(
    variant: VariantOpt = "sac_factor", data: DataOpt = None, start: StartOpt = None, end: EndOpt = None,
    news: NewsOpt = None, fundamentals: FundamentalsOpt = None, eval_years: YearsOpt = "2005-2022",
    out: Annotated[Optional[Path], typer.Option(help="Also write the table as CSV here (one ic_<year> "
                                                "column per test year).", show_default=False)] = None,
) -> None:
    """Walk-forward rank IC of each feature of --variant: does it order next week's returns?

    For every week t of the test years (a week belongs to the year its return lands in),
    the IC is the Spearman rank correlation, across the stocks with a value at t, between
    the feature at t and each stock's log return from t to t+1. The table gives its mean
    over all test weeks, the t-stat (mean / sd * sqrt(weeks); |t| > 2 is unlikely to be
    noise), the share of weeks with IC > 0, the mean IC of each year (x100) and the
    'wf signed IC': the IC of trading the feature in the direction its mean IC had in all
    weeks before each year. It is purely out of sample: features at t use data up to t
    only and nothing is fitted. For weekly large-cap returns a mean |IC| of 0.02-0.05
    that holds across years is a useful signal; a feature should enter the default state
    only with such evidence.
    """
    import csv

    from sacfolio.evaluate.folds import parse_years
    from sacfolio.features.ic import rank_ic_table

    years = parse_years(eval_years or "2005-2022")
    panel, feats = _features(data, start, end, variant, news, fundamentals, False)
    table = rank_ic_table(feats, panel, years)
    console.print(_ic_table(table, f"{variant}: walk-forward rank IC vs next week's return, "
                                   f"{years[0]}-{years[-1]} ({panel.n_symbols} stocks, {panel.source})"))
    if out is not None:
        records = table.to_records()
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
        console.print(f"wrote {out}")


app.add_typer(features_app, name="features")
