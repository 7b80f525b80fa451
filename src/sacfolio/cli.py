"""The ``sacfolio`` command line: a thin layer over train, evaluate and registry.

Errors a user can fix (bad data, a window outside the data, a bad setting) print one
paragraph to stderr and exit with code 2; nothing is written half-way.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from sacfolio.exceptions import ConfigError, SacfolioError

app = typer.Typer(
    name="sacfolio",
    help=(
        "Soft Actor-Critic portfolio agents: train on weekly prices, validate walk-forward "
        "against classical portfolios, register versions and serve them.\n\n"
        "Start with [bold]sacfolio demo[/bold]: it trains on the embedded S&P 500 sample "
        "(20 stocks, 1990-2022, no download), backtests 2015-2022 out of sample and writes an "
        "HTML report."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
console = Console() if Console().is_terminal else Console(width=150)  # piped: don't cut tables at 80
err_console = Console(stderr=True)

DataOpt = Annotated[Optional[Path], typer.Option(
    "--data", help="CSV or Parquet of prices (wide: date + one close column per symbol; long: "
    "date,symbol,close[,open,high,low,volume]). Default: the embedded S&P 500 sample.",
    show_default=False)]
StartOpt = Annotated[Optional[str], typer.Option(help="Use data from this date on (ISO, e.g. 2005-01-01).")]
EndOpt = Annotated[Optional[str], typer.Option(help="Use data up to this date (ISO).")]
SeedOpt = Annotated[int, typer.Option(help="Seed of everything random; the same seed gives the same result on CPU.")]
YearsOpt = Annotated[str, typer.Option(
    "--eval-years", help="Test years, one walk-forward fold each: '2015-2022', '2021,2022' or '2022'.")]
StepsOpt = Annotated[int, typer.Option(
    "--steps", min=1, help="SAC environment steps (one gradient update each) for the first fold.")]
FoldStepsOpt = Annotated[int, typer.Option(
    "--fold-steps", min=1, help="Steps for each later fold, warm-started from the previous fold.")]
VariantOpt = Annotated[str, typer.Option(
    "--variant", help="State: 'sac_lstm' / 'sac_patchtst' (seed 001: sentiment, fundamentals and a "
    "walk-forward LSTM / PatchTST forecast per stock) or 'sac_price' (trailing returns and volatility).")]
NewsOpt = Annotated[Optional[Path], typer.Option(
    "--news", help="News items (JSONL/JSON/Parquet: timestamp, symbol(s), headline) or a "
    "daily_sentiment.parquet, for the seed 001 variants.", show_default=False)]
FundamentalsOpt = Annotated[Optional[Path], typer.Option(
    "--fundamentals", help="Folder of cached Alpha Vantage responses (INCOME_STATEMENT, BALANCE_SHEET, "
    "EARNINGS) for the seed 001 variants.", show_default=False)]
AuxOpt = Annotated[bool, typer.Option("--aux/--no-aux", help="Auxiliary heads predicting each stock's "
                                      "1- and 4-week return, trained beside the policy (seed 003).")]
AuxShortOpt = Annotated[float, typer.Option(min=0.0, help="Weight of the 1-week aux loss.")]
AuxLongOpt = Annotated[float, typer.Option(min=0.0, help="Weight of the 4-week aux loss.")]
UnsafeLrOpt = Annotated[bool, typer.Option("--allow-unsafe-lr", help="Allow learning rates above 1e-3 "
                                           "(refused by default: they blew up seed 004's run).")]
AgentsOpt = Annotated[str, typer.Option("--agents", help="Learners trained and backtested on every fold: "
                                        "'sac' or 'sac,ppo' (PPO is seed 001's baseline on the same state).")]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")]
HomeOpt = Annotated[Optional[str], typer.Option(
    "--home", help="Model registry root (path or fsspec URL). Default: $SACFOLIO_HOME or ./models.")]


def _load_panel(data: Path | None, start: str | None, end: str | None):
    from sacfolio.data import load_prices, load_sp500_sample

    if data is None:
        return load_sp500_sample(start=start, end=end)
    return load_prices(data, start=start, end=end)


def _configs(*, aux: bool = True, aux_coef_short: float = 0.01, aux_coef_long: float = 0.01,
             allow_unsafe_lr: bool = False):
    """The environment and SAC settings (seed 001's, with the portfolio reward scale)."""
    import dataclasses

    from sacfolio.env.config import EnvConfig
    from sacfolio.train.pipeline import PORTFOLIO_SAC

    return EnvConfig(), dataclasses.replace(PORTFOLIO_SAC, aux=aux, aux_coef_short=aux_coef_short,
                                            aux_coef_long=aux_coef_long, allow_unsafe_lr=allow_unsafe_lr)


def _evaluate(*, data, start, end, eval_years, steps, fold_steps, seed, baselines, out, progress,
              title: str, variant: str = "sac_lstm", news=None, fundamentals=None, synthetic: bool = False,
              agents: str = "sac", sac_options: dict | None = None):
    """Walk-forward run + report; shared by ``demo`` and ``evaluate``."""
    from sacfolio.evaluate.baselines import BASELINES
    from sacfolio.evaluate.folds import parse_years
    from sacfolio.evaluate.report import edge_summary, print_summary, write_report
    from sacfolio.evaluate.walkforward import WalkForwardConfig, run_walk_forward

    from sacfolio.train.pipeline import VARIANTS, FeatureSources

    t0 = time.perf_counter()
    if variant not in VARIANTS:
        raise ConfigError(f"unknown --variant {variant!r}; choose from {', '.join(VARIANTS)}")
    if synthetic:
        from sacfolio.data.synthetic import FactorMarketConfig, factor_market

        market = factor_market(FactorMarketConfig(seed=seed), out_dir=Path(out) / "synthetic_market")
        panel, news, fundamentals = market.panel, market.news_path, market.fundamentals_dir
        console.print(f"[bold]synthetic market[/bold] planted sentiment IC {market.config.ic_sentiment}, "
                      f"fundamental IC {market.config.ic_fundamental}; news and Alpha Vantage files in "
                      f"{Path(out) / 'synthetic_market'}")
        if eval_years is None:
            last = int(str(panel.dates[-1])[:4])
            eval_years = f"{last - 1}-{last}"
    else:
        panel = _load_panel(data, start, end)
    sources = FeatureSources(news=None if news is None else str(news),
                             fundamentals=None if fundamentals is None else str(fundamentals))
    years = parse_years(eval_years or "2015-2022")
    names = tuple(BASELINES) if baselines is None else tuple(b.strip() for b in baselines.split(",") if b.strip())
    wf_config = WalkForwardConfig(years=tuple(years), train_steps=steps, fold_steps=fold_steps,
                                  baselines=names, seed=seed, variant=variant,
                                  agents=tuple(a.strip() for a in agents.split(",") if a.strip()))
    env_config, sac_config = _configs(**(sac_options or {}))
    console.print(f"[bold]data[/bold] {panel.source}: {panel.n_symbols} symbols, {panel.n_dates} weeks "
                  f"{panel.dates[0]}..{panel.dates[-1]}")
    state = {"sac_lstm": "seed 001 state with walk-forward LSTM forecasts",
             "sac_patchtst": "seed 001 state with walk-forward PatchTST forecasts",
             "sac_price": "price-only state"}[variant]
    console.print(f"[bold]variant[/bold] {variant}: {state}" + (
        "; this data has prices only, so sentiment and fundamentals are neutral (count 0, age maximal)"
        if variant != "sac_price" and sources.news is None and sources.fundamentals is None else ""))
    console.print(f"[bold]walk-forward[/bold] test years {years[0]}..{years[-1]} ({len(years)} folds), "
                  f"{steps} steps first fold, {fold_steps} per later fold, baselines: {', '.join(names)}")

    def on_fold(fold, model):
        tr = model.train_result
        console.print(f"  fold {fold.label}: trained on {model.train_window[0]}..{model.train_window[1]} "
                      f"({tr.n_updates} updates, {tr.wall_seconds:.0f}s, {tr.steps_per_second:.0f} steps/s)")

    result, model = run_walk_forward(panel, config=wf_config, env_config=env_config, sac_config=sac_config,
                                     progress=progress, log_dir=Path(out) / "tensorboard", on_fold=on_fold,
                                     sources=sources)
    if variant != "sac_price":
        _forecast_quality(panel, variant, result, progress)
    result.info["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    paths = write_report(result, Path(out), agent="sac", title=title)
    # the whole span and, for longer runs, the last two years
    print_summary(result, console, agent="sac", since=f"{years[-1] - 1}-01-01" if len(years) > 2 else None)
    console.print(f"[bold]edge[/bold] {edge_summary(result, agent='sac', seed=seed)}")
    health = result.info.get("health") or {}
    statuses = {f"{i['agent']} {i['fold']}": i.get("health") for i in result.info["training"]}
    bad = {k: v for k, v in statuses.items() if v not in ("ok", None)}
    console.print(f"[bold]training health[/bold] {len(statuses)} runs, "
                  + ("all ok" if not bad else f"not ok: {bad}")
                  + f"; last SAC run: {health.get('status', 'not monitored')}, {health.get('checks', 0)} checks, "
                  f"{len(health.get('findings', []))} findings")
    console.print(f"[bold]report[/bold] {paths.html}\n[bold]equity chart[/bold] {paths.png}\n"
                  f"[bold]weights[/bold] {paths.weights_csv}\n[bold]metrics[/bold] {paths.metrics_json}")
    return result, model, panel, paths


def _forecast_quality(panel, variant: str, result, progress: bool) -> None:
    """Per-year quality of the walk-forward forecasts (read from the cache the run filled)."""
    from sacfolio.features.forecast import ForecastConfig, forecast_quality, format_quality_table, \
        walk_forward_forecasts
    from sacfolio.train.pipeline import default_cache_dir

    forecasts = walk_forward_forecasts(panel, ForecastConfig(model=variant.removeprefix("sac_")),
                                       cache_dir=default_cache_dir(), progress=progress)
    rows = forecast_quality(panel, forecasts)
    result.info["forecast_quality"] = [r._asdict() for r in rows]
    console.print(format_quality_table(rows, title=f"{variant}: forecast quality per year "
                                       "(rank IC across stocks, hit rate; momentum = trailing 52-week return)"),
                  highlight=False)


@app.command()
def demo(
    data: DataOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    eval_years: YearsOpt = None,
    variant: VariantOpt = "sac_lstm",
    news: NewsOpt = None,
    fundamentals: FundamentalsOpt = None,
    synthetic: Annotated[bool, typer.Option(
        "--synthetic", help="Run on a generated factor market whose news and fundamentals carry a known "
        "amount of information (written to disk and read back through the real loaders).")] = False,
    steps: StepsOpt = 10_000,
    fold_steps: FoldStepsOpt = 5_000,
    seed: SeedOpt = 0,
    baselines: Annotated[Optional[str], typer.Option(help="Comma-separated baselines (default: all).")] = None,
    out: Annotated[Path, typer.Option(help="Directory for the report, weights and TensorBoard logs.")] = Path("runs/demo"),
    progress: ProgressOpt = True,
    agents: AgentsOpt = "sac",
    aux: AuxOpt = True,
    aux_coef_short: AuxShortOpt = 0.01,
    aux_coef_long: AuxLongOpt = 0.01,
    allow_unsafe_lr: UnsafeLrOpt = False,
    register: Annotated[bool, typer.Option("--register/--no-register",
                                           help="Save the last fold's model in the registry and run the promotion gate.")] = True,
    home: HomeOpt = None,
) -> None:
    """Train SAC walk-forward, compare it with classical portfolios out of sample, report, register.

    Uses the embedded S&P 500 sample unless --data is given. For each test year the agent
    trains only on earlier weeks; the report lands in --out and the last fold's model is
    saved in the registry and put through the promotion gate.
    """
    from sacfolio.registry import Registry
    from sacfolio.registry.training import register_model

    t0 = time.perf_counter()
    result, model, panel, _ = _evaluate(
        data=data, start=start, end=end, eval_years=eval_years, steps=steps, fold_steps=fold_steps,
        seed=seed, baselines=baselines, out=out, progress=progress, title=f"sacfolio demo ({variant})",
        variant=variant, news=news, fundamentals=fundamentals, synthetic=synthetic, agents=agents,
        sac_options=dict(aux=aux, aux_coef_short=aux_coef_short, aux_coef_long=aux_coef_long,
                         allow_unsafe_lr=allow_unsafe_lr))
    if register:
        # The last fold's model saw only data before the last test year, so gating it on
        # that year is out of sample for it.
        registry = _open_registry(home, variant)
        last = result.folds[-1]
        version, decision = register_model(
            model, name=variant, registry=registry, panel=panel, window=last,
            metadata={"training": {"mode": "walk-forward", "seed": seed, "steps": steps,
                                   "fold_steps": fold_steps, "eval_years": eval_years},
                      "seed": seed, "metrics": _fold_metrics(result, last.label)})
        console.print(f"[bold]registry[/bold] {registry.root}: saved {variant} version {version}")
        console.print(f"[bold]gate[/bold] {decision.summary()}")
        if model.sac_config.aux:
            aux_problems = [p for p in decision.health_problems if p.startswith("aux heads")]
            console.print("[bold]aux validation[/bold] " + (
                "passed: predictions non-zero, finite, within +-1 and varying across the gate window's states"
                if not aux_problems else "FAILED: " + "; ".join(aux_problems)))
    console.print(f"[bold]demo finished[/bold] in {time.perf_counter() - t0:.0f}s")


@app.command()
def evaluate(
    data: DataOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    eval_years: YearsOpt = "2015-2022",
    variant: VariantOpt = "sac_lstm",
    news: NewsOpt = None,
    fundamentals: FundamentalsOpt = None,
    steps: StepsOpt = 10_000,
    fold_steps: FoldStepsOpt = 5_000,
    seed: SeedOpt = 0,
    baselines: Annotated[Optional[str], typer.Option(help="Comma-separated baselines (default: all).")] = None,
    out: Annotated[Path, typer.Option(help="Directory for the report.")] = Path("runs/evaluate"),
    agents: AgentsOpt = "sac",
    aux: AuxOpt = True,
    aux_coef_short: AuxShortOpt = 0.01,
    aux_coef_long: AuxLongOpt = 0.01,
    allow_unsafe_lr: UnsafeLrOpt = False,
    progress: ProgressOpt = True,
) -> None:
    """Walk-forward backtest of the agent and the baselines, with a report (no registration).

    Expanding window: for each test year the agent trains only on earlier data, then the
    agent and every baseline run through the same cost code.
    """
    _evaluate(data=data, start=start, end=end, eval_years=eval_years, steps=steps, fold_steps=fold_steps,
              seed=seed, baselines=baselines, out=out, progress=progress,
              title=f"sacfolio walk-forward evaluation ({variant})", variant=variant, news=news,
              fundamentals=fundamentals, agents=agents,
              sac_options=dict(aux=aux, aux_coef_short=aux_coef_short, aux_coef_long=aux_coef_long,
                               allow_unsafe_lr=allow_unsafe_lr))


@app.command()
def train(
    model: Annotated[str, typer.Option("--model", help="Model name in the registry, which is also its "
                                       "state variant: sac_lstm, sac_patchtst or sac_price.")] = "sac_lstm",
    mode: Annotated[str, typer.Option(help="'full': from scratch on all data up to --until. 'finetune': "
                                      "continue the current version on the last --finetune-weeks.")] = "full",
    data: DataOpt = None,
    start: StartOpt = None,
    until: Annotated[Optional[str], typer.Option(help="Train on data up to this date (default: all).")] = None,
    steps: StepsOpt = 10_000,
    seed: SeedOpt = 0,
    finetune_weeks: Annotated[int, typer.Option(min=4, help="finetune: most recent weeks to train on.")] = 26,
    finetune_lr: Annotated[Optional[float], typer.Option(help="finetune: learning rate (default: the model's).")] = None,
    gate_weeks: Annotated[int, typer.Option(min=8, help="Promotion gate window: the last N weeks of the data.")] = 104,
    min_confidence: Annotated[float, typer.Option(
        help="Promote only if the bootstrap probability that the candidate's CAGR is higher reaches this.")] = 0.0,
    force: Annotated[Optional[str], typer.Option("--force", metavar="REASON",
                                                 help="Promote regardless of the gate, recording REASON.")] = None,
    news: NewsOpt = None,
    fundamentals: FundamentalsOpt = None,
    lr: Annotated[Optional[float], typer.Option(
        "--lr", help="Learning rate of actor, critic and alpha (default 3e-4; SAC's safe range is 1e-5..3e-4, "
        "above 1e-3 needs --allow-unsafe-lr).")] = None,
    aux: AuxOpt = True,
    aux_coef_short: AuxShortOpt = 0.01,
    aux_coef_long: AuxLongOpt = 0.01,
    allow_unsafe_lr: UnsafeLrOpt = False,
    home: HomeOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Train a model (full or finetune), save it as a registry version, run the promotion gate.

    The new version becomes `current` only if it beats the current version's CAGR on the
    same window and its weights are healthy.
    """
    from sacfolio.registry.training import train_and_register
    from sacfolio.train.pipeline import FeatureSources

    panel = _load_panel(data, start, None)
    sources = FeatureSources(news=None if news is None else str(news),
                             fundamentals=None if fundamentals is None else str(fundamentals))
    env_config, sac_config = _configs(aux=aux, aux_coef_short=aux_coef_short, aux_coef_long=aux_coef_long,
                                      allow_unsafe_lr=allow_unsafe_lr)
    if lr is not None:
        import dataclasses

        sac_config = dataclasses.replace(sac_config, actor_lr=lr, critic_lr=lr, alpha_lr=lr)
    registry = _open_registry(home, model)
    outcome = train_and_register(
        name=model, mode=mode, panel=panel, registry=registry, steps=steps, seed=seed, until=until,
        finetune_weeks=finetune_weeks, finetune_lr=finetune_lr, gate_weeks=gate_weeks,
        min_confidence=min_confidence, force_reason=force, env_config=env_config, sac_config=sac_config,
        sources=sources, progress=progress)
    tr = outcome.model.train_result
    console.print(f"trained {model} ({mode}) on {outcome.model.train_window[0]}..{outcome.model.train_window[1]}: "
                  f"{tr.n_updates} updates in {tr.wall_seconds:.0f}s")
    console.print(f"[bold]registry[/bold] {registry.root}: version {outcome.version}")
    console.print(f"[bold]gate[/bold] {outcome.decision.summary()}")


def _open_registry(home: str | None, name: str):
    from sacfolio.registry import Registry
    from sacfolio.registry.registry import registry_root_for

    return Registry(home) if home else Registry(registry_root_for(name))


def _fold_metrics(result, label: str) -> dict:
    from sacfolio.evaluate.metrics import summarize

    k = [f.label for f in result.folds].index(label)
    return {name: summarize(parts[k]).as_dict() for name, parts in result.results.items()}


features_app = typer.Typer(help="Compute, cache and inspect the per-stock state features.",
                            no_args_is_help=True)


def _features(data, start, end, variant, news, fundamentals, progress):
    from sacfolio.train.pipeline import VARIANTS, FeatureSources, build_features

    if variant not in VARIANTS:
        raise ConfigError(f"unknown --variant {variant!r}; choose from {', '.join(VARIANTS)}")
    panel = _load_panel(data, start, end)
    sources = FeatureSources(news=None if news is None else str(news),
                             fundamentals=None if fundamentals is None else str(fundamentals))
    return panel, build_features(panel, variant, sources=sources, progress=progress)


def _print_coverage(panel, feats) -> None:
    from rich.table import Table

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
    from rich.table import Table

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


def _registry_app():
    from sacfolio.registry.cli import make_registry_app
    from sacfolio.registry.training import default_gate_setup

    return make_registry_app(gate_factory=default_gate_setup)


app.add_typer(_registry_app(), name="registry",
              help="List, show, promote, roll back and clean model versions.")


from sacfolio.doctor import doctor_command  # noqa: E402  (cheap: imports torch lazily)
from sacfolio.inspect import inspect_command  # noqa: E402

app.command("inspect", help="Per-layer health of a checkpoint (a version directory, a .pt state dict "
            "or a Stable-Baselines3 .zip); --repair OUT writes a repaired copy.")(inspect_command)
from sacfolio.serve.command import serve_command  # noqa: E402

app.command("serve", help="Start the brain API (FastAPI + uvicorn): train/finetune jobs, inference, "
            "health, status, the dashboard at /dashboard/ and the retraining scheduler.")(serve_command)
app.command("doctor", help="Check Python, torch and the APIs sacfolio relies on, and that the data "
            "and model directories are usable; prints the fix for each problem.")(doctor_command)


_shown_warnings: set[str] = set()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print each distinct warning once (features are rebuilt for the report and the gate)."""
    text = str(message)
    if text not in _shown_warnings:
        _shown_warnings.add(text)
        err_console.print(f"[yellow]warning:[/yellow] {text}", highlight=False)


def main() -> None:
    """Console entry point: maps SacfolioError to a one-paragraph message and exit code 2."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)  # one thread per process beats two here (DESIGN §4)
    warnings.showwarning = _show_warning
    try:
        code = app(standalone_mode=False)  # click returns a command's typer.Exit code here
    except SacfolioError as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors arrive here when standalone_mode=False
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if isinstance(code, int) and code != 0:
        sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
