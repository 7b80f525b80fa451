"""Run a walk-forward plan: train every task, backtest each fold's model, run the
baselines through the same broker, and collect the out-of-sample record.

Tasks run one after another here; each carries its own seeds, so running the same
tasks elsewhere (another process, a cluster) gives the same results. The K member
tasks of a seed ensemble that cover the same folds run as one :class:`MemberGroup`
when their learner can be batched (:func:`~sacfolio.train.ensemble.trains_together`):
one job trains the K members together and returns each member's own
:class:`TaskResult`, the one its task alone would give (to float rounding), cached
under that task's key. With ``workers`` processes a group is split into that many
parts, so both cores train.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from sacfolio.agents.config import SACConfig
from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import EnvConfig
from sacfolio.evaluate.backtest import backtest_strategy
from sacfolio.evaluate.results import BacktestResult, Fold, WalkForwardResult
from sacfolio.evaluate.walkforward import (AGENT, TrainingTask, WalkForwardConfig, WalkForwardPlan,
                                           backtest_model, plan_walk_forward)
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.variants import UNIVERSAL_VARIANT, FeatureSources, build_features
from sacfolio.strategies import make_strategies
from sacfolio.strategies.base import Strategy
from sacfolio.train.ensemble import train_members, trains_together
from sacfolio.train.portfolio import PORTFOLIO_SAC, TrainedModel, ensemble_model, ensemble_record, train_model
from sacfolio.workflows.executors import TaskCache, check_executor, run_tasks
from sacfolio.workflows.task_cache import TaskResultCache, run_fingerprint

__all__ = ["MemberGroup", "TaskResult", "group_members", "run_member_group", "run_task", "run_walk_forward"]

OnFold = Callable[[Fold, TrainedModel], None]


@dataclass(kw_only=True)
class TaskResult:
    """What one training task produced: a model and a backtest per fold, with timings."""

    task: TrainingTask
    models: list[TrainedModel] = field(default_factory=list)
    backtests: list[BacktestResult] = field(default_factory=list)
    training: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0
    backtest_seconds: float = 0.0


def run_task(task: TrainingTask, panel: MarketPanel, features: FeatureSet, *, variant: str,
             env_config: EnvConfig, sac_config: SACConfig, sources: FeatureSources, progress: bool,
             log_dir: str | Path | None, on_fold: OnFold | None = None) -> TaskResult:
    """Train ``task``'s folds in order (warm-started when the task says so) and backtest each."""
    out = TaskResult(task=task)
    previous: TrainedModel | None = None
    for k, (fold, seed, steps) in enumerate(zip(task.folds, task.seeds, task.steps)):
        t0 = time.perf_counter()
        warm = task.warm_start and previous is not None
        trained = train_model(
            panel, train_start=fold.train_start, train_stop=fold.train_stop, variant=variant,
            env_config=env_config, sac_config=sac_config, algo=task.agent, steps=steps, seed=seed,
            init=previous if warm else None, features=features, sources=sources, progress=progress,
            log_dir=None if log_dir is None else Path(log_dir) / f"{task.agent}_fold_{fold.label}",
            description=f"{task.agent} fold {fold.label}",
        )
        t1 = time.perf_counter()
        out.backtests.append(backtest_model(trained.bundle, panel, fold, name=task.agent, features=features))
        out.train_seconds += t1 - t0
        out.backtest_seconds += time.perf_counter() - t1
        out.models.append(trained)
        out.training.append(_training_row(task.agent, fold, trained, warm, t1 - t0, task.member))
        previous = trained
        if on_fold is not None and task.agent == AGENT:
            on_fold(fold, trained)
    return out


def _training_row(agent: str, fold: Fold, trained: TrainedModel, warm: bool, seconds: float,
                  member: int) -> dict:
    tr = trained.train_result
    return {
        "agent": agent, "fold": fold.label, "member": member, "train_window": list(trained.bundle.train_window),
        "warm_start": warm, "steps": tr.n_steps, "updates": tr.n_updates,
        "seconds": round(seconds, 2), "steps_per_second": round(tr.steps_per_second, 1),
        "last_episode_returns": [round(x, 5) for x in tr.episode_returns[-5:]],
        "stopped_early": bool(tr.stopped_early), "health": tr.health.get("status"),
        **({"holdout": [dict(c) for c in trained.bundle.holdout]} if trained.bundle.holdout else {}),
    }


@dataclass(frozen=True)
class MemberGroup:
    """Member tasks of one seed ensemble over the same folds (same steps and warm start, their
    own seeds), run as one job that trains the members together."""

    tasks: tuple[TrainingTask, ...]


def group_members(tasks: Sequence[TrainingTask], parts: int = 1) -> list[TrainingTask | MemberGroup]:
    """``tasks`` with the member tasks of each chain of folds split into ``parts`` groups (one per
    worker; a part of one member stays a plain task), each at its first member's place in the plan."""
    chains: dict[tuple, list[TrainingTask]] = {}
    for task in tasks:
        chains.setdefault((task.agent, task.folds, task.steps, task.warm_start), []).append(task)
    out: list[TrainingTask | MemberGroup] = []
    for task in tasks:
        chain = chains[(task.agent, task.folds, task.steps, task.warm_start)]
        if task is not chain[0]:
            continue
        n = max(1, min(parts, len(chain)))
        for part in (chain[i::n] for i in range(n)):
            out.append(MemberGroup(tuple(part)) if len(part) > 1 else part[0])
    return out


def run_member_group(group: MemberGroup, panel: MarketPanel, features: FeatureSet, *, variant: str,
                     env_config: EnvConfig, sac_config: SACConfig, sources: FeatureSources, progress: bool,
                     log_dir: str | Path | None, on_fold: OnFold | None = None) -> list[TaskResult]:
    """:func:`run_task` of every member task of ``group``, fold by fold, the members trained together.

    Each member's training row records its share of the batch's seconds (its ``wall_seconds``
    and ``steps_per_second`` are the whole batch's); the rows are otherwise those of
    :func:`run_task`, so a batched run and a separate one write the same record.
    """
    tasks, first = group.tasks, group.tasks[0]
    outs = [TaskResult(task=task) for task in tasks]
    previous: list[TrainedModel] | None = None
    for i, fold in enumerate(first.folds):
        t0 = time.perf_counter()
        warm = first.warm_start and previous is not None
        models = train_members(
            panel, train_start=fold.train_start, train_stop=fold.train_stop, variant=variant,
            env_config=env_config, sac_config=sac_config, steps=first.steps[i], seeds=[t.seeds[i] for t in tasks],
            inits=previous if warm else None, features=features, sources=sources, progress=progress,
            log_dirs=[None if log_dir is None else Path(_member_dir(log_dir, t.member)) / f"{t.agent}_fold_{fold.label}"
                      for t in tasks],
            description=f"{first.agent} fold {fold.label}")
        share = (time.perf_counter() - t0) / len(tasks)
        for out, task, model in zip(outs, tasks, models):
            t1 = time.perf_counter()
            out.backtests.append(backtest_model(model.bundle, panel, fold, name=task.agent, features=features))
            out.train_seconds += share
            out.backtest_seconds += time.perf_counter() - t1
            out.models.append(model)
            out.training.append(_training_row(task.agent, fold, model, warm, share, task.member))
            if on_fold is not None and task.agent == AGENT:
                on_fold(fold, model)
        previous = models
    return outs


class _MemberGroupCache:
    """A task cache seen through member groups: a group is found when every member task is, and
    saved as its member tasks (so batched and separate runs share entries)."""

    def __init__(self, cache: TaskCache) -> None:
        self.cache = cache
        self._members: dict[str, list[str]] = {}

    def key(self, item: TrainingTask | MemberGroup) -> str:
        if not isinstance(item, MemberGroup):
            return self.cache.key(item)
        keys = [self.cache.key(task) for task in item.tasks]
        group_key = "group:" + "+".join(keys)
        self._members[group_key] = keys
        return group_key

    def load(self, key: str) -> Any:
        if key not in self._members:
            return self.cache.load(key)
        results = []
        for member_key in self._members[key]:
            hit = self.cache.load(member_key)
            if hit is None:
                return None
            results.append(hit)
        return results

    def save(self, key: str, result: Any) -> None:
        if key not in self._members:
            self.cache.save(key, result)
            return
        for member_key, member in zip(self._members[key], result, strict=True):
            self.cache.save(member_key, member)


def run_walk_forward(
    panel: MarketPanel,
    *,
    config: WalkForwardConfig = WalkForwardConfig(),
    env_config: EnvConfig = EnvConfig(),
    sac_config: SACConfig = PORTFOLIO_SAC,
    progress: bool = True,
    log_dir: str | Path | None = None,
    on_fold: OnFold | None = None,
    sources: FeatureSources = FeatureSources(),
    cache_dir: str | Path | None = None,
    extra_strategies: Mapping[str, Strategy] = MappingProxyType({}),
    executor: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    task_cache: str | Path | TaskResultCache | None = None,
) -> tuple[WalkForwardResult, TrainedModel]:
    """Plan, train and test fold by fold; return every strategy's results and the last model.

    Parameters
    ----------
    on_fold : callable, optional
        Called with each fold and its trained SAC model (each ensemble member's, in
        turn), e.g. to print progress.
    extra_strategies : mapping, optional
        Strategies beyond ``config.baselines`` run on the same folds and broker (e.g. the
        known-model policy of a generated market).
    executor : {"local", "process", "ray"}
        Where the training tasks run (:mod:`sacfolio.workflows.executors`); the results
        are the same either way. ``workers`` caps the process pool or the CPUs of a local
        Ray (default: CPU count); ``ray_address`` attaches to an existing Ray cluster.
    task_cache : path or TaskResultCache, optional
        Where finished tasks are kept: a run interrupted and started again with the same
        data and settings runs only the tasks not yet done.

    Returns
    -------
    (WalkForwardResult, TrainedModel)
        The last fold's SAC model (a seed ensemble when ``config.seeds`` > 1) was trained
        on everything before the last test year.
    """
    plan = plan_walk_forward(panel, config)
    raw = build_features(panel, config.variant, sources=sources, cache_dir=cache_dir, progress=progress)
    check_executor(executor, workers)
    items = _plan_items(plan, sac_config, 1 if executor == "local" else workers or os.cpu_count() or 1)
    parallel = executor != "local" and len(items) > 1
    run = functools.partial(_run_planned_task, panel=panel, features=raw, variant=config.variant,
                            env_config=env_config, sac_config=sac_config, sources=sources,
                            progress=progress and not parallel, log_dir=log_dir,
                            on_fold=None if parallel else on_fold)

    def done_fold(item: TrainingTask | MemberGroup, result: TaskResult | list[TaskResult]) -> None:
        for task, one in _pairs(item, result):
            if parallel and on_fold is not None and task.agent == AGENT:
                for fold, model in zip(task.folds, one.models):
                    on_fold(fold, model)

    cache = None if task_cache is None else _MemberGroupCache((
        task_cache if isinstance(task_cache, TaskResultCache) else TaskResultCache(task_cache)).bind(
        run_fingerprint(panel, raw, variant=config.variant, env_config=env_config, sac_config=sac_config,
                        sources=sources)))
    done = [one for item, result in zip(items, run_tasks(items, run, executor=executor, workers=workers,
                                                          on_done=done_fold, cache=cache,
                                                          ray_address=ray_address, progress=progress))
            for _, one in _pairs(item, result)]
    results, members, models = _agent_results(plan, done, panel, raw)
    t0 = time.perf_counter()
    strategies = {**make_strategies(panel, config.baselines, rules=env_config.rules), **dict(extra_strategies)}
    for name, strategy in strategies.items():
        results[name] = [backtest_strategy(panel, strategy, fold, env_config.rules, name=name)
                         for fold in plan.folds]
    baseline_seconds = time.perf_counter() - t0
    model = models[AGENT][-1]
    info = _run_info(plan, raw, sources, env_config, sac_config, done, model, baseline_seconds, panel)
    info["baseline_fallbacks"] = {n: int(getattr(s, "fallbacks", 0)) for n, s in strategies.items()}
    info.update(_ensemble_checks(plan.folds, models[AGENT]))
    if config.variant == UNIVERSAL_VARIANT:  # advisor mixtures, the universe-change backtests
        from sacfolio.workflows.universal import universal_record

        info.update(universal_record(models[AGENT], panel, plan.folds, raw))
    wf = WalkForwardResult(symbols=panel.symbols, folds=plan.folds,
                           results={k: tuple(v) for k, v in results.items()}, info=info, members=members)
    return wf, model


def _plan_items(plan: WalkForwardPlan, sac_config: SACConfig, parts: int) -> list[TrainingTask | MemberGroup]:
    """The plan's tasks, the SAC members of each chain in ``parts`` :class:`MemberGroup` when they
    can train together (:func:`~sacfolio.train.ensemble.trains_together`)."""
    config = plan.config
    if not trains_together(algo=AGENT, variant=config.variant, sac_config=sac_config, members=config.seeds):
        return list(plan.tasks)
    return group_members([t for t in plan.tasks if t.agent == AGENT], parts) + [
        t for t in plan.tasks if t.agent != AGENT]


def _run_planned_task(item: TrainingTask | MemberGroup, *, log_dir: str | Path | None,
                      **kwargs) -> TaskResult | list[TaskResult]:
    """:func:`run_task` (a group: :func:`run_member_group`) with member k's TensorBoard logs under
    ``member_<k>`` (picklable)."""
    if isinstance(item, MemberGroup):
        return run_member_group(item, log_dir=log_dir, **kwargs)
    return run_task(item, log_dir=None if log_dir is None else _member_dir(log_dir, item.member), **kwargs)


def _member_dir(log_dir: str | Path, member: int) -> str | Path:
    return log_dir if member == 0 else Path(log_dir) / f"member_{member}"


def _pairs(item: TrainingTask | MemberGroup, result: TaskResult | list[TaskResult]
           ) -> list[tuple[TrainingTask, TaskResult]]:
    """(task, result) of a plan item: one task, or each member task of a group."""
    if isinstance(item, MemberGroup):
        return list(zip(item.tasks, result, strict=True))  # type: ignore[arg-type]
    return [(item, result)]  # type: ignore[list-item]


def _agent_results(plan: WalkForwardPlan, done: list[TaskResult], panel: MarketPanel, raw: FeatureSet):
    """Per agent: the fold results of its (ensemble) models, each member's results and the
    fold models. One member: the task's own backtests; K members: each fold's ensemble
    (:func:`~sacfolio.train.portfolio.ensemble_model`, which checks a mean action's tilts
    when the members were holdout-checked) backtested, the members' backtests kept for the band."""
    results: dict[str, list[BacktestResult]] = {}
    members: dict[str, tuple[tuple[BacktestResult, ...], ...]] = {}
    models: dict[str, list[TrainedModel]] = {}
    for agent in plan.config.agents:
        by_member: dict[int, dict[str, tuple[TrainedModel, BacktestResult]]] = {}
        for r in (r for r in done if r.task.agent == agent):
            for fold, m, b in zip(r.task.folds, r.models, r.backtests):
                by_member.setdefault(r.task.member, {})[fold.label] = (m, b)
        order = sorted(by_member)
        if len(order) == 1:
            models[agent] = [by_member[order[0]][f.label][0] for f in plan.folds]
            results[agent] = [by_member[order[0]][f.label][1] for f in plan.folds]
            continue
        models[agent] = []
        for f in plan.folds:  # a warm-started fold's ensemble check pools into the previous fold's record
            previous = ensemble_record(models[agent][-1]) if models[agent] and plan.config.warm_start else None
            models[agent].append(ensemble_model([by_member[k][f.label][0] for k in order],
                                                mix=plan.config.ensemble_mix, panel=panel, features=raw,
                                                previous=previous))
        results[agent] = [backtest_model(m.bundle, panel, f, name=agent, features=raw)
                          for m, f in zip(models[agent], plan.folds)]
        members[agent] = tuple(tuple(by_member[k][f.label][1] for f in plan.folds) for k in order)
    return results, members, models


def _ensemble_checks(folds: Sequence[Fold], models: Sequence[TrainedModel]) -> dict:
    """``{"ensemble_holdout": [...]}``: per fold, the check of the members' mean action that
    decided for all of them (:func:`~sacfolio.train.portfolio.ensemble_model`); ``{}`` if none."""
    checks = [{"fold": f.label, **m.bundle.holdout[0]["ensemble"]} for f, m in zip(folds, models)
              if m.bundle.holdout and "ensemble" in m.bundle.holdout[0]]
    return {"ensemble_holdout": checks} if checks else {}


def _run_info(plan: WalkForwardPlan, raw: FeatureSet, sources: FeatureSources, env_config: EnvConfig,
              sac_config: SACConfig, done: list[TaskResult], model: TrainedModel, baseline_seconds: float,
              panel: MarketPanel) -> dict:
    """The run's settings, training log and timings, for the report's metrics.json."""
    config = plan.config
    training = sorted((row for r in done for row in r.training),
                      key=lambda row: ([f.label for f in plan.folds].index(row["fold"]),
                                       config.agents.index(row["agent"]), row["member"]))
    return {
        "agent": AGENT,
        "variant": config.variant,
        "state_features": list(raw.names),
        "sources": sources.to_dict(),
        "walk_forward": config.to_dict(),
        "env": env_config.to_dict(),
        "costs": {"cost_bps": env_config.rules.cost_bps,
                  "train_cost_multiplier": env_config.train_cost_multiplier,
                  "train_cost_bps": env_config.rules.cost_bps * env_config.train_cost_multiplier,
                  "note": "training envs charge train_cost_bps; every backtest here pays cost_bps"},
        "sac": sac_config.to_dict(),
        "agents": list(config.agents),
        "training": training,
        "health": model.train_result.health if model.train_result else {},
        "seconds": {"train": round(sum(r.train_seconds for r in done), 1),
                    "backtest": round(sum(r.backtest_seconds for r in done), 2),
                    "baselines": round(baseline_seconds, 1)},
        "data": {"source": panel.source, "start": str(panel.dates[0]), "end": str(panel.dates[-1]),
                 "symbols": list(panel.symbols)},
    }
