"""Expanding-window walk-forward evaluation of the SAC agent against the baselines.

For each test year Y the agent is trained only on prices before Y (the scaler too),
then every strategy is run through the same simulator and cost code over Y, each
starting from 100% cash. The folds chained together are the out-of-sample record.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from sacfolio.agents.config import SACConfig
from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import EnvConfig
from sacfolio.evaluate.backtest import policy_decider, run_backtest
from sacfolio.evaluate.baselines import BASELINES, WeightConstraints, make_baselines
from sacfolio.evaluate.folds import yearly_folds
from sacfolio.evaluate.results import BacktestResult, Fold, WalkForwardResult
from sacfolio.exceptions import ConfigError
from sacfolio.features.blocks import FeatureSet
from sacfolio.train.pipeline import ALGORITHMS, PORTFOLIO_SAC, FeatureSources, TrainedModel, build_features, train_model

__all__ = ["WalkForwardConfig", "run_walk_forward", "backtest_model"]

AGENT = "sac"


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
        Names from :data:`sacfolio.evaluate.baselines.BASELINES`.
    min_train : int
        Fewest training weeks a fold may have.
    variant : str
        Model variant (state layout).
    agents : tuple of str
        Learners trained and backtested on every fold: ``"sac"`` (the agent the report
        is about) and optionally ``"ppo"`` (seed 001's baseline) on the same state.
    seed : int
        Fold k trains with seed ``seed + k``.
    """

    years: tuple[int, ...] = tuple(range(2015, 2023))
    train_steps: int = 10_000
    fold_steps: int = 5_000
    warm_start: bool = True
    baselines: tuple[str, ...] = tuple(BASELINES)
    min_train: int = 104
    variant: str = "sac_lstm"
    agents: tuple[str, ...] = ("sac",)
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.years:
            raise ConfigError("years is empty: give at least one test year, e.g. --eval-years 2021-2022")
        if self.train_steps < 1 or self.fold_steps < 1:
            raise ConfigError(f"train_steps={self.train_steps} and fold_steps={self.fold_steps} must be >= 1")
        if AGENT not in self.agents or any(a not in ALGORITHMS for a in self.agents):
            raise ConfigError(f"agents {list(self.agents)} must include 'sac' and come from {list(ALGORITHMS)}")
        unknown = [b for b in self.baselines if b not in BASELINES]
        if unknown:
            raise ConfigError(f"unknown baseline(s) {unknown}; choose from {sorted(BASELINES)}")


def backtest_model(model: TrainedModel, panel: MarketPanel, fold: Fold, name: str = AGENT,
                   features: FeatureSet | None = None) -> BacktestResult:
    """Backtest ``model``'s deterministic policy over the fold's test span."""
    core = model.core(panel, features)
    decide = policy_decider(model.policy(), model.env_config, panel.available)
    return run_backtest(core, decide, start=fold.test_start, stop=fold.test_stop,
                        dates=panel.dates[fold.test_start:fold.test_stop + 1],
                        symbols=panel.symbols, name=name)


@dataclass(kw_only=True)
class _Clock:
    train: float = 0.0
    backtest: float = 0.0
    baselines: float = 0.0
    per_fold: list[dict] = field(default_factory=list)


def run_walk_forward(
    panel: MarketPanel,
    *,
    config: WalkForwardConfig = WalkForwardConfig(),
    env_config: EnvConfig = EnvConfig(),
    sac_config: SACConfig = PORTFOLIO_SAC,
    progress: bool = True,
    log_dir: str | Path | None = None,
    on_fold: Callable[[Fold, TrainedModel], None] | None = None,
    sources: FeatureSources = FeatureSources(),
    cache_dir: str | Path | None = None,
) -> tuple[WalkForwardResult, TrainedModel]:
    """Train and test fold by fold; return every strategy's results and the last model.

    Parameters
    ----------
    on_fold : callable, optional
        Called with each fold and its trained model (e.g. to print progress).

    Returns
    -------
    (WalkForwardResult, TrainedModel)
        The last fold's model was trained on everything before the last test year.
    """
    folds = yearly_folds(panel.dates, config.years, min_train=config.min_train)
    constraints = WeightConstraints(cash_floor=env_config.cash_floor, max_weight=env_config.max_weight)
    baselines = make_baselines(panel, config.baselines, constraints=constraints)
    results: dict[str, list[BacktestResult]] = {a: [] for a in config.agents}
    results.update({b: [] for b in baselines})
    raw = build_features(panel, config.variant, sources=sources, cache_dir=cache_dir, progress=progress)
    clock = _Clock()
    models: dict[str, TrainedModel] = {}
    training: list[dict] = []
    for k, fold in enumerate(folds):
        for algo in config.agents:
            t0 = time.perf_counter()
            previous = models.get(algo)
            warm = config.warm_start and previous is not None
            trained = train_model(
                panel, train_start=fold.train_start, train_stop=fold.train_stop, variant=config.variant,
                env_config=env_config, sac_config=sac_config, algo=algo,
                steps=config.fold_steps if warm else config.train_steps, seed=config.seed + k,
                init=previous if warm else None, features=raw, sources=sources, progress=progress,
                log_dir=None if log_dir is None else Path(log_dir) / f"{algo}_fold_{fold.label}",
                description=f"{algo} fold {fold.label}",
            )
            models[algo] = trained
            t1 = time.perf_counter()
            results[algo].append(backtest_model(trained, panel, fold, name=algo, features=raw))
            clock.train += t1 - t0
            clock.backtest += time.perf_counter() - t1
            tr = trained.train_result
            training.append({
                "agent": algo, "fold": fold.label, "train_window": list(trained.train_window),
                "warm_start": warm, "steps": tr.n_steps, "updates": tr.n_updates,
                "seconds": round(t1 - t0, 2), "steps_per_second": round(tr.steps_per_second, 1),
                "last_episode_returns": [round(x, 5) for x in tr.episode_returns[-5:]],
                "stopped_early": bool(tr.stopped_early), "health": tr.health.get("status"),
            })
        t2 = time.perf_counter()
        for name, strategy in baselines.items():
            results[name].append(run_backtest(
                models[AGENT].core(panel, raw), strategy.decide, start=fold.test_start, stop=fold.test_stop,
                dates=panel.dates[fold.test_start:fold.test_stop + 1], symbols=panel.symbols, name=name))
        clock.baselines += time.perf_counter() - t2
        if on_fold is not None:
            on_fold(fold, models[AGENT])
    model = models.get(AGENT)
    assert model is not None
    info = {
        "agent": AGENT,
        "variant": config.variant,
        "state_features": list(raw.names),
        "sources": sources.to_dict(),
        "walk_forward": {**asdict(config), "years": list(config.years), "baselines": list(config.baselines),
                         "agents": list(config.agents)},
        "env": asdict(env_config),
        "sac": sac_config.to_dict(),
        "agents": list(config.agents),
        "training": training,
        "health": model.train_result.health if model.train_result else {},
        "seconds": {"train": round(clock.train, 1), "backtest": round(clock.backtest, 2),
                    "baselines": round(clock.baselines, 1)},
        "baseline_fallbacks": {n: int(getattr(s, "fallbacks", 0)) for n, s in baselines.items()},
        "data": {"source": panel.source, "start": str(panel.dates[0]), "end": str(panel.dates[-1]),
                 "symbols": list(panel.symbols)},
    }
    wf = WalkForwardResult(symbols=panel.symbols, folds=tuple(folds),
                           results={k: tuple(v) for k, v in results.items()}, info=info)
    return wf, model
