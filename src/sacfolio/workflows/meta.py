"""The strategy meta-controller: SAC trained on the allocation env, walk-forward against baselines,
registered as ``meta_sac`` and promoted by the same gate as every model.

Walk-forward on intraday bars: the last ``folds`` blocks of ``test_sessions`` sessions are
test folds; before each, SAC trains on every bar before it (warm-started from the previous
fold), then its deterministic policy and the baselines (static weights from a config file,
equal weights, best-recent-Sharpe switching, exponentiated gradient, AdaHedge) trade the
fold on the same bars, broker and costs (:func:`~sacfolio.env.allocation_run.run_book`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from sacfolio.agents.config import SACConfig
from sacfolio.agents.policy import NumpyPolicy
from sacfolio.agents.sac import SAC
from sacfolio.env.allocation import AllocationEnv
from sacfolio.env.allocation_run import Allocator, AllocationConfig, AllocationInputs, BookRun, run_book, softmax_weights
from sacfolio.evaluate.metrics import max_drawdown
from sacfolio.exceptions import ConfigError, EvaluationWindowError
from sacfolio.strategies.expert import (AdaHedge, BestRecentSharpe, EqualWeights, ExponentiatedGradient,
                                        StaticWeights, load_static_weights)
from sacfolio.train.loop import TrainResult
from sacfolio.train.off_policy import train_sac

__all__ = ["META_SAC", "MetaEvaluation", "MetaSettings", "baseline_allocators", "evaluate_meta", "session_starts",
           "sac_allocator", "summary_rows", "train_meta"]

BARS_PER_YEAR = 78 * 252
"""5-minute bars of a 6.5-hour session, 252 sessions a year (annualizes the Sharpe ratio)."""

META_SAC = SACConfig(reward_scale=1000.0, warmup_steps=200, buffer_size=50_000)
"""SAC settings of the meta-controller: per-bar log returns are ~1e-4, so they are scaled by 1000."""


@dataclass(frozen=True, kw_only=True)
class MetaSettings:
    """Training and walk-forward settings of the meta-controller.

    Attributes
    ----------
    steps, fold_steps : int
        SAC environment steps of the first fold, and of each later (warm-started) fold.
    folds : int
        Test folds at the end of the bars.
    test_sessions : int
        Sessions per test fold (and of the promotion gate's window).
    episode_length : int
        Bars per training episode.
    seed : int
    sac : SACConfig
    static_weights : str, optional
        YAML/JSON file of the static baseline's (and the paper fallback's) weights.
    """

    steps: int = 3000
    fold_steps: int = 1500
    folds: int = 2
    test_sessions: int = 5
    episode_length: int = 390
    seed: int = 0
    sac: SACConfig = field(default_factory=lambda: META_SAC)
    static_weights: str | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "fold_steps", "folds", "test_sessions", "episode_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"MetaSettings.{name}={value!r} must be an integer >= 1")


def session_starts(times: np.ndarray) -> np.ndarray:
    """Index of the first bar of each New York trading date (and ``len(times)`` last)."""
    import pandas as pd

    local = pd.DatetimeIndex(np.asarray(times, dtype="datetime64[ns]")).tz_localize("UTC").tz_convert(
        "America/New_York").normalize()
    change = np.flatnonzero(np.r_[True, local[1:] != local[:-1]])
    return np.append(change, len(times))


def fold_spans(inputs: AllocationInputs, settings: MetaSettings) -> list[tuple[int, int]]:
    """(test start, test stop) bars of each fold, oldest first."""
    starts = session_starts(inputs.times)
    n = len(starts) - 1
    first = n - settings.folds * settings.test_sessions
    if first < 1 or starts[first] - inputs.first < settings.episode_length + 1:
        raise EvaluationWindowError(f"{n} sessions leave no training bars before {settings.folds} test folds "
                                    f"of {settings.test_sessions} sessions (episodes of {settings.episode_length} "
                                    "bars); use more bars or fewer/shorter folds")
    edges = [int(starts[first + f * settings.test_sessions]) for f in range(settings.folds + 1)]
    edges[-1] = len(inputs.times)
    return list(zip(edges[:-1], edges[1:]))


def train_meta(inputs: AllocationInputs, config: AllocationConfig, settings: MetaSettings, *, stop: int,
               steps: int, seed: int, init: SAC | None = None, progress: bool = False) -> TrainResult:
    """SAC trained on decisions at bars ``inputs.first .. stop - 1`` only."""
    env = AllocationEnv(inputs, config, span=(inputs.first, stop), episode_length=settings.episode_length)
    return train_sac(env, config=settings.sac, total_steps=steps, seed=seed, learner=init, progress=progress,
                     description=f"meta_sac until bar {stop}")


def sac_allocator(learner: SAC, config: AllocationConfig) -> Allocator:
    """The learner's deterministic policy as an allocator (a numpy copy of the actor)."""
    policy = NumpyPolicy.from_actor(learner.actor)
    return lambda state, returns: softmax_weights(policy(np.asarray(state, dtype=np.float32)[None])[0],
                                                  config.logit_scale)


def baseline_allocators(strategies: tuple[str, ...], static_weights: str | None = None
                        ) -> dict[str, Callable[[], Allocator]]:
    """Fresh baseline allocators by name (each fold starts them anew)."""
    k, static = len(strategies), load_static_weights(static_weights, strategies)
    return {"static": lambda: StaticWeights(static), "equal": lambda: EqualWeights(k),
            "best_sharpe": lambda: BestRecentSharpe(k), "exp_gradient": lambda: ExponentiatedGradient(k),
            "adahedge": lambda: AdaHedge(k)}


@dataclass(frozen=True, eq=False)
class MetaEvaluation:
    """Walk-forward results: per method the concatenated test bars of every fold."""

    strategies: tuple[str, ...]
    folds: list[tuple[int, int]]
    runs: dict[str, list[BookRun]]
    learner: SAC

    def returns(self, method: str) -> np.ndarray:
        return np.concatenate([r.returns for r in self.runs[method]])

    def stacked(self, method: str, name: str) -> np.ndarray:
        return np.concatenate([getattr(r, name) for r in self.runs[method]])


def evaluate_meta(inputs: AllocationInputs, config: AllocationConfig, settings: MetaSettings, *,
                  progress: bool = False, on_fold: Callable[[int, int, int], None] | None = None) -> MetaEvaluation:
    """Walk-forward: train before each fold, then SAC and every baseline trade the fold."""
    folds = fold_spans(inputs, settings)
    makers = baseline_allocators(inputs.strategies, settings.static_weights)
    runs: dict[str, list[BookRun]] = {"meta_sac": [], **{name: [] for name in makers}}
    learner = None
    for f, (lo, hi) in enumerate(folds):
        if on_fold is not None:
            on_fold(f, lo, hi)
        steps = settings.steps if f == 0 else settings.fold_steps
        learner = train_meta(inputs, config, settings, stop=lo, steps=steps, seed=settings.seed + f, init=learner,
                             progress=progress).learner
        runs["meta_sac"].append(run_book(inputs, sac_allocator(learner, config), config, start=lo, stop=hi))
        for name, make in makers.items():
            runs[name].append(run_book(inputs, make(), config, start=lo, stop=hi))
    return MetaEvaluation(inputs.strategies, folds, runs, learner)


def summary_rows(evaluation: MetaEvaluation) -> list[dict[str, float | str]]:
    """One row per method: return, Sharpe, drawdown, costs, turnover, mean allocation."""
    rows = []
    for method in evaluation.runs:
        r = evaluation.returns(method)
        traded, nav = evaluation.stacked(method, "traded"), evaluation.stacked(method, "nav")
        sd = r.std(ddof=1)
        shares = evaluation.stacked(method, "shares")
        rows.append({"method": method, "total_return": float(np.prod(1.0 + r) - 1.0),
                     "sharpe": float(r.mean() / sd * np.sqrt(BARS_PER_YEAR)) if sd > 0 else float("nan"),
                     "max_drawdown": float(max_drawdown(r)), "costs": float(evaluation.stacked(method, "cost").sum()),
                     "cost_bps": float(evaluation.stacked(method, "cost").sum() / nav.mean() * 1e4),
                     "turnover_per_bar": float((traded / nav).mean()),
                     **{f"mean_share/{s}": float(v) for s, v in zip(evaluation.strategies, shares.mean(axis=0))}})
    return rows
