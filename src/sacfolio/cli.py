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

from sacfolio.exceptions import SacfolioError

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
console = Console(stderr=False)
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
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")]
HomeOpt = Annotated[Optional[str], typer.Option(
    "--home", help="Model registry root (path or fsspec URL). Default: $SACFOLIO_HOME or ./models.")]


def _load_panel(data: Path | None, start: str | None, end: str | None):
    from sacfolio.data import load_prices, load_sp500_sample

    if data is None:
        return load_sp500_sample(start=start, end=end)
    return load_prices(data, start=start, end=end)


def _configs():
    """The environment and SAC settings (seed 001's, with the portfolio reward scale)."""
    from sacfolio.env.config import EnvConfig
    from sacfolio.train.pipeline import PORTFOLIO_SAC

    return EnvConfig(), PORTFOLIO_SAC


def _evaluate(*, data, start, end, eval_years, steps, fold_steps, seed, baselines, out, progress,
              title: str):
    """Walk-forward run + report; shared by ``demo`` and ``evaluate``."""
    from sacfolio.evaluate.baselines import BASELINES
    from sacfolio.evaluate.folds import parse_years
    from sacfolio.evaluate.report import print_summary, write_report
    from sacfolio.evaluate.walkforward import WalkForwardConfig, run_walk_forward

    t0 = time.perf_counter()
    panel = _load_panel(data, start, end)
    years = parse_years(eval_years)
    names = tuple(BASELINES) if baselines is None else tuple(b.strip() for b in baselines.split(",") if b.strip())
    wf_config = WalkForwardConfig(years=tuple(years), train_steps=steps, fold_steps=fold_steps,
                                  baselines=names, seed=seed)
    env_config, sac_config = _configs()
    console.print(f"[bold]data[/bold] {panel.source}: {panel.n_symbols} symbols, {panel.n_dates} weeks "
                  f"{panel.dates[0]}..{panel.dates[-1]}")
    console.print(f"[bold]walk-forward[/bold] test years {years[0]}..{years[-1]} ({len(years)} folds), "
                  f"{steps} steps first fold, {fold_steps} per later fold, baselines: {', '.join(names)}")

    def on_fold(fold, model):
        tr = model.train_result
        console.print(f"  fold {fold.label}: trained on {model.train_window[0]}..{model.train_window[1]} "
                      f"({tr.n_updates} updates, {tr.wall_seconds:.0f}s, {tr.steps_per_second:.0f} steps/s)")

    result, model = run_walk_forward(panel, config=wf_config, env_config=env_config, sac_config=sac_config,
                                     progress=progress, log_dir=Path(out) / "tensorboard", on_fold=on_fold)
    result.info["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    paths = write_report(result, Path(out), agent="sac", title=title)
    print_summary(result, console, agent="sac")
    last2 = f"{years[-1] - 1}-01-01" if len(years) > 2 else None
    if last2:
        print_summary(result, console, agent="sac", since=last2)
    console.print(f"[bold]report[/bold] {paths.html}\n[bold]equity chart[/bold] {paths.png}\n"
                  f"[bold]weights[/bold] {paths.weights_csv}\n[bold]metrics[/bold] {paths.metrics_json}")
    return result, model, panel, paths


@app.command()
def demo(
    data: DataOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    eval_years: YearsOpt = "2015-2022",
    steps: StepsOpt = 10_000,
    fold_steps: FoldStepsOpt = 5_000,
    seed: SeedOpt = 0,
    baselines: Annotated[Optional[str], typer.Option(help="Comma-separated baselines (default: all).")] = None,
    out: Annotated[Path, typer.Option(help="Directory for the report, weights and TensorBoard logs.")] = Path("runs/demo"),
    progress: ProgressOpt = True,
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
        seed=seed, baselines=baselines, out=out, progress=progress, title="sacfolio demo")
    if register:
        # The last fold's model saw only data before the last test year, so gating it on
        # that year is out of sample for it.
        registry = _open_registry(home, MODEL)
        last = result.folds[-1]
        version, decision = register_model(
            model, name=MODEL, registry=registry, panel=panel, window=last,
            metadata={"training": {"mode": "walk-forward", "seed": seed, "steps": steps,
                                   "fold_steps": fold_steps, "eval_years": eval_years},
                      "seed": seed, "metrics": _fold_metrics(result, last.label)})
        console.print(f"[bold]registry[/bold] {registry.root}: saved {MODEL} version {version}")
        console.print(f"[bold]gate[/bold] {decision.summary()}")
    console.print(f"[bold]demo finished[/bold] in {time.perf_counter() - t0:.0f}s")


@app.command()
def evaluate(
    data: DataOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    eval_years: YearsOpt = "2015-2022",
    steps: StepsOpt = 10_000,
    fold_steps: FoldStepsOpt = 5_000,
    seed: SeedOpt = 0,
    baselines: Annotated[Optional[str], typer.Option(help="Comma-separated baselines (default: all).")] = None,
    out: Annotated[Path, typer.Option(help="Directory for the report.")] = Path("runs/evaluate"),
    progress: ProgressOpt = True,
) -> None:
    """Walk-forward backtest of the agent and the baselines, with a report (no registration).

    Expanding window: for each test year the agent trains only on earlier data, then the
    agent and every baseline run through the same cost code.
    """
    _evaluate(data=data, start=start, end=end, eval_years=eval_years, steps=steps, fold_steps=fold_steps,
              seed=seed, baselines=baselines, out=out, progress=progress, title="sacfolio walk-forward evaluation")


@app.command()
def train(
    model: Annotated[str, typer.Option("--model", help="Model name in the registry.")] = "sac_price",
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
    home: HomeOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Train a model (full or finetune), save it as a registry version, run the promotion gate.

    The new version becomes `current` only if it beats the current version's CAGR on the
    same window and its weights are healthy.
    """
    from sacfolio.registry.training import train_and_register

    panel = _load_panel(data, start, None)
    env_config, sac_config = _configs()
    registry = _open_registry(home, model)
    outcome = train_and_register(
        name=model, mode=mode, panel=panel, registry=registry, steps=steps, seed=seed, until=until,
        finetune_weeks=finetune_weeks, finetune_lr=finetune_lr, gate_weeks=gate_weeks,
        min_confidence=min_confidence, force_reason=force, env_config=env_config, sac_config=sac_config,
        progress=progress)
    tr = outcome.model.train_result
    console.print(f"trained {model} ({mode}) on {outcome.model.train_window[0]}..{outcome.model.train_window[1]}: "
                  f"{tr.n_updates} updates in {tr.wall_seconds:.0f}s")
    console.print(f"[bold]registry[/bold] {registry.root}: version {outcome.version}")
    console.print(f"[bold]gate[/bold] {outcome.decision.summary()}")


MODEL = "sac_price"


def _open_registry(home: str | None, name: str):
    from sacfolio.registry import Registry
    from sacfolio.registry.registry import registry_root_for

    return Registry(home) if home else Registry(registry_root_for(name))


def _fold_metrics(result, label: str) -> dict:
    from sacfolio.evaluate.metrics import summarize

    k = [f.label for f in result.folds].index(label)
    return {name: summarize(parts[k]).as_dict() for name, parts in result.results.items()}


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
app.command("doctor", help="Check Python, torch and the APIs sacfolio relies on, and that the data "
            "and model directories are usable; prints the fix for each problem.")(doctor_command)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {message}", highlight=False)


def main() -> None:
    """Console entry point: maps SacfolioError to a one-paragraph message and exit code 2."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)  # one thread per process beats two here (DESIGN §4)
    warnings.showwarning = _show_warning
    try:
        app(standalone_mode=False)
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


if __name__ == "__main__":  # pragma: no cover
    main()
