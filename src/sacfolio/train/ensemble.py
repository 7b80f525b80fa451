"""The K members of a seed ensemble trained together: one batched learner, K training runs.

A seed ensemble trains K SAC agents on the same data with different seeds. Trained
one after another, each pays the whole fixed cost of a small update (dispatch,
Python, optimizer bookkeeping); here their updates are one
:class:`~sacfolio.agents.batched.BatchedSAC` step and their policy samples one batched
forward pass, while everything else stays each member's own, exactly as
:func:`~sacfolio.train.off_policy.train_sac` does it for one agent: its env (seeded
with its seed), its replay buffer, its generator (warm-up actions, policy noise,
replay indices), its :class:`~sacfolio.train.loop.TrainingRun` (learning-rate checks,
health monitor, TensorBoard, non-finite counts, result). So member k's weights,
actions and results are those of ``train_model(..., seed=seeds[k])`` to float
rounding (an equality test holds them to 1e-5).

What cannot be batched trains one member at a time, as before
(:func:`trains_together` says which): PPO, the universal slot model, other actor and
critic architectures (``SACConfig.network`` other than ``"mlp"``), and the health
policy "repair" (it rewrites one learner's weights, refused here). The walk-forward
passes no callbacks of its own; this module's runs have the default health monitor,
TensorBoard when asked for, and member 0's progress bar. ``SACFOLIO_BATCHED_ENSEMBLES=0``
turns batching off everywhere, e.g. to compare the two.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from sacfolio.agents.batched import BatchedSAC
from sacfolio.agents.buffers import ReplayBatch, ReplayBuffer
from sacfolio.agents.config import SACConfig
from sacfolio.agents.sac import SAC
from sacfolio.data.panel import MarketPanel
from sacfolio.diagnostics.findings import HealthConfig
from sacfolio.env.config import EnvConfig
from sacfolio.env.gym_env import PortfolioEnv
from sacfolio.exceptions import ConfigError, TrainingHealthError
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.variants import UNIVERSAL_VARIANT, FeatureSources, variant_of_model
from sacfolio.train.loop import RunOptions, TrainingRun, TrainResult
from sacfolio.train.off_policy import feature_columns
from sacfolio.train.portfolio import PORTFOLIO_PPO, TrainedModel, trained_model, training_envs

__all__ = ["BATCHED_ENSEMBLES_ENV", "batched_ensembles_on", "train_members", "train_sac_members",
           "trains_together"]

BATCHED_ENSEMBLES_ENV = "SACFOLIO_BATCHED_ENSEMBLES"
"""Environment variable: ``0`` trains ensemble members one at a time (the reference), else together."""


def batched_ensembles_on() -> bool:
    """Whether seed-ensemble members train together (``SACFOLIO_BATCHED_ENSEMBLES`` is not ``0``)."""
    return os.environ.get(BATCHED_ENSEMBLES_ENV, "1").strip() != "0"


def trains_together(*, algo: str, variant: str, sac_config: SACConfig, members: int) -> bool:
    """Whether :func:`train_members` can train ``members`` agents of these settings as one batched
    model: SAC with the MLP actor and critics on a flat-state variant, without counterfactual
    actions or a holdout check, more than one member, batching not switched off."""
    if members < 2 or algo != "sac" or not batched_ensembles_on():
        return False
    if variant_of_model(variant) == UNIVERSAL_VARIANT or getattr(sac_config, "network", "mlp") != "mlp":
        return False
    if getattr(sac_config, "counterfactual_actions", 0) or getattr(sac_config, "holdout_weeks", 0):
        return False
    return SAC(1, 2, config=sac_config, seed=0).fast_path     # the MLPs on the hand-derived fast path


class _Member:
    """Member k of a :class:`BatchedSAC` as the one learner its :class:`TrainingRun` and callbacks see.

    Counts are read from the batched model; :meth:`modules` materializes the member as a
    plain :class:`SAC` (weights and the last update's clipped gradients), once per update.
    """

    def __init__(self, batched: BatchedSAC, k: int) -> None:
        self.batched, self.k = batched, k
        self.obs_dim, self.act_dim, self.config = batched.obs_dim, batched.act_dim, batched.config
        self.aux_shape = batched.aux_shape
        self._view: tuple[int, SAC] | None = None

    def learner(self) -> SAC:
        """The member now, as a plain SAC (cached until the next update)."""
        if self._view is None or self._view[0] != self.batched.n_updates:
            self._view = (self.batched.n_updates, self.batched.agent(self.k, grads=True))
        return self._view[1]

    def modules(self) -> Mapping[str, nn.Module]:
        return self.learner().modules()

    def optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        return self.learner().optimizers()

    def nonfinite_counts(self) -> dict[str, int]:
        b, k = self.batched, self.k
        return {"skipped_updates": int(b.skipped[k]), "nonfinite_targets": int(b.nonfinite_targets[k])}

    def check_nonfinite(self) -> None:
        if self.nonfinite_counts()["skipped_updates"] > self.config.max_nonfinite_skips:
            self.learner().check_nonfinite()        # raises, with SAC's message


def train_sac_members(envs: Sequence[PortfolioEnv], *, config: SACConfig, learners: Sequence[SAC],
                      seeds: Sequence[int], total_steps: int, progress: bool = True,
                      log_dirs: Sequence[str | Path | None] | None = None, descriptions: Sequence[str] = (),
                      log_every: int = 100, health: HealthConfig | None = HealthConfig(),
                      diagnostic_dir: str | Path | None = None) -> list[TrainResult]:
    """:func:`~sacfolio.train.off_policy.train_sac` of every ``(env, learner, seed)``, trained together.

    Member k's run is ``train_sac(envs[k], config=config, learner=learners[k], seed=seeds[k], ...)``
    (learners fresh or loaded from a warm start, Adam not yet stepped); only the progress
    bar is member 0's alone. ``wall_seconds`` of each result is the time of the whole batch.

    Raises
    ------
    ConfigError, UnsafeLearningRateError, TrainingHealthError
        As :func:`train_sac` (a member whose health check stops it stops the batch).
    """
    if health is not None and health.policy == "repair":
        raise ConfigError("the 'repair' health policy rewrites one learner's weights; train these members "
                          f"one at a time ({BATCHED_ENSEMBLES_ENV}=0)")
    batched = BatchedSAC.of(learners)
    members = [_Member(batched, k) for k in range(batched.k)]
    log_dirs = [None] * batched.k if log_dirs is None else list(log_dirs)
    runs = [TrainingRun(env, algo="sac", config=config, learner=member, refresh_every=log_every,  # type: ignore[arg-type]
                        build=None,  # type: ignore[arg-type]
                        options=RunOptions(total_steps=total_steps, seed=seed, progress=progress and k == 0,
                                           log_dir=log_dir, description=(list(descriptions) + [""] * batched.k)[k],
                                           log_every=log_every, health=health, diagnostic_dir=diagnostic_dir))
            for k, (env, member, seed, log_dir) in enumerate(zip(envs, members, seeds, log_dirs, strict=True))]
    buffers = [ReplayBuffer(run.obs_dim, run.act_dim, config.buffer_size, aux_shape=batched.aux_shape)
               for run in runs]
    noisy = feature_columns(envs[0]) if config.feature_noise else 0
    total_updates = max(0, total_steps - config.warmup_steps) * config.updates_per_step
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        for run in runs:
            stack.enter_context(run)
        for run, member in zip(runs, members):
            run.callback.on_training_start(member, total_updates)  # type: ignore[arg-type]
        for step in range(1, total_steps + 1):
            _act_and_store(runs, batched, buffers, warmup=step <= config.warmup_steps)
            if step > config.warmup_steps and len(buffers[0]) >= config.batch_size:
                for _ in range(config.updates_per_step):
                    _update(runs, batched, buffers, config.batch_size, config.feature_noise, noisy)
            for run in runs:
                run.show_progress()
        for member in members:
            member.check_nonfinite()
    results = [run.result for run in runs]
    wall = time.perf_counter() - start
    for k, result in enumerate(results):
        result.learner, result.wall_seconds = batched.agent(k), wall
    return results


def _act_and_store(runs: Sequence[TrainingRun], batched: BatchedSAC, buffers: Sequence[ReplayBuffer], *,
                   warmup: bool) -> None:
    """One env step of every member: uniform random actions in warm-up, else policy samples."""
    if warmup:
        actions = [torch.rand(batched.act_dim, generator=g).mul_(2.0).sub_(1.0).numpy()
                   for g in batched.generators]
    else:
        actions = list(batched.explore(torch.from_numpy(np.stack([run.obs for run in runs]))).numpy())
    for run, buffer, action in zip(runs, buffers, actions):
        step = run.env_step(action)
        buffer.add(step.obs, action, step.reward, step.next_obs, step.terminated, step.aux_target)
        run.end_step(step)


def _update(runs: Sequence[TrainingRun], batched: BatchedSAC, buffers: Sequence[ReplayBuffer],
            batch_size: int, noise: float = 0.0, noisy: int = 0) -> None:
    """One batched update on each member's own replay sample (its first ``noisy`` state
    entries perturbed by ``noise``, as :func:`train_sac` does), then each run's bookkeeping."""
    batches = [buf.sample(batch_size, g) for buf, g in zip(buffers, batched.generators)]
    if noisy:
        batches = [b.with_feature_noise(noise, noisy, g) for b, g in zip(batches, batched.generators)]
    aux = None if batches[0].aux_targets is None else torch.stack([b.aux_targets for b in batches])
    stacked = ReplayBatch(*(torch.stack(f) for f in list(zip(*batches))[:5]), aux_targets=aux)
    metrics = batched.update(stacked)
    keys = list(metrics)
    rows = torch.stack([metrics[key] for key in keys], 1).tolist()        # (K, metrics): one host copy
    for run, row in zip(runs, rows):
        if not run.after_update(dict(zip(keys, row))):
            raise TrainingHealthError("a callback asked one member of a batched seed ensemble to stop; "
                                      "its members train in lockstep (set SACFOLIO_BATCHED_ENSEMBLES=0)")


def train_members(panel: MarketPanel, *, train_stop: int, train_start: int = 0, variant: str,
                  env_config: EnvConfig, sac_config: SACConfig, steps: int, seeds: Sequence[int],
                  inits: Sequence[TrainedModel | None] | None = None, features: FeatureSet | None = None,
                  sources: FeatureSources = FeatureSources(), progress: bool = True,
                  log_dirs: Sequence[str | Path | None] | None = None, description: str = "",
                  diagnostic_dir: str | Path | None = None) -> list[TrainedModel]:
    """``[train_model(panel, seed=s, init=i, ...) for s, i in zip(seeds, inits)]`` for SAC, trained together.

    Use when :func:`trains_together` says so. Member k is built as ``train_model`` builds
    it (from ``seeds[k]``; with ``inits[k]``, a single model, loaded from its weights) and
    trained by :func:`train_sac_members`; the scaler is fitted once on rows ``< train_stop``.
    """
    inits = [None] * len(seeds) if inits is None else list(inits)
    raw, scaler, envs = training_envs(panel, train_start=train_start, train_stop=train_stop, variant=variant,
                                      env_config=env_config, features=features, scaler=None, sources=sources,
                                      progress=progress, count=len(seeds))
    obs_dim, act_dim = envs[0].observation_space.shape[0], envs[0].action_space.shape[0]
    learners = []
    for seed, init in zip(seeds, inits, strict=True):
        sac = SAC(obs_dim, act_dim, config=sac_config, seed=seed)
        if init is not None:
            sac.load_state_dicts(init.learner.state_dicts())
        learners.append(sac)
    results = train_sac_members(envs, config=sac_config, learners=learners, seeds=seeds, total_steps=steps,
                                progress=progress, log_dirs=log_dirs, diagnostic_dir=diagnostic_dir,
                                descriptions=[f"{description} ({len(seeds)} members batched)".strip()])
    return [trained_model(result, algo="sac", sac_config=sac_config, ppo_config=PORTFOLIO_PPO, panel=panel,
                          raw=raw, scaler=scaler, variant=variant, env_config=env_config, sources=sources,
                          train_window=(train_start, train_stop)) for result in results]
