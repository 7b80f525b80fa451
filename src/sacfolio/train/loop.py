"""The training-loop skeleton both learners run in: one home for a run's bookkeeping.

:func:`~sacfolio.train.off_policy.train_sac` and
:func:`~sacfolio.train.on_policy.train_ppo` differ only in how they act and when
they update; everything around that is a :class:`TrainingRun`:

- the checks before anything is built (step counts, learning rates against
  :data:`~sacfolio.train.safety.LR_RANGES`, 1-D bounded box spaces, the learner's
  sizes against the env's);
- the callbacks of the run: the caller's, a
  :class:`~sacfolio.train.callbacks.health.HealthMonitor` (stop on critical findings,
  warn otherwise, by default), TensorBoard and the progress bar;
- the env's seeding and resets, the rescaling of the actor's [-1, 1] actions to the
  action box, the aux labels of each step, the episode returns;
- the update count, ``charts/SPS``, stopping when a callback says so, the periodic
  check of skipped non-finite updates;
- flushing denormal floats while training (weights decayed towards zero turn
  denormal and make CPU matmuls ~4x slower) and restoring the caller's setting;
- the :class:`TrainResult`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Sequence

import gymnasium as gym
import numpy as np
import torch

from sacfolio.agents.learner import ActorLearner
from sacfolio.diagnostics.findings import HealthConfig
from sacfolio.exceptions import ConfigError
from sacfolio.train.callbacks import Callback, CallbackList
from sacfolio.train.callbacks.health import HealthMonitor
from sacfolio.train.callbacks.progress import ProgressBar
from sacfolio.train.callbacks.tensorboard import TensorBoardCallback
from sacfolio.train.labels import aux_target_table, row_of
from sacfolio.train.safety import check_learning_rates

if TYPE_CHECKING:  # pragma: no cover
    from sacfolio.agents.config import PPOConfig, SACConfig
    from sacfolio.agents.ppo import PPO
    from sacfolio.agents.sac import SAC

__all__ = ["RunOptions", "Step", "TrainResult", "TrainingRun", "box_dims", "flushing_denormals",
           "set_flush_denormals"]

logger = logging.getLogger(__name__)
_LOGGED_LR_WARNINGS: set[str] = set()
"""Learning-rate warnings already logged by this process (the result of every run still lists its own)."""


@dataclass(kw_only=True)
class TrainResult:
    """Outcome of :func:`~sacfolio.train.off_policy.train_sac` and :func:`~sacfolio.train.on_policy.train_ppo`.

    Attributes
    ----------
    learner : SAC or PPO
        The trained learner (its ``policy()`` is the actor).
    episode_returns : list of float
        Summed reward of every episode that finished during training, in order.
    n_steps : int
        Environment steps taken.
    n_updates : int
        Gradient updates made (skipped ones included).
    wall_seconds : float
        Wall-clock time of the loop.
    stopped_early : bool
        True if a callback stopped training before ``total_steps``.
    health : dict
        :meth:`HealthMonitor.summary` of the run (``status``, ``findings``, ...), for
        ``metadata.json``; empty when the run had no monitor.
    lr_warnings : list of str
        Learning rates outside the recommended range (refused ones raise instead).
    nonfinite : dict of str to int
        ``skipped_updates`` (non-finite loss or gradient) and ``nonfinite_targets``
        (masked critic / value targets) over the run.
    """

    learner: "SAC | PPO"
    episode_returns: list[float] = field(default_factory=list)
    n_steps: int = 0
    n_updates: int = 0
    wall_seconds: float = 0.0
    stopped_early: bool = False
    health: dict[str, Any] = field(default_factory=dict)
    lr_warnings: list[str] = field(default_factory=list)
    nonfinite: dict[str, int] = field(default_factory=dict)

    @property
    def steps_per_second(self) -> float:
        """Environment steps per wall-clock second."""
        return self.n_steps / self.wall_seconds if self.wall_seconds > 0 else 0.0


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """What every training run takes besides its learner's config.

    Attributes
    ----------
    total_steps : int
        Environment steps (SAC: warm-up included).
    seed : int
        Seeds the learner (weights, noise, sampling), the env's first reset and its action space.
    callbacks : sequence of Callback
        Called in order; any ``on_update`` returning False stops training.
    progress : bool
        Show a rich progress bar (episode return, losses, alpha, steps/s, health).
    log_dir : str or Path, optional
        Write TensorBoard scalars there (every ``losses/*`` and ``charts/*`` metric of
        an update, ``charts/episode_return``, ``charts/SPS``, ``health/*``).
    description : str
        Label of the progress bar (default: the algorithm's name).
    log_every : int
        Updates between metric displays / TensorBoard points and checks of the count
        of skipped updates against ``max_nonfinite_skips``.
    health : HealthConfig or None
        Settings of the :class:`HealthMonitor` added to the callbacks (default: check
        every 1,000 updates, stop on critical findings, warn otherwise); None runs
        without one.
    diagnostic_dir : str or Path, optional
        Where a health stop writes its diagnostic checkpoint.
    aux_returns : ndarray, shape (T, N), optional
        Simple returns of the env's rows, the source of the aux heads' labels when the
        config has ``aux``; default ``env.unwrapped.core.returns``
        (see :func:`~sacfolio.train.labels.aux_target_table`).
    """

    total_steps: int
    seed: int
    callbacks: Sequence[Callback] = ()
    progress: bool = True
    log_dir: str | Path | None = None
    description: str = ""
    log_every: int = 100
    health: HealthConfig | None = HealthConfig()
    diagnostic_dir: str | Path | None = None
    aux_returns: np.ndarray | None = None


class Step(NamedTuple):
    """One environment step as the learner stores it (``obs`` is the state it acted in)."""

    obs: np.ndarray
    next_obs: np.ndarray
    reward: float
    terminated: bool
    truncated: bool
    aux_target: np.ndarray | None
    row: int | None = None
    """The env's decision row (``info["t"]``; None when the env reports none)."""


class TrainingRun:
    """The bookkeeping of one training run; use as a context manager around the loop.

    Parameters
    ----------
    env : gymnasium.Env
        1-D Box observations and a bounded 1-D Box of actions (see :func:`box_dims`).
    algo : str
        ``"sac"`` or ``"ppo"``: the learning-rate ranges to check against.
    config : SACConfig or PPOConfig
    learner : SAC or PPO, optional
        Continue training this learner; its sizes must match the env.
    build : callable ``(obs_dim, act_dim) -> learner``
        Makes a fresh learner when ``learner`` is None.
    options : RunOptions
    refresh_every : int
        Steps between redraws of the progress bar's step count.

    Raises
    ------
    ConfigError
        ``total_steps`` or ``log_every`` not a positive int, spaces that are not 1-D
        bounded boxes, a learner of other sizes, aux heads without their labels.
    UnsafeLearningRateError
        A learning rate above the refusal limit without ``config.allow_unsafe_lr``.
    """

    def __init__(self, env: gym.Env, *, algo: str, config: "SACConfig | PPOConfig",
                 learner: ActorLearner | None, build: Callable[[int, int], ActorLearner],
                 options: RunOptions, refresh_every: int) -> None:
        for name in ("total_steps", "log_every"):
            value = getattr(options, name)
            if int(value) != value or value < 1:
                raise ConfigError(f"{name} must be an int >= 1, got {value!r}.")
        lr_warnings = check_learning_rates(algo, config.learning_rates(), allow_unsafe=config.allow_unsafe_lr)
        for warning in lr_warnings:
            if warning not in _LOGGED_LR_WARNINGS:  # once per process: every fold and pass would repeat it
                _LOGGED_LR_WARNINGS.add(warning)
                logger.warning(warning)
        self.env, self.options = env, options
        self.obs_dim, self.act_dim, self._low, self._high = box_dims(env)
        if learner is None:
            learner = build(self.obs_dim, self.act_dim)
        elif (learner.obs_dim, learner.act_dim) != (self.obs_dim, self.act_dim):
            raise ConfigError(f"the learner has obs_dim={learner.obs_dim}, act_dim={learner.act_dim} but "
                              f"the env has {self.obs_dim}, {self.act_dim}: the state layouts differ")
        self.learner = learner
        self._aux_table = aux_target_table(env, config, learner.aux_shape, options.aux_returns)
        self._writer = None
        self.monitor: HealthMonitor | None = None
        self.progress: ProgressBar | None = None
        self.callback = self._callbacks(algo, refresh_every)
        self.result = TrainResult(learner=learner, lr_warnings=lr_warnings)  # type: ignore[arg-type]
        self.obs = np.zeros(self.obs_dim, dtype=np.float32)
        self.episode_return = 0.0
        self._start = 0.0
        self._flushed_before = False

    def _callbacks(self, algo: str, refresh_every: int) -> CallbackList:
        """The caller's callbacks, then the health monitor, TensorBoard and the progress bar."""
        o = self.options
        cbs = list(o.callbacks)
        if o.health is not None:
            if o.log_dir is not None:
                from torch.utils.tensorboard import SummaryWriter

                Path(o.log_dir).mkdir(parents=True, exist_ok=True)
                self._writer = SummaryWriter(log_dir=str(o.log_dir))
            self.monitor = HealthMonitor(o.health, diagnostic_dir=o.diagnostic_dir, writer=self._writer)
            cbs.append(self.monitor)
        if o.log_dir is not None:
            cbs.append(TensorBoardCallback(o.log_dir, every=o.log_every))
        if o.progress:
            self.progress = ProgressBar(o.description or algo.upper(), o.total_steps, refresh_every,
                                        o.log_every, monitor=self.monitor)
            cbs.append(self.progress)
        return CallbackList(cbs)

    # ------------------------------------------------------------------ lifetime
    def __enter__(self) -> "TrainingRun":
        """Seed and reset the env, start the clock, flush denormals."""
        seed = self.options.seed
        self.env.action_space.seed(seed)
        self.obs = np.asarray(self.env.reset(seed=seed)[0], dtype=np.float32)
        self.episode_return = 0.0
        self._start = time.perf_counter()
        self._flushed_before = set_flush_denormals(True)
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: Any) -> None:
        """Restore the float mode, stop the clock and the bar, end the callbacks; on success
        record the health summary and the non-finite counts."""
        set_flush_denormals(self._flushed_before)
        self.result.wall_seconds = time.perf_counter() - self._start
        if self.progress is not None:
            self.progress.close()
        try:
            self.callback.on_training_end(self.learner)
        finally:
            if self._writer is not None:
                self._writer.close()
        if exc_type is None:
            self.result.health = {} if self.monitor is None else self.monitor.summary()
            self.result.nonfinite = self.learner.nonfinite_counts()

    # ------------------------------------------------------------------ the loop
    def env_step(self, action: np.ndarray) -> Step:
        """Act with ``action`` in [-1, 1]^act_dim (rescaled to the action box)."""
        low, high = self._low, self._high
        env_action = action if low is None else low + (action + 1.0) * 0.5 * (high - low)
        next_obs, reward, terminated, truncated, info = self.env.step(env_action)
        next_obs = np.asarray(next_obs, dtype=np.float32)
        aux_target = None if self._aux_table is None else self._aux_table[row_of(info)]
        row = info.get("t") if isinstance(info, Mapping) else None
        return Step(self.obs, next_obs, float(reward), bool(terminated), bool(truncated), aux_target,
                    None if row is None else int(row))

    def end_step(self, step: Step) -> None:
        """Count the step, move on to its next observation; at an episode end record the
        return, tell the callbacks and reset the env."""
        self.episode_return += step.reward
        self.result.n_steps += 1
        self.obs = step.next_obs
        if step.terminated or step.truncated:
            self.result.episode_returns.append(self.episode_return)
            self.callback.on_episode_end(self.learner, self.result.n_steps, self.episode_return)
            self.obs = np.asarray(self.env.reset()[0], dtype=np.float32)
            self.episode_return = 0.0

    def after_update(self, metrics: Mapping[str, torch.Tensor]) -> bool:
        """Count an update, add ``charts/SPS``, run the callbacks; False: stop training.

        Every ``log_every`` updates the count of skipped updates is checked
        (:meth:`~sacfolio.agents.learner.ActorLearner.check_nonfinite`).
        """
        result = self.result
        shown: dict[str, torch.Tensor | float] = dict(metrics)
        result.n_updates += 1
        shown["charts/SPS"] = result.n_steps / (time.perf_counter() - self._start)
        if not self.callback.on_update(self.learner, result.n_updates, shown):  # type: ignore[arg-type]
            result.stopped_early = True
            return False
        if result.n_updates % self.options.log_every == 0:
            self.learner.check_nonfinite()
        return True

    def show_progress(self) -> None:
        """Redraw the progress bar's step count (when it is due)."""
        if self.progress is not None:
            self.progress.advance(self.result.n_steps)


def box_dims(env: gym.Env) -> tuple[int, int, np.ndarray | None, np.ndarray | None]:
    """(obs_dim, act_dim, low, high); low/high are None when the action box is [-1, 1]."""
    obs_space, act_space = env.observation_space, env.action_space
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise ConfigError(f"SAC needs a 1-D Box observation space, got {obs_space!r}.")
    if not isinstance(act_space, gym.spaces.Box) or len(act_space.shape) != 1:
        raise ConfigError(f"SAC needs a 1-D Box action space, got {act_space!r}.")
    low, high = act_space.low.astype(np.float32), act_space.high.astype(np.float32)
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise ConfigError(f"SAC needs a bounded action space, got low={low}, high={high}.")
    if np.all(low == -1.0) and np.all(high == 1.0):
        return obs_space.shape[0], act_space.shape[0], None, None
    return obs_space.shape[0], act_space.shape[0], low, high


def flushing_denormals() -> bool:
    """Whether torch currently flushes denormal floats to zero (torch has no getter)."""
    return torch.tensor(1e-310, dtype=torch.float64).mul(1.0).item() == 0.0


def set_flush_denormals(on: bool) -> bool:
    """Turn flushing on or off; returns the previous state so callers can restore it.

    Training flushes (decayed weights turn denormal and slow matmuls ~4x) and restores
    the caller's setting afterwards: left on, it changes float semantics for
    everything else in the process (e.g. hypothesis).
    """
    before = flushing_denormals()
    torch.set_flush_denormal(bool(on))
    return before
