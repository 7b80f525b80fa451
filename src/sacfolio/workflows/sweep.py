"""Hyperparameter sweeps with Ray Tune on a validation fold that ends before the test years.

Each trial trains SAC on the weeks before the validation year with one configuration
drawn from a declared search space (tilt κ, rebalance rate η, discount γ, learning
rate, ...) and reports the validation Sharpe ratio after every rung of steps (each rung
continues from the last); ASHA stops the weak trials early. The validation year is the
year before the first test year, so a sweep never sees a test week. The trial table is
saved with the run and the best configuration written as a file ``sacfolio train
--config`` accepts, with the number of configurations tried, which the report's
deflated Sharpe ratio must count (:func:`load_run_config`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from sacfolio.agents.config import SACConfig
from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import CONFIGURATIONS_TRIED, EnvConfig
from sacfolio.evaluate.folds import yearly_folds
from sacfolio.evaluate.metrics import cagr, sharpe
from sacfolio.evaluate.results import Fold
from sacfolio.evaluate.walkforward import backtest_model
from sacfolio.exceptions import ConfigError
from sacfolio.features.variants import FeatureSources, build_features
from sacfolio.train.portfolio import PORTFOLIO_SAC, train_model
from sacfolio.workflows.executors import connect_ray, one_torch_thread, require_ray

__all__ = ["PARAMETERS", "DEFAULT_SPACE", "RUN_CONFIG_FORMAT", "SweepConfig", "SweepOutcome", "RunConfigFile",
           "apply_parameters", "load_run_config", "run_sweep", "validation_fold"]

PARAMETERS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "tilt": ("env", "tilt"),
    "rebalance_rate": ("env", "execution", "rebalance_rate"),
    "no_trade_band": ("env", "execution", "no_trade_band"),
    "train_cost_multiplier": ("env", "train_cost_multiplier"),
    "action_mode": ("env", "action_mode"),
    "reward": ("env", "reward"),
    "gamma": ("sac", "gamma"),
    "tau": ("sac", "tau"),
    "lr": ("sac", "actor_lr", "critic_lr", "alpha_lr"),
    "actor_lr": ("sac", "actor_lr"),
    "critic_lr": ("sac", "critic_lr"),
    "batch_size": ("sac", "batch_size"),
})
"""What a search-space name sets: ``("env", *path)`` in :meth:`EnvConfig.from_dict` form, or
``("sac", *fields)`` of the SAC settings (``lr`` sets all three learning rates)."""

DEFAULT_SPACE: Mapping[str, Mapping[str, list]] = MappingProxyType({
    "tilt": {"choice": [0.01, 0.02, 0.03, 0.05]},
    "rebalance_rate": {"uniform": [0.25, 1.0]},
    "gamma": {"choice": [0.5, 0.9, 0.99]},
    "lr": {"loguniform": [3e-5, 3e-4]},
})
"""κ, η, γ and the learning rate: ``{name: {kind: args}}``, kind one of ``choice``,
``uniform``, ``loguniform``, ``randint`` (the Ray Tune samplers of the same names)."""

RUN_CONFIG_FORMAT = "sacfolio-run-config/1"
_SAMPLERS = ("choice", "uniform", "loguniform", "randint")


@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    """Settings of a sweep.

    Attributes
    ----------
    space : mapping
        Search space (:data:`DEFAULT_SPACE` form); names from :data:`PARAMETERS`.
    trials : int
        Configurations drawn (Ray Tune ``num_samples``).
    steps : int
        Environment steps of a trial that runs to the end.
    rungs : int
        Reports per trial (every ``steps / rungs`` steps); ASHA compares trials at them.
    first_test_year : int
        The validation year is the year before it.
    variant : str
    seed : int
        Training seed of every trial (the configurations differ, not the luck) and the
        search's random state.
    min_train : int
        Fewest training weeks before the validation year.
    """

    space: Mapping[str, Mapping[str, list]] = field(default_factory=lambda: dict(DEFAULT_SPACE))
    trials: int = 8
    steps: int = 3_000
    rungs: int = 3
    first_test_year: int = 2015
    variant: str = "sac_price"
    seed: int = 0
    min_train: int = 104

    def __post_init__(self) -> None:
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise ConfigError(f"trials={self.trials!r} must be a whole number >= 1")
        if not 1 <= self.rungs <= self.steps:
            raise ConfigError(f"rungs={self.rungs} must be in 1..steps ({self.steps})")
        for name, spec in self.space.items():
            if name not in PARAMETERS:
                raise ConfigError(f"unknown search-space parameter {name!r}; choose from {sorted(PARAMETERS)}")
            if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in _SAMPLERS:
                raise ConfigError(f"search space {name!r}: {spec!r} must be one of "
                                  f"{{kind: args}} with kind in {list(_SAMPLERS)}, e.g. {{'choice': [0.01, 0.02]}}")


@dataclass(frozen=True, kw_only=True)
class SweepOutcome:
    """A finished sweep: the trial table, the best trial and the files written."""

    trials: list[dict]
    best: dict
    table_csv: Path
    best_config: Path
    validation: tuple[str, str]


@dataclass(frozen=True, kw_only=True)
class RunConfigFile:
    """A run configuration file (the best of a sweep): SAC and env overrides, steps, trials."""

    sac: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    steps: int | None = None
    configurations_tried: int = 1
    path: Path | None = None


def apply_parameters(params: Mapping[str, Any]) -> tuple[dict, dict]:
    """``{"tilt": 0.03, "lr": 1e-4}`` -> (SAC overrides, env overrides in from_dict form)."""
    sac: dict = {}
    env: dict = {}
    for name, value in params.items():
        target, *path = PARAMETERS[name]
        value = value.item() if hasattr(value, "item") else value
        if target == "sac":
            sac.update({f: value for f in path})
        else:
            node = env
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = value
    return sac, env


def validation_fold(panel: MarketPanel, first_test_year: int, min_train: int = 104) -> Fold:
    """The year before ``first_test_year`` as a fold trained on everything before it."""
    return yearly_folds(panel.dates, (first_test_year - 1,), min_train=min_train)[0]


def _tune_space(space: Mapping[str, Mapping[str, list]]) -> dict:
    from ray import tune

    out = {}
    for name, spec in space.items():
        kind, args = next(iter(spec.items()))
        out[name] = tune.choice(list(args)) if kind == "choice" else getattr(tune, kind)(*args)
    return out


def _trial(params: dict, *, panel: MarketPanel, features: Any, fold: Fold, config: SweepConfig,
           env_options: dict, sac_config: SACConfig) -> None:
    """One Ray Tune trial: train rung by rung, report the validation Sharpe after each."""
    from ray import tune

    one_torch_thread()
    sac, env = apply_parameters(params)
    env_config = EnvConfig.from_dict(_merge(env_options, env))
    sac_config = dataclasses.replace(sac_config, **sac)
    chunk, model = max(1, config.steps // config.rungs), None
    for rung in range(1, config.rungs + 1):
        model = train_model(panel, train_start=fold.train_start, train_stop=fold.train_stop,
                            variant=config.variant, env_config=env_config, sac_config=sac_config, steps=chunk,
                            seed=config.seed + rung - 1, init=model, scaler=None if model is None else model.bundle.scaler,
                            features=features, progress=False, description="sweep trial")
        returns = backtest_model(model.bundle, panel, fold, features=features).returns
        value = float(sharpe(returns))
        tune.report({"val_sharpe": value if math.isfinite(value) else -1e9, "val_cagr": float(cagr(returns)),
                     "steps": chunk * rung})


def _merge(base: Mapping, over: Mapping) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out.get(k) or {}, v) if isinstance(v, Mapping) else v
    return out


def run_sweep(panel: MarketPanel, config: SweepConfig, out: str | Path, *, env_options: Mapping = MappingProxyType({}),
              sac_config: SACConfig = PORTFOLIO_SAC, sources: FeatureSources = FeatureSources(),
              ray_address: str | None = None, cpus: int | None = None) -> SweepOutcome:
    """Run the sweep with Ray Tune (``Tuner`` + ASHA) and write ``trials.csv`` and
    ``best_config.json`` under ``out`` (Tune's own records under ``out/tune``)."""
    ray = require_ray()
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    out = Path(out).resolve()
    fold = validation_fold(panel, config.first_test_year, config.min_train)
    features = build_features(panel, config.variant, sources=sources, progress=False)
    started = connect_ray(ray, ray_address, cpus)
    try:
        trainable = tune.with_resources(tune.with_parameters(
            _trial, panel=panel, features=features, fold=fold, config=config, env_options=dict(env_options),
            sac_config=sac_config), {"cpu": 1})
        tuner = tune.Tuner(trainable, param_space=_tune_space(config.space), tune_config=tune.TuneConfig(
            metric="val_sharpe", mode="max", num_samples=config.trials, reuse_actors=True,
            scheduler=ASHAScheduler(max_t=config.rungs, grace_period=1, reduction_factor=2),
            search_alg=BasicVariantGenerator(random_state=config.seed)),
            run_config=tune.RunConfig(name="sweep", storage_path=str(out / "tune"), verbose=0))
        grid = tuner.fit()
        rows = _trial_rows(grid)
    finally:
        if started:
            ray.shutdown()
    validation = (str(panel.dates[fold.test_start]), str(panel.dates[fold.test_stop]))
    return _write_outcome(rows, out, config, validation, env_options)


def _trial_rows(grid: Any) -> list[dict]:
    """One row per trial: its parameters, last and best validation scores, steps, status."""
    rows = []
    for result in grid:
        history = result.metrics_dataframe
        if result.error is not None or history is None or history.empty:
            raise ConfigError(f"sweep trial {result.path} failed: {result.error}")
        rows.append({"trial": str(result.metrics.get("trial_id", Path(result.path).name)),
                     **{f"config/{k}": v for k, v in result.config.items()},
                     "val_sharpe": float(history["val_sharpe"].iloc[-1]),
                     "best_val_sharpe": float(history["val_sharpe"].max()),
                     "val_cagr": float(history["val_cagr"].iloc[-1]), "steps": int(history["steps"].iloc[-1]),
                     "rungs": int(len(history))})
    rows.sort(key=lambda r: -r["val_sharpe"])
    return rows


def _write_outcome(rows: list[dict], out: Path, config: SweepConfig, validation: tuple[str, str],
                   env_options: Mapping) -> SweepOutcome:
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    table = out / "trials.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    finished = [r for r in rows if r["steps"] >= (config.steps // config.rungs) * config.rungs]
    best = max(finished or rows, key=lambda r: r["val_sharpe"])
    params = {k.removeprefix("config/"): v for k, v in best.items() if k.startswith("config/")}
    sac, env = apply_parameters(params)
    doc = {"format": RUN_CONFIG_FORMAT, "sac": sac, "env": _merge(env_options, env), "steps": config.steps,
           "variant": config.variant, "parameters": params,
           "trials": len(rows), "configurations_tried": CONFIGURATIONS_TRIED + len(rows),
           "validation": {"start": validation[0], "end": validation[1], "val_sharpe": best["val_sharpe"],
                          "val_cagr": best["val_cagr"]},
           "note": "the best of a sweep: pass it to 'sacfolio train --config'; its deflated Sharpe ratio must "
                   "count configurations_tried (the default settings' study plus this sweep's trials)"}
    path = out / "best_config.json"
    path.write_text(json.dumps(doc, indent=2))
    return SweepOutcome(trials=rows, best=best, table_csv=table, best_config=path, validation=validation)


def load_run_config(path: str | Path) -> RunConfigFile:
    """Read a run configuration file (``best_config.json`` of a sweep)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the run configuration {path}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != RUN_CONFIG_FORMAT:
        raise ConfigError(f"{path} is not a sacfolio run configuration (format {RUN_CONFIG_FORMAT!r}); "
                          "write one with 'sacfolio sweep'")
    sac, env = dict(doc.get("sac") or {}), dict(doc.get("env") or {})
    unknown = set(sac) - {f.name for f in dataclasses.fields(SACConfig)}
    if unknown:
        raise ConfigError(f"{path}: unknown SAC settings {sorted(unknown)}")
    EnvConfig.from_dict(env)  # refuses unknown or out-of-range env settings with their names
    steps = doc.get("steps")
    return RunConfigFile(sac=sac, env=env, steps=None if steps is None else int(steps),
                         configurations_tried=int(doc.get("configurations_tried") or 1), path=path)
