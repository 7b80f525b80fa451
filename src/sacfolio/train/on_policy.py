"""The on-policy (PPO) training loop: collect a rollout, compute GAE, run epochs of minibatch steps.

Same contract as :func:`~sacfolio.train.off_policy.train_sac`: the same env, state and
action semantics, callbacks after every gradient step, the health monitor and the
learning-rate check by default, everything random drawn from ``seed`` — all of it
:class:`~sacfolio.train.loop.TrainingRun`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import gymnasium as gym
import numpy as np
import torch

from sacfolio.agents.buffers import RolloutBatch, RolloutBuffer
from sacfolio.agents.config import PPOConfig
from sacfolio.agents.ppo import PPO
from sacfolio.diagnostics.findings import HealthConfig
from sacfolio.train.callbacks import Callback
from sacfolio.train.loop import RunOptions, TrainingRun, TrainResult

__all__ = ["train_ppo"]


def train_ppo(env: gym.Env, *, config: PPOConfig = PPOConfig(), total_steps: int, seed: int,
              callbacks: Sequence[Callback] = (), progress: bool = True, log_dir: str | Path | None = None,
              description: str = "", log_every: int = 80, learner: PPO | None = None,
              health: HealthConfig | None = HealthConfig(), diagnostic_dir: str | Path | None = None,
              aux_returns: np.ndarray | None = None) -> TrainResult:
    """Train a PPO agent on ``env`` for ``total_steps`` environment steps.

    Rollouts of ``config.n_steps`` steps (the last one shorter if ``total_steps`` is
    not a multiple); after each, ``n_epochs`` passes of shuffled minibatches.
    Time-limit truncations (PortfolioEnv's episode ends) bootstrap from the value
    of the final observation; terminations do not.

    Parameters
    ----------
    env : gymnasium.Env
        1-D Box observations, bounded 1-D Box actions (the actor's [-1, 1] is rescaled).
    config : PPOConfig
    learner : PPO, optional
        Continue training this learner.
    total_steps, seed, callbacks, progress, log_dir, description, log_every, health, diagnostic_dir, aux_returns
        As in :class:`~sacfolio.train.loop.RunOptions`; ``seed`` also orders the
        minibatches, ``log_every`` counts minibatch steps.

    Returns
    -------
    TrainResult
        ``learner`` is the :class:`PPO`.

    Raises
    ------
    ConfigError, UnsafeLearningRateError, TrainingHealthError
        As :func:`~sacfolio.train.off_policy.train_sac`.
    """
    options = RunOptions(total_steps=total_steps, seed=seed, callbacks=callbacks, progress=progress,
                         log_dir=log_dir, description=description, log_every=log_every, health=health,
                         diagnostic_dir=diagnostic_dir, aux_returns=aux_returns)
    run = TrainingRun(env, algo="ppo", config=config, learner=learner, options=options,
                      refresh_every=config.n_steps,
                      build=lambda obs_dim, act_dim: PPO(obs_dim, act_dim, config=config, seed=seed))
    ppo: PPO = run.learner  # type: ignore[assignment]
    rollout = RolloutBuffer(config.n_steps, run.obs_dim, run.act_dim, ppo.aux_shape)
    n_rollouts = -(-int(total_steps) // config.n_steps)
    updates_per_rollout = config.n_epochs * -(-config.n_steps // config.batch_size)
    with run:
        run.callback.on_training_start(ppo, n_rollouts * updates_per_rollout)
        while run.result.n_steps < total_steps and not run.result.stopped_early:
            _collect(run, ppo, rollout, min(config.n_steps, total_steps - run.result.n_steps))
            data = rollout.finish(ppo)
            for _ in range(config.n_epochs):
                if not _epoch(run, ppo, data, config.batch_size):
                    break
            run.show_progress()
        ppo.check_nonfinite()
    return run.result


def _collect(run: TrainingRun, ppo: PPO, rollout: RolloutBuffer, n_steps: int) -> None:
    """A fresh rollout of ``n_steps`` policy samples."""
    rollout.clear()
    for _ in range(n_steps):
        action, pre_tanh, log_prob = ppo.act(run.obs)
        step = run.env_step(action)
        rollout.add(step.obs, pre_tanh, log_prob, step.reward, step.next_obs, step.terminated,
                    step.terminated or step.truncated, step.aux_target)
        run.end_step(step)


def _epoch(run: TrainingRun, ppo: PPO, data: RolloutBatch, batch_size: int) -> bool:
    """One pass over the rollout in shuffled minibatches; False once a callback stops training."""
    order = torch.randperm(len(data.obs), generator=ppo.generator)
    for idx in order.split(batch_size):
        if not run.after_update(ppo.update(data.rows(idx))):
            return False
    return True
