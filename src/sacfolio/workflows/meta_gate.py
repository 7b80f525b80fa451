"""Registering the meta-controller and promoting it through the same gate as every model.

The candidate trains on every bar before the gate window (the last ``test_sessions``
sessions); the gate replays the candidate and the current version on the window's bars
(daily returns of the book, costs included) and promotes only out-of-sample gains; a first
version must beat the static weights on the same window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from sacfolio.agents.sac import SAC
from sacfolio.env.allocation_run import AllocationConfig, AllocationInputs, BookRun, run_book
from sacfolio.exceptions import LayoutMismatchError
from sacfolio.registry.artifacts import ModelArtifacts
from sacfolio.registry.decision import GateEvaluation, GateWindow, PromotionDecision
from sacfolio.registry.gate import PromotionGate
from sacfolio.registry.registry import Registry
from sacfolio.strategies.expert import StaticWeights, load_static_weights
from sacfolio.workflows.gate import health_problems
from sacfolio.workflows.meta import MetaSettings, session_starts, train_meta
from sacfolio.workflows.meta_model import meta_artifacts, meta_policy_of

__all__ = ["MetaRegistration", "daily_returns", "register_meta"]


@dataclass(frozen=True)
class MetaRegistration:
    version: str
    decision: PromotionDecision
    learner: SAC


def daily_returns(run: BookRun) -> np.ndarray:
    """The book's net return per trading session of ``run``."""
    starts = session_starts(run.times)
    growth = 1.0 + run.returns
    return np.array([np.prod(growth[a:b]) - 1.0 for a, b in zip(starts[:-1], starts[1:])])


def _day(t: np.datetime64) -> str:
    return str(np.datetime64(t, "D"))


def _sessions_seen(times: np.ndarray, last_bar: str | None) -> int:
    """Sessions of ``times`` with a bar at or before ``last_bar`` (the last bar a version trained on)."""
    if last_bar is None:
        return 0
    starts = session_starts(times)
    return int((times[starts[:-1]] <= np.datetime64(last_bar, "ns")).sum())


def _evaluator(inputs: AllocationInputs, config: AllocationConfig, lo: int, hi: int
               ) -> Callable[[ModelArtifacts], GateEvaluation]:
    def evaluate(artifacts: ModelArtifacts) -> GateEvaluation:
        meta = meta_policy_of(artifacts)
        if meta.strategies != inputs.strategies or meta.config != config:
            raise LayoutMismatchError(f"version {meta.version} allocates {list(meta.strategies)} under other "
                                      "settings; register it under another name")
        run = run_book(inputs, meta.allocator(), config, start=lo, stop=hi)
        seen = _sessions_seen(inputs.times[lo:hi], (artifacts.metadata.get("training") or {}).get("last_bar"))
        return GateEvaluation(weekly_returns=daily_returns(run), in_sample_weeks=seen)

    return evaluate


def register_meta(inputs: AllocationInputs, config: AllocationConfig, settings: MetaSettings, registry: Registry,
                  *, name: str = "meta_sac", data: dict[str, Any] | None = None, force_reason: str | None = None,
                  progress: bool = False) -> MetaRegistration:
    """Train on the bars before the gate window, save a version of ``name``, run the gate."""
    starts = session_starts(inputs.times)
    lo, hi = int(starts[-1 - settings.test_sessions]), len(inputs.times)
    result = train_meta(inputs, config, settings, stop=lo, steps=settings.steps, seed=settings.seed,
                        progress=progress)
    metadata = {"training": {"mode": "full", "steps": settings.steps, "seed": settings.seed,
                             "updates": result.n_updates, "seconds": round(result.wall_seconds, 1),
                             "last_bar": str(inputs.times[lo - 1])},
                "data": data or {}, "seed": settings.seed, "health": result.health,
                "universe": list(inputs.symbols)}
    version = registry.save(name, meta_artifacts(result.learner, sac_config=settings.sac, config=config,
                                                 strategies=inputs.strategies, metadata=metadata))
    static = StaticWeights(load_static_weights(settings.static_weights, inputs.strategies))
    baseline = GateEvaluation(weekly_returns=daily_returns(run_book(inputs, static, config, start=lo, stop=hi)))
    window = GateWindow(start=_day(inputs.times[lo]), end=_day(inputs.times[hi - 1]),
                        description=f"last {settings.test_sessions} sessions of the bars, daily book returns after "
                                    "spread and commission; trained only on the bars before")
    decision = PromotionGate(block=1, seed=settings.seed).decide(
        registry, name, version, evaluate=_evaluator(inputs, config, lo, hi), window=window,
        health=health_problems, force_reason=force_reason, baseline=baseline)
    return MetaRegistration(version, decision, result.learner)  # type: ignore[arg-type]
