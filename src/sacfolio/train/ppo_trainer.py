"""The PPO training loop: collect a rollout, compute GAE, run epochs of minibatch steps.

Same contract as :func:`~sacfolio.train.trainer.train_sac`: the same env, state and
action semantics, callbacks after every gradient step, the health monitor and the
learning-rate check by default, everything random drawn from ``seed``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import gymnasium as gym
import numpy as np
import torch

from sacfolio.agents.ppo import PPO, PPOConfig, RolloutBatch, gae
from sacfolio.exceptions import ConfigError
from sacfolio.train.callbacks import Callback
from sacfolio.train.health import HealthConfig
from sacfolio.train.safety import check_learning_rates
from sacfolio.train.trainer import (TrainResult, _Guard, _Progress, _row_of, aux_target_table, box_dims,
                                    set_flush_denormals)

__all__ = ["train_ppo"]

logger = logging.getLogger(__name__)


def train_ppo(
    env: gym.Env,
    *,
    config: PPOConfig = PPOConfig(),
    total_steps: int,
    seed: int,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    log_dir: str | Path | None = None,
    description: str = "",
    log_every: int = 80,
    learner: PPO | None = None,
    health: HealthConfig | None = HealthConfig(),
    diagnostic_dir: str | Path | None = None,
    aux_returns: np.ndarray | None = None,
) -> TrainResult:
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
    total_steps : int
    seed : int
        Seeds the learner (weights, action noise, minibatch order) and the env's first reset.
    callbacks : sequence of Callback
        ``on_update`` after every minibatch step; False stops training.
    progress : bool
        Show a rich progress bar.
    log_dir : str or Path, optional
        TensorBoard directory.
    description : str
        Label of the progress bar.
    log_every : int
        Gradient steps between metric displays / TensorBoard points and checks of the
        skipped-step count.
    learner : PPO, optional
        Continue training this learner.
    health : HealthConfig or None
        Health monitor settings (default: every 1,000 steps, stop on critical).
    diagnostic_dir : str or Path, optional
        Where a health stop writes its diagnostic checkpoint.
    aux_returns : ndarray, shape (T, N), optional
        Per-row simple returns for the aux labels (see
        :func:`~sacfolio.train.trainer.aux_target_table`).

    Returns
    -------
    TrainResult
        ``learner`` is the :class:`PPO`.

    Raises
    ------
    ConfigError, UnsafeLearningRateError, TrainingHealthError
        As :func:`~sacfolio.train.trainer.train_sac`.
    """
    if int(total_steps) != total_steps or total_steps < 1:
        raise ConfigError(f"total_steps must be an int >= 1, got {total_steps!r}.")
    if int(log_every) != log_every or log_every < 1:
        raise ConfigError(f"log_every must be an int >= 1, got {log_every!r}.")
    lr_warnings = check_learning_rates("ppo", config.learning_rates(), allow_unsafe=config.allow_unsafe_lr)
    for warning in lr_warnings:
        logger.warning(warning)
    obs_dim, act_dim, low, high = box_dims(env)
    if learner is None:
        learner = PPO(obs_dim, act_dim, config=config, seed=seed)
    elif (learner.obs_dim, learner.act_dim) != (obs_dim, act_dim):
        raise ConfigError(f"the learner has obs_dim={learner.obs_dim}, act_dim={learner.act_dim} but "
                          f"the env has {obs_dim}, {act_dim}: the state layouts differ")
    aux_table = aux_target_table(env, config, learner.aux_shape, aux_returns)
    rollout = _Rollout(config.n_steps, obs_dim, act_dim, learner.aux_shape)
    guard = _Guard(callbacks, health, diagnostic_dir, log_dir, log_every)
    callback = guard.callback
    display = _Progress(description or "PPO", total_steps, config.n_steps) if progress else None
    result = TrainResult(learner=learner, lr_warnings=lr_warnings)
    n_rollouts = -(-int(total_steps) // config.n_steps)
    updates_per_rollout = config.n_epochs * -(-config.n_steps // config.batch_size)

    env.action_space.seed(seed)
    obs = np.asarray(env.reset(seed=seed)[0], dtype=np.float32)
    episode_return = 0.0
    start = time.perf_counter()
    flushed_before = set_flush_denormals(True)  # DESIGN §4: decayed weights turn denormal, matmuls slow 4x
    try:
        callback.on_training_start(learner, n_rollouts * updates_per_rollout)
        while result.n_steps < total_steps and not result.stopped_early:
            rollout.clear()
            for _ in range(min(config.n_steps, total_steps - result.n_steps)):
                action, pre_tanh, log_prob = learner.act(obs)
                env_action = action if low is None else low + (action + 1.0) * 0.5 * (high - low)
                next_obs, reward, terminated, truncated, info = env.step(env_action)
                next_obs = np.asarray(next_obs, dtype=np.float32)
                aux_target = None if aux_table is None else aux_table[_row_of(info)]
                rollout.add(obs, pre_tanh, log_prob, float(reward), next_obs, bool(terminated),
                            bool(terminated or truncated), aux_target)
                episode_return += float(reward)
                result.n_steps += 1
                obs = next_obs
                if terminated or truncated:
                    result.episode_returns.append(episode_return)
                    callback.on_episode_end(learner, result.n_steps, episode_return)
                    if display is not None:
                        display.episode(episode_return)
                    obs = np.asarray(env.reset()[0], dtype=np.float32)
                    episode_return = 0.0
            data = rollout.finish(learner)
            for _ in range(config.n_epochs):
                order = torch.randperm(len(data.obs), generator=learner.generator)
                for idx in order.split(config.batch_size):
                    metrics: dict[str, torch.Tensor | float] = dict(learner.update(_take(data, idx)))
                    result.n_updates += 1
                    metrics["charts/SPS"] = result.n_steps / (time.perf_counter() - start)
                    if not callback.on_update(learner, result.n_updates, metrics):
                        result.stopped_early = True
                        break
                    if result.n_updates % log_every == 0:
                        learner.check_nonfinite()
                        if display is not None:
                            display.metrics(metrics, guard.summary_line())
                if result.stopped_early:
                    break
            if display is not None:
                display.advance(result.n_steps)
        learner.check_nonfinite()
    finally:
        set_flush_denormals(flushed_before)
        result.wall_seconds = time.perf_counter() - start
        if display is not None:
            display.close()
        guard.close(learner)
    result.health = guard.summary()
    result.nonfinite = learner.nonfinite_counts()
    return result


def _take(data: RolloutBatch, idx: torch.Tensor) -> RolloutBatch:
    """Rows ``idx`` of every field of a rollout."""
    return RolloutBatch(*(None if f is None else f[idx] for f in data))


class _Rollout:
    """Preallocated arrays of one rollout, written step by step, turned into GAE targets."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int, aux_shape: tuple[int, int] | None) -> None:
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.pre_tanh = np.zeros((capacity, act_dim), dtype=np.float32)
        self.log_probs = np.zeros(capacity, dtype=np.float32)
        self.rewards = np.zeros(capacity, dtype=np.float64)
        self.terminated = np.zeros(capacity, dtype=bool)
        self.ends = np.zeros(capacity, dtype=bool)
        self.aux = None if aux_shape is None else np.zeros((capacity, *aux_shape), dtype=np.float32)
        self.size = 0

    def clear(self) -> None:
        self.size = 0

    def add(self, obs: np.ndarray, pre_tanh: np.ndarray, log_prob: float, reward: float, next_obs: np.ndarray,
            terminated: bool, episode_end: bool, aux_target: np.ndarray | None) -> None:
        i = self.size
        self.obs[i], self.pre_tanh[i], self.log_probs[i] = obs, pre_tanh, log_prob
        self.rewards[i], self.next_obs[i] = reward, next_obs
        self.terminated[i], self.ends[i] = terminated, episode_end
        if self.aux is not None:
            self.aux[i] = aux_target
        self.size += 1

    def finish(self, learner: PPO) -> RolloutBatch:
        """GAE advantages and returns of the collected steps, as one batch of tensors.

        The last step bootstraps from ``V(next_obs)`` even when it did not end an
        episode (the rollout was cut, the episode goes on). Steps whose advantage or
        return is not finite (a NaN reward) are masked and counted on the learner.
        """
        n, cfg = self.size, learner.config
        values = learner.values(self.obs[:n])
        next_values = np.where(self.terminated[:n], 0.0, learner.values(self.next_obs[:n]))
        ends = self.ends[:n].copy()
        adv, returns = gae(self.rewards[:n] * cfg.reward_scale, values, next_values, ends,
                           cfg.gamma, cfg.gae_lambda)
        mask = np.isfinite(adv) & np.isfinite(returns)
        n_bad = int(n - mask.sum())
        if n_bad:
            learner.count_masked(n_bad)
            logger.warning("%d of %d rollout steps have non-finite advantages (NaN/inf rewards or "
                           "observations); they are masked from the PPO losses", n_bad, n)
        adv, returns = np.where(mask, adv, 0.0), np.where(mask, returns, 0.0)
        if cfg.normalize_advantage and mask.sum() > 1:
            good = adv[mask]
            adv = np.where(mask, (adv - good.mean()) / (good.std() + 1e-8), 0.0)
        # masked rows may hold NaN inputs; zero them so 0 * NaN cannot reach a gradient
        clean = {"nan": 0.0, "posinf": 0.0, "neginf": 0.0}
        return RolloutBatch(
            obs=torch.from_numpy(np.nan_to_num(self.obs[:n], **clean)),
            pre_tanh=torch.from_numpy(np.nan_to_num(self.pre_tanh[:n], **clean)),
            log_probs=torch.from_numpy(np.nan_to_num(self.log_probs[:n], **clean)),
            advantages=torch.from_numpy(adv.astype(np.float32)),
            returns=torch.from_numpy(returns.astype(np.float32)),
            mask=torch.from_numpy(mask.astype(np.float32)),
            aux_targets=None if self.aux is None else torch.from_numpy(self.aux[:n].copy()),
        )
