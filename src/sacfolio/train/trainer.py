"""The SAC training loop: act, store, update, report through callbacks.

One environment step, then ``updates_per_step`` gradient updates once warm-up is
over. Everything random (initial weights, warm-up actions, policy noise, replay
indices, the env's first reset) is drawn from ``seed``, so the same seed on CPU
gives bit-identical weights.

Every run is guarded: learning rates are checked against
:data:`~sacfolio.train.safety.LR_RANGES` before anything is built, a
:class:`~sacfolio.train.health.HealthMonitor` watches the weights (stop on critical
findings, warn otherwise, by default), and updates with a non-finite loss are
skipped and counted, the run stopping past ``max_nonfinite_skips``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import gymnasium as gym
import numpy as np
import torch

from sacfolio.agents.aux import forward_returns
from sacfolio.agents.buffer import ReplayBuffer
from sacfolio.agents.config import SACConfig
from sacfolio.agents.sac import SAC, STATE_DICT_FILES
from sacfolio.exceptions import ConfigError, CorruptArtifactError
from sacfolio.train.callbacks import Callback, CallbackList, Learner
from sacfolio.train.health import HealthConfig, HealthMonitor
from sacfolio.train.safety import check_learning_rates
from sacfolio.train.tensorboard import TensorBoardCallback

if TYPE_CHECKING:  # pragma: no cover
    from sacfolio.agents.ppo import PPO

__all__ = ["CheckpointCallback", "TrainResult", "aux_target_table", "read_checkpoint", "train_sac"]

logger = logging.getLogger(__name__)


@dataclass(kw_only=True)
class TrainResult:
    """Outcome of :func:`train_sac` (and :func:`~sacfolio.train.ppo_trainer.train_ppo`).

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


def train_sac(
    env: gym.Env,
    *,
    config: SACConfig = SACConfig(),
    total_steps: int,
    seed: int,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    log_dir: str | Path | None = None,
    description: str = "",
    log_every: int = 100,
    learner: SAC | None = None,
    health: HealthConfig | None = HealthConfig(),
    diagnostic_dir: str | Path | None = None,
    aux_returns: np.ndarray | None = None,
) -> TrainResult:
    """Train a SAC agent on ``env`` for ``total_steps`` environment steps.

    Parameters
    ----------
    env : gymnasium.Env
        Box observation space of shape (obs_dim,) and bounded Box action space of
        shape (act_dim,). The actor acts in [-1, 1]^act_dim, rescaled to the bounds.
    config : SACConfig
        Its learning rates are checked first (:func:`check_learning_rates`).
    total_steps : int
        Environment steps, warm-up included.
    seed : int
        Seeds the learner's generator, the env's first reset and its action space.
    callbacks : sequence of Callback
        Called in order; any ``on_update`` returning False stops training.
    progress : bool
        Show a rich progress bar (episode return, losses, alpha, steps/s, health).
    log_dir : str or Path, optional
        Write TensorBoard scalars there (``losses/*``, ``charts/alpha``,
        ``charts/entropy``, ``charts/q_mean``, ``charts/episode_return``, ``charts/SPS``,
        ``charts/skipped_updates``, ``charts/nonfinite_targets``, ``health/*``).
    description : str
        Label of the progress bar.
    log_every : int
        Metrics are converted to floats for the progress bar and TensorBoard, and the
        count of skipped updates is checked against ``max_nonfinite_skips``, once
        every ``log_every`` updates.
    learner : SAC, optional
        Continue training this learner (finetuning, warm-started walk-forward folds)
        instead of a fresh one; its sizes must match the env.
    health : HealthConfig or None
        Settings of the :class:`HealthMonitor` added to the callbacks (default: check
        every 1,000 updates, stop on critical findings, warn otherwise); None runs
        without one.
    diagnostic_dir : str or Path, optional
        Where a health stop writes its diagnostic checkpoint.
    aux_returns : ndarray, shape (T, N), optional
        Simple returns of the env's rows (row t: from row t-1 to t), the source of
        the aux heads' labels when ``config.aux``; default ``env.unwrapped.core.returns``.
        See :func:`aux_target_table`.

    Returns
    -------
    TrainResult

    Raises
    ------
    ConfigError
        If ``total_steps`` or ``log_every`` is not a positive int, the spaces are
        not 1-D bounded boxes, or aux heads lack their labels.
    UnsafeLearningRateError
        A learning rate above 1e-3 without ``config.allow_unsafe_lr``.
    TrainingHealthError
        The health monitor found a critical problem (policy ``stop``), or more than
        ``config.max_nonfinite_skips`` updates were skipped.
    """
    if int(total_steps) != total_steps or total_steps < 1:
        raise ConfigError(f"total_steps must be an int >= 1, got {total_steps!r}.")
    if int(log_every) != log_every or log_every < 1:
        raise ConfigError(f"log_every must be an int >= 1, got {log_every!r}.")
    lr_warnings = check_learning_rates("sac", config.learning_rates(), allow_unsafe=config.allow_unsafe_lr)
    for warning in lr_warnings:
        logger.warning(warning)
    obs_dim, act_dim, low, high = box_dims(env)
    if learner is None:
        learner = SAC(obs_dim, act_dim, config=config, seed=seed)
    elif (learner.obs_dim, learner.act_dim) != (obs_dim, act_dim):
        raise ConfigError(f"the learner has obs_dim={learner.obs_dim}, act_dim={learner.act_dim} but "
                          f"the env has {obs_dim}, {act_dim}: the state layouts differ")
    aux_table = aux_target_table(env, config, learner.aux_shape, aux_returns)
    buffer = ReplayBuffer(obs_dim, act_dim, config.buffer_size, aux_shape=learner.aux_shape)
    gen = learner.generator
    guard = _Guard(callbacks, health, diagnostic_dir, log_dir, log_every)
    display = _Progress(description or "SAC", total_steps, log_every) if progress else None

    result = TrainResult(learner=learner, lr_warnings=lr_warnings)
    updates_per_step = config.updates_per_step
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    obs = np.asarray(obs, dtype=np.float32)
    episode_return = 0.0
    callback = guard.callback
    start = time.perf_counter()
    flushed_before = set_flush_denormals(True)  # DESIGN §4: decayed weights turn denormal, matmuls slow 4x
    try:
        callback.on_training_start(learner, max(0, total_steps - config.warmup_steps) * updates_per_step)
        for step in range(1, total_steps + 1):
            if step <= config.warmup_steps:
                action = torch.rand(act_dim, generator=gen).mul_(2.0).sub_(1.0).numpy()
            else:
                obs_t = torch.from_numpy(obs).unsqueeze(0)
                action = learner.actor.act(obs_t, deterministic=False, generator=gen)[0].numpy()
            env_action = action if low is None else low + (action + 1.0) * 0.5 * (high - low)
            next_obs, reward, terminated, truncated, info = env.step(env_action)
            next_obs = np.asarray(next_obs, dtype=np.float32)
            aux_target = None if aux_table is None else aux_table[_row_of(info)]
            buffer.add(obs, action, float(reward), next_obs, bool(terminated), aux_target)
            episode_return += float(reward)
            obs = next_obs
            result.n_steps = step
            if terminated or truncated:
                result.episode_returns.append(episode_return)
                callback.on_episode_end(learner, step, episode_return)
                if display is not None:
                    display.episode(episode_return)
                obs = np.asarray(env.reset()[0], dtype=np.float32)
                episode_return = 0.0

            if step > config.warmup_steps and len(buffer) >= config.batch_size:
                for _ in range(updates_per_step):
                    metrics: dict[str, torch.Tensor | float] = dict(
                        learner.update(buffer.sample(config.batch_size, gen)))
                    result.n_updates += 1
                    metrics["charts/SPS"] = step / (time.perf_counter() - start)
                    if not callback.on_update(learner, result.n_updates, metrics):
                        result.stopped_early = True
                        break
                    if result.n_updates % log_every == 0:
                        learner.check_nonfinite()
                        if display is not None:
                            display.metrics(metrics, guard.summary_line())
            if display is not None:
                display.advance(step)
            if result.stopped_early:
                break
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


def aux_target_table(env: gym.Env, config: Any, aux_shape: tuple[int, int] | None,
                     aux_returns: np.ndarray | None = None) -> np.ndarray | None:
    """Labels of the aux heads for every row of the env's data, or None without aux heads.

    The label of a decision at row ``t`` is the realized return of each stock over
    rows ``t+1 .. t+h`` (:func:`~sacfolio.agents.aux.forward_returns`): FUTURE
    returns, used only as training targets, never as observations. Rows after the
    env's training span (``env.unwrapped.span[1]``, when it has one) are never used,
    so labels do not leak the evaluation period; targets that would need them are
    NaN and masked.

    Parameters
    ----------
    env : gymnasium.Env
        Its ``step`` must report the decision row as ``info["t"]``.
    config : SACConfig or PPOConfig
        ``aux_horizons`` gives H.
    aux_shape : tuple of int (H, N) or None
    aux_returns : ndarray, shape (T, N), optional
        Simple returns per row; default ``env.unwrapped.core.returns``.

    Returns
    -------
    ndarray float32, shape (T, H, N), or None

    Raises
    ------
    ConfigError
        No returns available, or their width is not N.
    """
    if aux_shape is None:
        return None
    base = env.unwrapped
    if aux_returns is None:
        aux_returns = getattr(getattr(base, "core", None), "returns", None)
        if aux_returns is None:
            raise ConfigError("aux heads need the per-row returns of the env's data: pass "
                              "aux_returns=panel.simple_returns() (shape (T, N)).")
    returns = np.asarray(aux_returns, dtype=np.float64)
    if returns.ndim != 2 or returns.shape[1] != aux_shape[1]:
        raise ConfigError(f"aux_returns must have shape (T, {aux_shape[1]}) (one column per stock), "
                          f"got {returns.shape}.")
    span = getattr(base, "span", None)
    last_row = returns.shape[0] - 1 if span is None else min(int(span[1]), returns.shape[0] - 1)
    return forward_returns(returns, config.aux_horizons, last_row=last_row)


def _row_of(info: Mapping[str, Any]) -> int:
    """The decision row ``info["t"]`` of a step (PortfolioEnv reports it)."""
    try:
        return int(info["t"])
    except (KeyError, TypeError) as exc:
        raise ConfigError("aux heads need the decision row in the step info (info['t'], as PortfolioEnv "
                          "reports it) to look up their return labels.") from exc


class _Guard:
    """The run's callbacks with the health monitor and TensorBoard writers added."""

    def __init__(self, callbacks: Sequence[Callback], health: HealthConfig | None,
                 diagnostic_dir: str | Path | None, log_dir: str | Path | None, log_every: int) -> None:
        cbs = list(callbacks)
        self._writer = None
        self.monitor: HealthMonitor | None = None
        if health is not None:
            if log_dir is not None:
                from torch.utils.tensorboard import SummaryWriter

                Path(log_dir).mkdir(parents=True, exist_ok=True)
                self._writer = SummaryWriter(log_dir=str(log_dir))
            self.monitor = HealthMonitor(health, diagnostic_dir=diagnostic_dir, writer=self._writer)
            cbs.append(self.monitor)
        if log_dir is not None:
            cbs.append(TensorBoardCallback(log_dir, every=log_every))
        self.callback = CallbackList(cbs)

    def summary_line(self) -> str:
        report = None if self.monitor is None else self.monitor.last_report
        return "" if report is None else report.summary_line()

    def summary(self) -> dict[str, Any]:
        return {} if self.monitor is None else self.monitor.summary()

    def close(self, learner: Learner) -> None:
        try:
            self.callback.on_training_end(learner)
        finally:
            if self._writer is not None:
                self._writer.close()


def flushing_denormals() -> bool:
    """Whether torch currently flushes denormal floats to zero (torch has no getter)."""
    return torch.tensor(1e-310, dtype=torch.float64).mul(1.0).item() == 0.0


def set_flush_denormals(on: bool) -> bool:
    """Turn flushing on or off; returns the previous state so callers can restore it.

    Training flushes (DESIGN §4) and restores the caller's setting afterwards: left on,
    it changes float semantics for everything else in the process (e.g. hypothesis).
    """
    before = flushing_denormals()
    torch.set_flush_denormal(bool(on))
    return before


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


class _Progress:
    """Rich progress bar: steps, last episode return, losses, alpha and steps/s."""

    def __init__(self, description: str, total: int, refresh_every: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeRemainingColumn(), TextColumn("{task.fields[info]}"), transient=False)
        self._task = self._bar.add_task(description, total=total, info="warm-up")
        self._refresh_every = max(1, refresh_every)
        self._last_return: float | None = None
        self._bar.start()

    def episode(self, episode_return: float) -> None:
        self._last_return = episode_return

    def metrics(self, metrics: Mapping[str, torch.Tensor | float], health: str = "") -> None:
        """Show the last episode return, the main losses, steps/s and the health line."""
        ret = "n/a" if self._last_return is None else f"{self._last_return:+.4f}"
        parts = [health] if health else []  # first: a narrow terminal crops the end of the line
        parts.append(f"ep_return {ret}")
        for key, label, fmt in (("losses/critic", "critic", ".4f"), ("losses/value", "value", ".4f"),
                                ("losses/actor", "actor", "+.3f"), ("losses/policy", "policy", "+.3f"),
                                ("charts/alpha", "alpha", ".4f"), ("charts/SPS", "", ".0f")):
            if key in metrics:
                parts.append(f"{label} {float(metrics[key]):{fmt}}" if label
                             else f"{float(metrics[key]):{fmt}} steps/s")
        skipped = float(metrics.get("charts/skipped_updates", 0.0))
        if skipped:
            parts.append(f"skipped {skipped:.0f}")
        self._bar.update(self._task, info="  ".join(parts))

    def advance(self, step: int) -> None:
        if step % self._refresh_every == 0:
            self._bar.update(self._task, completed=step)

    def close(self) -> None:
        self._bar.stop()


class CheckpointCallback(Callback):
    """Saves the learner's state dicts every ``every`` updates and at the end of training.

    Each checkpoint is a directory ``dirpath/update_<n>`` holding ``actor.pt``,
    ``critic.pt``, ``critic_target.pt``, ``log_alpha.pt`` (``torch.save`` of state
    dicts only; read back with :func:`read_checkpoint`) and ``config.json``. It is
    written to a temporary directory and renamed, so a crash leaves whole
    checkpoints only.

    Parameters
    ----------
    dirpath : str or Path
    every : int
        Updates between checkpoints.
    save_final : bool
        Also save after the last update.
    """

    def __init__(self, dirpath: str | Path, every: int, *, save_final: bool = True) -> None:
        if int(every) != every or every < 1:
            raise ConfigError(f"CheckpointCallback every must be an int >= 1, got {every!r}.")
        self.dirpath, self.every, self.save_final = Path(dirpath), int(every), save_final
        self.saved: list[Path] = []
        self._last_update = 0

    def on_update(self, learner: Learner, update: int, metrics: Mapping[str, float]) -> bool:
        self._last_update = update
        if update % self.every == 0:
            self.save(learner, update)
        return True

    def on_training_end(self, learner: Learner) -> None:
        if self.save_final and self._last_update and (not self.saved or
                                                      self.saved[-1].name != _ckpt_name(self._last_update)):
            self.save(learner, self._last_update)

    def save(self, learner: Learner, update: int) -> Path:
        """Write one checkpoint and return its directory."""
        state_dicts = getattr(learner, "state_dicts", None)
        if state_dicts is None:
            raise TypeError(f"{type(learner).__name__} has no state_dicts(); cannot checkpoint it")
        final = self.dirpath / _ckpt_name(update)
        tmp = self.dirpath / f".{final.name}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        for name, state in state_dicts().items():
            torch.save(dict(state), tmp / name)
        config = getattr(learner, "config", None)
        if config is not None and hasattr(config, "to_dict"):
            meta = {"update": update, "config": config.to_dict()}
            (tmp / "config.json").write_text(json.dumps(meta, indent=2))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        self.saved.append(final)
        return final


def _ckpt_name(update: int) -> str:
    return f"update_{update:08d}"


def read_checkpoint(dirpath: str | Path) -> dict[str, dict[str, torch.Tensor]]:
    """Load the state dicts of a checkpoint directory (``weights_only=True``: runs no code).

    Returns
    -------
    dict
        ``{"actor.pt": ..., "critic.pt": ..., "critic_target.pt": ..., "log_alpha.pt": ...}``,
        ready for :meth:`SAC.load_state_dicts`.

    Raises
    ------
    CorruptArtifactError
        If a file is missing or cannot be read as a tensor-only state dict.
    """
    path = Path(dirpath)
    out = {}
    for name in STATE_DICT_FILES:
        file = path / name
        if not file.is_file():
            raise CorruptArtifactError(f"checkpoint {path} has no {name}; it is incomplete.")
        try:
            out[name] = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for unreadable files
            raise CorruptArtifactError(f"cannot read {file} as a state dict: {exc}") from exc
    return out
