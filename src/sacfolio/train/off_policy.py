"""The off-policy (SAC) training loop: act, store in the replay buffer, update.

One environment step, then ``updates_per_step`` gradient updates once warm-up is
over. Everything random (initial weights, warm-up actions, policy noise, replay
indices, the env's first reset) is drawn from ``seed``, so the same seed on CPU
gives bit-identical weights. The checks, callbacks and bookkeeping around the loop
are :class:`~sacfolio.train.loop.TrainingRun`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import gymnasium as gym
import numpy as np
import torch

from sacfolio.agents.buffers import ReplayBuffer
from sacfolio.agents.config import SACConfig
from sacfolio.agents.sac import SAC
from sacfolio.diagnostics.findings import HealthConfig
from sacfolio.env.core import PortfolioCore
from sacfolio.exceptions import ConfigError
from sacfolio.train.callbacks import Callback
from sacfolio.train.counterfactual import CounterfactualActions
from sacfolio.train.loop import RunOptions, TrainingRun, TrainResult

__all__ = ["feature_columns", "train_sac"]


def train_sac(env: gym.Env, *, config: SACConfig = SACConfig(), total_steps: int, seed: int,
              callbacks: Sequence[Callback] = (), progress: bool = True, log_dir: str | Path | None = None,
              description: str = "", log_every: int = 100, learner: SAC | None = None,
              health: HealthConfig | None = HealthConfig(), diagnostic_dir: str | Path | None = None,
              aux_returns: np.ndarray | None = None) -> TrainResult:
    """Train a SAC agent on ``env`` for ``total_steps`` environment steps.

    Parameters
    ----------
    env : gymnasium.Env
        Box observation space of shape (obs_dim,) and bounded Box action space of
        shape (act_dim,). The actor acts in [-1, 1]^act_dim, rescaled to the bounds.
    config : SACConfig
        Its learning rates are checked first (:func:`~sacfolio.train.safety.check_learning_rates`).
    learner : SAC, optional
        Continue training this learner (finetuning, warm-started walk-forward folds)
        instead of a fresh one; its sizes must match the env.
    total_steps, seed, callbacks, progress, log_dir, description, log_every, health, diagnostic_dir, aux_returns
        As in :class:`~sacfolio.train.loop.RunOptions`; ``total_steps`` includes the
        warm-up, ``log_every`` counts gradient updates.

    Returns
    -------
    TrainResult

    Raises
    ------
    ConfigError
        If ``total_steps`` or ``log_every`` is not a positive int, the spaces are
        not 1-D bounded boxes, aux heads lack their labels, counterfactual actions
        (``config.counterfactual_actions``) are asked of an env that cannot replay a period,
        or feature noise (``config.feature_noise``) of an env without a flat portfolio state.
    UnsafeLearningRateError
        A learning rate above 1e-3 without ``config.allow_unsafe_lr``.
    TrainingHealthError
        The health monitor found a critical problem (policy ``stop``), or more than
        ``config.max_nonfinite_skips`` updates were skipped.
    """
    options = RunOptions(total_steps=total_steps, seed=seed, callbacks=callbacks, progress=progress,
                         log_dir=log_dir, description=description, log_every=log_every, health=health,
                         diagnostic_dir=diagnostic_dir, aux_returns=aux_returns)
    run = TrainingRun(env, algo="sac", config=config, learner=learner, options=options, refresh_every=log_every,
                      build=lambda obs_dim, act_dim: SAC(obs_dim, act_dim, config=config, seed=seed))
    sac: SAC = run.learner  # type: ignore[assignment]
    counterfactual = CounterfactualActions(env, config.counterfactual_actions) if config.counterfactual_actions else None
    noisy = feature_columns(env) if config.feature_noise else 0
    buffer = ReplayBuffer(run.obs_dim, run.act_dim, config.buffer_size, aux_shape=sac.aux_shape,
                          store_rows=counterfactual is not None)
    with run:
        run.callback.on_training_start(sac, max(0, total_steps - config.warmup_steps) * config.updates_per_step)
        for step in range(1, total_steps + 1):
            _act_and_store(run, sac, buffer, warmup=step <= config.warmup_steps)
            if step > config.warmup_steps and len(buffer) >= config.batch_size:
                for _ in range(config.updates_per_step):
                    batch = buffer.sample(config.batch_size, sac.generator)
                    if counterfactual is not None:
                        batch = counterfactual(batch, sac)
                    if noisy:
                        batch = batch.with_feature_noise(config.feature_noise, noisy, sac.generator)
                    if not run.after_update(sac.update(batch)):
                        break
            run.show_progress()
            if run.result.stopped_early:
                break
        sac.check_nonfinite()
    return run.result


def feature_columns(env: gym.Env) -> int:
    """How many leading entries of ``env``'s state are features (``SACConfig.feature_noise``
    perturbs them): the flat portfolio state's ``N * F``, before the weights."""
    core = getattr(env.unwrapped, "core", None)
    if not isinstance(core, PortfolioCore):
        raise ConfigError("feature_noise needs a flat portfolio state (PortfolioEnv), whose features come "
                          "before its weights; this env has none: set feature_noise=0")
    return core.obs_dim - core.act_dim


def _act_and_store(run: TrainingRun, sac: SAC, buffer: ReplayBuffer, *, warmup: bool) -> None:
    """One environment step: a uniform random action in warm-up, else a policy sample."""
    if warmup:
        action = torch.rand(run.act_dim, generator=sac.generator).mul_(2.0).sub_(1.0).numpy()
    else:
        obs_t = torch.from_numpy(run.obs).unsqueeze(0)
        action = sac.explore(obs_t)[0].numpy()
    step = run.env_step(action)
    buffer.add(step.obs, action, step.reward, step.next_obs, step.terminated, step.aux_target,
               step.row if buffer.store_rows else None)
    run.end_step(step)
