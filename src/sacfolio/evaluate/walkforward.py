"""Walk-forward plans: which folds, which training runs, which seeds.

For each test year Y the agent trains only on prices before Y (the scaler too); then
every strategy runs through the same simulator and cost code over Y, each starting
from 100% cash. A plan lists the training work as independent tasks, each with its
own seeds derived from one root seed, so any executor that runs the same tasks gets
the same results (:mod:`sacfolio.workflows.walkforward` runs them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sacfolio.agents.learner import ALGORITHMS
from sacfolio.data.panel import MarketPanel
from sacfolio.evaluate.backtest import run_backtest
from sacfolio.evaluate.folds import yearly_folds
from sacfolio.evaluate.results import BacktestResult, Fold
from sacfolio.exceptions import ConfigError
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.variants import DEFAULT_VARIANT, check_variant
from sacfolio.model.bundle import ENSEMBLE_MIXES, ModelBundle, member_seed
from sacfolio.strategies import STRATEGIES
from sacfolio.strategies.catalog import resolve_baselines

__all__ = ["AGENT", "WalkForwardConfig", "TrainingTask", "WalkForwardPlan", "plan_walk_forward",
           "task_seed", "backtest_model"]

AGENT = "sac"
"""The agent a walk-forward report is about."""

@dataclass(frozen=True, kw_only=True)
class WalkForwardConfig:
    """Settings of a walk-forward run.

    Attributes
    ----------
    years : tuple of int
        Test years, one fold each (expanding training window before each).
    train_steps : int
        Environment steps (= gradient updates after warm-up) for the first fold.
    fold_steps : int
        Steps for each later fold, which starts from the previous fold's weights
        when ``warm_start`` (the previous model saw only data before its own year,
        so this is still point in time). Without warm start every fold trains
        ``train_steps`` from scratch.
    warm_start : bool
    baselines : tuple of str
        Names from :data:`sacfolio.strategies.STRATEGIES`.
    min_train : int
        Fewest training weeks a fold may have.
    variant : str
        Model variant (state layout).
    agents : tuple of str
        Learners trained and backtested on every fold: ``"sac"`` (the agent the report
        is about) and optionally ``"ppo"`` on the same state.
    seed : int
        Root seed; every training run's seed is derived from it (:func:`task_seed`).
    seeds : int
        Seed-ensemble size K: K agents train on every fold (member k with the seeds of
        root ``seed + 1000 k``) and the fold's model trades them combined by
        ``ensemble_mix``. 1 (default): one agent.
    ensemble_mix : {"weights", "actions"}
        How a seed ensemble combines its members (:data:`~sacfolio.model.bundle.ENSEMBLE_MIXES`):
        the average of their target weights (default) or the target of their average action.
    """

    years: tuple[int, ...] = tuple(range(2015, 2023))
    train_steps: int = 10_000
    fold_steps: int = 5_000
    warm_start: bool = True
    baselines: tuple[str, ...] = tuple(STRATEGIES)
    min_train: int = 104
    variant: str = DEFAULT_VARIANT
    agents: tuple[str, ...] = (AGENT,)
    seed: int = 0
    seeds: int = 1
    ensemble_mix: str = "weights"

    def __post_init__(self) -> None:
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or not 1 <= self.seeds <= 64:
            raise ConfigError(f"seeds={self.seeds!r} must be a whole number of agents per fold in 1..64")
        if self.ensemble_mix not in ENSEMBLE_MIXES:
            raise ConfigError(f"ensemble_mix={self.ensemble_mix!r}; choose from {list(ENSEMBLE_MIXES)}")
        if not self.years:
            raise ConfigError("years is empty: give at least one test year, e.g. --eval-years 2021-2022")
        if self.train_steps < 1 or self.fold_steps < 1:
            raise ConfigError(f"train_steps={self.train_steps} and fold_steps={self.fold_steps} must be >= 1")
        if AGENT not in self.agents or any(a not in ALGORITHMS for a in self.agents):
            raise ConfigError(f"agents {list(self.agents)} must include 'sac' and come from {list(ALGORITHMS)}")
        object.__setattr__(self, "baselines", resolve_baselines(self.baselines))
        check_variant(self.variant)

    def to_dict(self) -> dict:
        return {"years": list(self.years), "train_steps": self.train_steps, "fold_steps": self.fold_steps,
                "warm_start": self.warm_start, "baselines": list(self.baselines), "min_train": self.min_train,
                "variant": self.variant, "agents": list(self.agents), "seed": self.seed, "seeds": self.seeds,
                "ensemble_mix": self.ensemble_mix}


@dataclass(frozen=True, kw_only=True)
class TrainingTask:
    """One agent's training runs over consecutive folds, in order.

    With warm start each fold continues from the previous fold's weights, so the
    folds of one agent form a chain and belong to one task; without it every
    (agent, fold) is a task of its own.

    Attributes
    ----------
    agent : str
    folds : tuple of Fold
    seeds : tuple of int
        The training seed of each fold.
    steps : tuple of int
        Environment steps of each fold.
    warm_start : bool
        Whether fold k > 0 starts from fold k - 1's weights.
    member : int
        Which member of the fold's seed ensemble this task trains (0 for a single agent).
    """

    agent: str
    folds: tuple[Fold, ...]
    seeds: tuple[int, ...]
    steps: tuple[int, ...]
    warm_start: bool
    member: int = 0


@dataclass(frozen=True, kw_only=True)
class WalkForwardPlan:
    """The folds of a run and the training tasks that cover them."""

    config: WalkForwardConfig
    folds: tuple[Fold, ...]
    tasks: tuple[TrainingTask, ...]


def task_seed(root: int, fold_index: int, member: int = 0) -> int:
    """The training seed of fold ``fold_index``: ``root + fold_index`` (+ 1000 per ensemble member).

    It depends on nothing but the root seed, the fold and the member, so any executor
    that runs the fold gets the same one. Every agent trains fold k with the same seed,
    so SAC and PPO see the same episodes; member k of an ensemble is the single agent of
    root seed ``root + 1000 k`` (:func:`~sacfolio.model.bundle.member_seed`).
    """
    return member_seed(int(root) + int(fold_index), member)


def plan_walk_forward(panel: MarketPanel, config: WalkForwardConfig) -> WalkForwardPlan:
    """The folds of ``config.years`` over ``panel`` and the training tasks for them."""
    folds = tuple(yearly_folds(panel.dates, config.years, min_train=config.min_train))
    tasks: list[TrainingTask] = []
    for agent in config.agents:
        for member in range(config.seeds):
            seeds = tuple(task_seed(config.seed, k, member) for k in range(len(folds)))
            if config.warm_start:
                steps = (config.train_steps,) + (config.fold_steps,) * (len(folds) - 1)
                tasks.append(TrainingTask(agent=agent, folds=folds, seeds=seeds, steps=steps, warm_start=True,
                                          member=member))
            else:
                tasks += [TrainingTask(agent=agent, folds=(f,), seeds=(s,), steps=(config.train_steps,),
                                       warm_start=False, member=member) for f, s in zip(folds, seeds)]
    return WalkForwardPlan(config=config, folds=folds, tasks=tuple(tasks))


def backtest_model(bundle: ModelBundle, panel: MarketPanel, fold: Fold, name: str = AGENT,
                   features: FeatureSet | None = None) -> BacktestResult:
    """Backtest ``bundle``'s deterministic policy (a seed ensemble: its members' average
    target) over the fold's test span."""
    core = bundle.core(panel, features)
    residual = bundle.env_config.action_mode == "residual"

    def decide(t: int, obs: np.ndarray, drifted: np.ndarray) -> np.ndarray:
        return bundle.policy_target(obs[None, :], panel.available[t], core.benchmark[t] if residual else None)[0]

    return run_backtest(core, decide, start=fold.test_start, stop=fold.test_stop,
                        dates=panel.dates[fold.test_start:fold.test_stop + 1],
                        symbols=panel.symbols, name=name)
