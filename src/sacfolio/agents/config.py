"""Hyperparameters of the Soft Actor-Critic learner (seed 001's table)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from sacfolio.exceptions import ConfigError

__all__ = ["SACConfig", "aux_coefs", "check_aux_fields", "check_hidden_sizes", "config_from_dict", "config_to_dict"]


@dataclass(frozen=True, kw_only=True)
class SACConfig:
    """Soft Actor-Critic hyperparameters; every default is seed 001's.

    Attributes
    ----------
    hidden_sizes : tuple of int
        Widths of the hidden layers of the actor and of each critic.
    actor_lr, critic_lr, alpha_lr : float
        Adam learning rates of the policy, the twin critic and ``log(alpha)``.
    tau : float
        Polyak coefficient of the target critic, in (0, 1].
    gamma : float
        Discount factor, in [0, 1].
    init_alpha : float
        Entropy coefficient at the start of training, > 0.
    target_entropy : float or None
        Entropy the temperature is tuned towards; None means ``-act_dim``.
    batch_size : int
        Transitions per gradient update.
    buffer_size : int
        Replay capacity in transitions (oldest overwritten first).
    warmup_steps : int
        Environment steps with uniform random actions before the first update.
    weight_decay : float
        Adam L2 penalty on actor and critic weights (not on ``log(alpha)``).
    log_std_min, log_std_max : float
        Clamp of the actor's log standard deviation.
    grad_clip_norm : float or None
        Max global gradient norm per module (actor, critic); None disables clipping.
    updates_per_step : int
        Gradient updates after each environment step once warm-up is over.
    reward_scale : float
        Rewards are multiplied by this in the critic target (Haarnoja et al. 2018,
        section 5.2). Not in seed 001's table, so 1.0 by default; weekly log returns
        are ~1e-3, small next to the entropy bonus and the weight decay, and a scale
        of ~100 lets the critic see them.
    aux : bool
        Add auxiliary return heads to the actor (seed 003): from the actor's hidden
        features, predict each stock's simple return over each horizon in
        ``aux_horizons``. Off by default; the heads then do not exist.
    aux_horizons : tuple of int
        Strictly increasing horizons in bars (weeks for the embedded data): the
        return over rows ``t+1 .. t+h`` of a decision at row ``t``. Seed 003 used
        1 and 24 hourly bars; 1 and 4 weekly bars is the default here.
    aux_coef_short, aux_coef_long : float
        Weight of the MSE of the first horizon and of every later one in the total
        loss, >= 0. A weight of 0 leaves that head untrained (its loss is not even
        built), which the health monitor reports as ``never_changed``.
    aux_clip : float
        Predictions are ``aux_clip * tanh(.)`` and targets are clamped to
        ``[-aux_clip, aux_clip]``, > 0 (1.0 = +-100 %).
    aux_shared_trunk : bool
        Let the aux loss train the actor's trunk too (representation shaping). Off by
        default: the heads then learn from detached trunk features and cannot move the
        policy, whatever the aux targets are worth. Measured on the S&P walk-forward
        2015-2022 (sac_lstm, seeds 0/1/2): shared trunk CAGR 11.2/12.2/19.5% (mean
        14.3%), no aux 17.7/16.4/13.6% (mean 15.9%) -- within the seed spread, so the
        default rests on that principle, not on a measured gain.
    max_nonfinite_skips : int
        Updates whose total loss or gradient is NaN/inf are skipped (no optimizer
        step) and counted; past this many the trainer raises
        :class:`~sacfolio.exceptions.TrainingHealthError`.
    allow_unsafe_lr : bool
        Train with learning rates above the refusal limit of
        :data:`sacfolio.train.safety.LR_RANGES` (``--allow-unsafe-lr``). Checked when
        training starts, not here, so a saved model with such a config still loads.
    """

    hidden_sizes: tuple[int, ...] = (64, 64)
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-4
    tau: float = 0.005
    gamma: float = 0.99
    init_alpha: float = 0.2
    target_entropy: float | None = None
    batch_size: int = 64
    buffer_size: int = 10_000
    warmup_steps: int = 100
    weight_decay: float = 1e-4
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    grad_clip_norm: float | None = 1.0
    updates_per_step: int = 1
    reward_scale: float = 1.0
    aux: bool = False
    aux_horizons: tuple[int, ...] = (1, 4)
    aux_coef_short: float = 0.01
    aux_coef_long: float = 0.01
    aux_clip: float = 1.0
    aux_shared_trunk: bool = False
    max_nonfinite_skips: int = 100
    allow_unsafe_lr: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_sizes", check_hidden_sizes(self.hidden_sizes))
        for name in ("actor_lr", "critic_lr", "alpha_lr"):
            _check_positive(name, getattr(self, name))
        _check_range("tau", self.tau, 0.0, 1.0, low_open=True)
        _check_range("gamma", self.gamma, 0.0, 1.0)
        _check_positive("init_alpha", self.init_alpha)
        if self.target_entropy is not None and not math.isfinite(self.target_entropy):
            raise ConfigError(f"target_entropy must be finite or None, got {self.target_entropy!r}.")
        for name in ("batch_size", "buffer_size", "updates_per_step"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ConfigError(f"{name} must be an int >= 1, got {value!r}.")
        if self.buffer_size < self.batch_size:
            raise ConfigError(f"buffer_size {self.buffer_size} is smaller than batch_size "
                              f"{self.batch_size}; raise buffer_size or lower batch_size.")
        if not _is_int(self.warmup_steps) or self.warmup_steps < 0:
            raise ConfigError(f"warmup_steps must be an int >= 0, got {self.warmup_steps!r}.")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}.")
        if not (math.isfinite(self.log_std_min) and math.isfinite(self.log_std_max)
                and self.log_std_min < self.log_std_max):
            raise ConfigError(f"need finite log_std_min < log_std_max, got "
                              f"({self.log_std_min!r}, {self.log_std_max!r}).")
        _check_positive("reward_scale", self.reward_scale)
        if self.grad_clip_norm is not None:
            _check_positive("grad_clip_norm", self.grad_clip_norm)
        check_aux_fields(self)
        if not _is_int(self.max_nonfinite_skips) or self.max_nonfinite_skips < 0:
            raise ConfigError(f"max_nonfinite_skips must be an int >= 0, got {self.max_nonfinite_skips!r}.")
        if not isinstance(self.allow_unsafe_lr, bool):
            raise ConfigError(f"allow_unsafe_lr must be True or False, got {self.allow_unsafe_lr!r}.")

    def learning_rates(self) -> dict[str, float]:
        """Learning rate per optimizer, as :func:`sacfolio.train.safety.check_learning_rates` takes them."""
        return {"actor": self.actor_lr, "critic": self.critic_lr, "alpha": self.alpha_lr}

    def aux_coefs(self) -> tuple[float, ...]:
        """Loss weight of each horizon: ``aux_coef_short`` for the first, ``aux_coef_long`` after."""
        return aux_coefs(self)

    def resolved_target_entropy(self, act_dim: int) -> float:
        """Target entropy for an action space of ``act_dim`` dimensions (``-act_dim`` by default)."""
        return float(-act_dim) if self.target_entropy is None else float(self.target_entropy)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (tuples as lists)."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SACConfig":
        """Inverse of :meth:`to_dict`; unknown keys are a :class:`ConfigError`."""
        return config_from_dict(cls, data)


def config_to_dict(config: Any) -> dict[str, Any]:
    """A learner config dataclass as a JSON-ready dict (tuple fields as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def config_from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    """Rebuild a learner config from :func:`config_to_dict` output (lists back to tuples);
    unknown keys are a :class:`ConfigError` that lists the valid ones."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} keys {unknown}; valid keys are {sorted(known)}.")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def check_hidden_sizes(value: object) -> tuple[int, ...]:
    """``value`` as a tuple of layer widths; a ConfigError unless non-empty positive ints."""
    sizes = tuple(value)  # type: ignore[arg-type]
    if not sizes or any(not _is_int(h) or h < 1 for h in sizes):
        raise ConfigError(f"hidden_sizes must be a non-empty tuple of positive ints, got {sizes!r}.")
    return sizes


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}.")


def _check_range(name: str, value: float, lo: float, hi: float, *, low_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and math.isfinite(value) and value <= hi
    ok = ok and (value > lo if low_open else value >= lo)
    if not ok:
        bracket = "(" if low_open else "["
        raise ConfigError(f"{name} must be in {bracket}{lo}, {hi}], got {value!r}.")


def check_aux_fields(config: Any) -> None:
    """Validate (and normalize to a tuple) the ``aux*`` fields shared by SAC and PPO configs.

    Raises
    ------
    ConfigError
        Naming the field: ``aux`` not a bool, horizons not strictly increasing positive
        ints, a negative or non-finite coefficient, a non-positive ``aux_clip``.
    """
    if not isinstance(config.aux, bool):
        raise ConfigError(f"aux must be True or False, got {config.aux!r}.")
    horizons = tuple(config.aux_horizons)
    object.__setattr__(config, "aux_horizons", horizons)
    if (not horizons or any(not _is_int(h) or h < 1 for h in horizons)
            or any(b <= a for a, b in zip(horizons, horizons[1:]))):
        raise ConfigError(f"aux_horizons must be strictly increasing ints >= 1 (bars), e.g. (1, 4), "
                          f"got {horizons!r}.")
    for name in ("aux_coef_short", "aux_coef_long"):
        value = getattr(config, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}.")
    _check_positive("aux_clip", config.aux_clip)


def aux_coefs(config: Any) -> tuple[float, ...]:
    """Per-horizon loss weights of a config with ``aux_*`` fields (short first, then long)."""
    return tuple(float(config.aux_coef_short if i == 0 else config.aux_coef_long)
                 for i in range(len(config.aux_horizons)))
