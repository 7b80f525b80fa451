"""``sacfolio sweep``: a Ray Tune search over κ, η, γ, learning rates (...) on a validation
fold before the test years; and the ``--config FILE`` that ``train`` reads its result from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape

from sacfolio.cli.app import app, console
from sacfolio.cli.options import (TRADING, DataOpt, EndOpt, RayAddressOpt, SeedOpt, StartOpt, VariantOpt,
                                  WorkersOpt, YearsOpt, env_options)

__all__ = ["ConfigFileOpt", "sweep", "with_config_file"]

ConfigFileOpt = Annotated[Optional[Path], typer.Option(
    "--config", metavar="FILE", help="Settings from a run configuration file (the best_config.json of "
    "'sacfolio sweep'): its SAC and env settings and steps replace the options' defaults; options given "
    "on the command line win.", show_default=False)]

_CLI_NAMES = {"actor_lr": "lr", "critic_lr": "lr", "alpha_lr": "lr"}
"""SAC settings set by a differently named command-line option."""


def _given_on_command_line() -> set[str]:
    """Names of the current command's parameters the user typed (not defaults)."""
    import click
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return set()
    return {name for name in ctx.params
            if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)}


def _merge_env(base: dict, file_env: dict, given: set[str]) -> dict:
    out = dict(base)
    for key, value in file_env.items():
        if isinstance(value, dict):
            out[key] = {**(base.get(key) or {}), **{k: v for k, v in value.items() if k not in given}}
        elif key not in given:
            out[key] = value
    return out


def with_config_file(path: Path | None, *, sac: dict, env: dict, steps: int, trials: int | None = None
                     ) -> tuple[dict, dict, int, int | None]:
    """(sac options, env options, steps, trials) with ``path``'s settings applied under the
    options typed on the command line (trials: the file's configurations tried, for the
    deflated Sharpe ratio); unchanged without a file."""
    if path is None:
        return sac, env, steps, trials
    from sacfolio.workflows.sweep import load_run_config

    config = load_run_config(path)
    given = _given_on_command_line()
    sac = {**sac, **{k: v for k, v in config.sac.items() if _CLI_NAMES.get(k, k) not in given}}
    env = _merge_env(env, config.env, given)
    steps = steps if "steps" in given or config.steps is None else config.steps
    trials = trials if trials is None or "trials" in given else config.configurations_tried
    console.print(f"[bold]config[/bold] {path}: {escape(json.dumps({'sac': config.sac, 'env': config.env}))}; "
                  f"{config.configurations_tried} configurations tried", highlight=False)
    return sac, env, steps, trials


def _load_space(path: Path | None) -> dict:
    from sacfolio.exceptions import ConfigError
    from sacfolio.workflows.sweep import DEFAULT_SPACE

    if path is None:
        return dict(DEFAULT_SPACE)
    try:
        import yaml

        return dict(yaml.safe_load(path.read_text()))  # JSON is YAML too
    except (OSError, ValueError, TypeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the search space {path}: {exc}") from exc


@app.command()
def sweep(
    space: Annotated[Optional[Path], typer.Option(
        "--space", metavar="FILE", help="Search space, JSON or YAML: {name: {kind: args}} with kind choice, "
        "uniform, loguniform or randint and names tilt, rebalance_rate, no_trade_band, gamma, tau, lr, "
        "actor_lr, critic_lr, batch_size, train_cost_multiplier, action_mode, reward. Default: tilt "
        "{choice: [0.01, 0.02, 0.03, 0.05]}, rebalance_rate {uniform: [0.25, 1]}, gamma {choice: [0.5, 0.9, "
        "0.99]}, lr {loguniform: [3e-5, 3e-4]}.", show_default=False)] = None,
    trials: Annotated[int, typer.Option(min=1, help="Configurations to draw from the space.")] = 8,
    steps: Annotated[int, typer.Option(min=1, help="Steps of a trial that runs to the end.")] = 3_000,
    rungs: Annotated[int, typer.Option(min=1, help="Validation scores per trial; ASHA stops the weakest "
                                       "half of the trials at each.")] = 3,
    eval_years: YearsOpt = "2015-2022",
    variant: VariantOpt = "sac_price",
    data: DataOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    seed: SeedOpt = 0,
    workers: WorkersOpt = None,
    ray_address: RayAddressOpt = None,
    out: Annotated[Path, typer.Option(help="Directory for trials.csv, best_config.json and Tune's records.")
                   ] = Path("runs/sweep"),
) -> None:
    """Search SAC and trading settings with Ray Tune on the year before the first test year.

    Each trial trains on the weeks before that validation year and is scored by its
    validation Sharpe ratio after every rung; ASHA stops weak trials early. The test years
    stay unseen. Writes trials.csv and best_config.json (use it with 'sacfolio train
    --config', and count its configurations_tried with 'sacfolio evaluate --trials').
    What the space leaves alone keeps its default. Needs pip install 'sacfolio\\[ray]'.
    """
    from sacfolio.evaluate.folds import parse_years
    from sacfolio.workflows.evaluation import load_panel
    from sacfolio.workflows.sweep import SweepConfig, run_sweep

    years = tuple(parse_years(eval_years))
    config = SweepConfig(space=_load_space(space), trials=trials, steps=steps, rungs=rungs,
                         first_test_year=min(years), variant=variant, seed=seed)
    panel = load_panel(data, start, end)
    env = env_options(**TRADING)
    outcome = run_sweep(panel, config, out, env_options=env, ray_address=ray_address, cpus=workers)
    console.print(f"[bold]sweep[/bold] {len(outcome.trials)} trials on validation {outcome.validation[0]}.."
                  f"{outcome.validation[1]} (test years from {min(years)} unseen)")
    for row in outcome.trials[:10]:
        params = ", ".join(f"{k.removeprefix('config/')}={v:.4g}" if isinstance(v, float) else
                           f"{k.removeprefix('config/')}={v}" for k, v in row.items() if k.startswith("config/"))
        console.print(f"  {row['trial']}: val Sharpe {row['val_sharpe']:.3f}, CAGR {row['val_cagr']:.2%}, "
                      f"{row['steps']} steps; {params}", highlight=False)
    console.print(f"[bold]trials[/bold] {outcome.table_csv}\n[bold]best config[/bold] {outcome.best_config} "
                  f"(sacfolio train --config {outcome.best_config}; "
                  f"sacfolio evaluate --trials {json.loads(outcome.best_config.read_text())['configurations_tried']})")
