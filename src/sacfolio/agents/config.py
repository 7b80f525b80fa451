"""Hyperparameters of the learners: SAC, PPO, and the fields every learner shares.

:class:`LearnerConfig` holds what both learners have in common (the auxiliary
return heads, the limit of skipped non-finite steps, the unsafe-learning-rate
switch) and the JSON round trip; :class:`SACConfig` and :class:`PPOConfig` add
their algorithm's hyperparameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Mapping, TypeVar

from sacfolio.agents.validation import (check_bool, check_hidden_sizes, check_int, check_log_std_bounds,
                                        check_nonnegative, check_positive, check_range, is_int)
from sacfolio.exceptions import ConfigError

__all__ = ["HOLDOUT_SIZINGS", "NETWORKS", "LearnerConfig", "PPOConfig", "SACConfig"]

NETWORKS = ("mlp", "cross_sectional")
HOLDOUT_SIZINGS = {"gate": "the whole tilt once the record's t reaches min_t, the benchmark below it",
                   "scaled": "the tilt times clip(t / min_t, 0, 1): a part of it for evidence short of min_t"}
"""How much of its tilt a holdout-checked model trades (``SACConfig.holdout_sizing``)."""
"""SAC's actor and critic architectures (:attr:`SACConfig.network`)."""

_C = TypeVar("_C", bound="LearnerConfig")


@dataclass(frozen=True, kw_only=True)
class LearnerConfig:
    """Fields and behaviour shared by every learner config (subclass it; not used alone).

    Attributes
    ----------
    aux : bool
        Add auxiliary return heads to the actor: from the actor's hidden features,
        predict each stock's simple return over each horizon in ``aux_horizons``.
        Off by default; the heads then do not exist.
    aux_horizons : tuple of int
        Strictly increasing horizons in bars (weeks for the embedded data): the
        return over rows ``t+1 .. t+h`` of a decision at row ``t``. The original
        agent used 1 and 24 hourly bars; 1 and 4 weekly bars is the default here.
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
        Steps whose total loss or gradient is NaN/inf are skipped (no optimizer
        step) and counted; past this many the trainer raises
        :class:`~sacfolio.exceptions.TrainingHealthError`.
    allow_unsafe_lr : bool
        Train with learning rates above the refusal limit of
        :data:`sacfolio.train.safety.LR_RANGES` (``--allow-unsafe-lr``). Checked when
        training starts, not here, so a saved model with such a config still loads.

    Notes
    -----
    Dataclass fields of a base class come first; :meth:`to_dict` lists these shared
    fields after the learner's own, so saved configs read hyperparameters first.
    """

    aux: bool = False
    aux_horizons: tuple[int, ...] = (1, 4)
    aux_coef_short: float = 0.01
    aux_coef_long: float = 0.01
    aux_clip: float = 1.0
    aux_shared_trunk: bool = False
    max_nonfinite_skips: int = 100
    allow_unsafe_lr: bool = False

    def __post_init__(self) -> None:
        """Validate (and normalize to a tuple) the shared fields; subclasses call it last.

        Raises
        ------
        ConfigError
            Naming the field: ``aux`` not a bool, horizons not strictly increasing positive
            ints, a negative or non-finite coefficient, a non-positive ``aux_clip``, a
            negative ``max_nonfinite_skips``, ``allow_unsafe_lr`` not a bool.
        """
        check_bool("aux", self.aux)
        horizons = tuple(self.aux_horizons)
        object.__setattr__(self, "aux_horizons", horizons)
        if (not horizons or any(not is_int(h) or h < 1 for h in horizons)
                or any(b <= a for a, b in zip(horizons, horizons[1:]))):
            raise ConfigError(f"aux_horizons must be strictly increasing ints >= 1 (bars), e.g. (1, 4), "
                              f"got {horizons!r}.")
        for name in ("aux_coef_short", "aux_coef_long"):
            check_nonnegative(name, getattr(self, name))
        check_positive("aux_clip", self.aux_clip)
        check_int("max_nonfinite_skips", self.max_nonfinite_skips, 0)
        check_bool("allow_unsafe_lr", self.allow_unsafe_lr)

    def aux_coefs(self) -> tuple[float, ...]:
        """Loss weight of each horizon: ``aux_coef_short`` for the first, ``aux_coef_long`` after."""
        return tuple(float(self.aux_coef_short if i == 0 else self.aux_coef_long)
                     for i in range(len(self.aux_horizons)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (tuples as lists), the learner's own fields first."""
        shared = [f.name for f in fields(LearnerConfig)]
        names = [f.name for f in fields(self) if f.name not in shared] + shared
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in ((k, getattr(self, k)) for k in names)}
        # settings at their defaults that older models lack are left out: their config.json reads the same
        if out.get("network") == "mlp":
            del out["network"]
        for name, default in (("counterfactual_actions", 0), ("holdout_weeks", 0), ("holdout_min_t", 2.0),
                              ("holdout_sizing", "gate"), ("feature_noise", 0.0)):
            if name in out and out[name] == default:
                del out[name]
        return out

    @classmethod
    def from_dict(cls: type[_C], data: Mapping[str, Any]) -> _C:
        """Inverse of :meth:`to_dict` (lists back to tuples); unknown keys are a
        :class:`ConfigError` that lists the valid ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} keys {unknown}; valid keys are {sorted(known)}.")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


@dataclass(frozen=True, kw_only=True)
class SACConfig(LearnerConfig):
    """Soft Actor-Critic hyperparameters; the defaults are the original SAC study's table.

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
        section 5.2). Not in the original table, so 1.0 by default; weekly log returns
        are ~1e-3, small next to the entropy bonus and the weight decay, and a scale
        of ~100 lets the critic see them.
    network : {"mlp", "cross_sectional"}
        The actor's and critics' architecture: one MLP over the flat state, or one
        small network shared by every stock (:mod:`sacfolio.agents.cross_sectional`).
    counterfactual_actions : int
        M >= 0: each replayed transition also trains the critic on M fresh actions from
        the current policy at the same state, with the reward and next state the env's
        period gives them (a price taker's period is known for any action:
        :mod:`sacfolio.train.counterfactual`). 0 (default): the stored action only.
    holdout_weeks : int
        W >= 0: train on the training window less its last W weeks, measure there, out of
        sample, whether the policy's residual tilts rank next week's returns (their mean
        rank IC and its t-statistic), then train on the whole window; the model trades
        its tilt only when that t-statistic reaches ``holdout_min_t`` and holds the
        benchmark otherwise (:mod:`sacfolio.train.holdout`). 0 (default): no check.
    holdout_min_t : float
        The t-statistic the holdout's mean rank IC must reach (2.0: about 2% one-sided).
    holdout_sizing : {"gate", "scaled"}
        How much of its tilt a checked model trades (:data:`HOLDOUT_SIZINGS`):
        ``"gate"`` (default) all of it once the t-statistic reaches ``holdout_min_t`` and
        none below; ``"scaled"`` the tilt times ``clip(t / holdout_min_t, 0, 1)``.
    feature_noise : float
        sigma >= 0: every replayed state's standardized features get fresh N(0, sigma^2)
        noise each time they reach an update (the weights in the state stay exact); 0
        (default): none. Training with input noise is a smoothness penalty on what the
        networks fit (Bishop 1995, "Training with noise is equivalent to Tikhonov
        regularization"): on weekly returns whose predictable part is ~1% of their
        variance, a critic replaying nine years of weeks hundreds of times memorizes each
        week's draw from its exact features, and the actor tilts towards that memory.
        Needs a flat portfolio state (:class:`~sacfolio.env.gym_env.PortfolioEnv`).
    aux, aux_horizons, aux_coef_short, aux_coef_long, aux_clip, aux_shared_trunk,
    max_nonfinite_skips, allow_unsafe_lr
        As in :class:`LearnerConfig`.
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
    network: str = "mlp"
    counterfactual_actions: int = 0
    holdout_weeks: int = 0
    holdout_min_t: float = 2.0
    holdout_sizing: str = "gate"
    feature_noise: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_sizes", check_hidden_sizes(self.hidden_sizes))
        check_nonnegative("feature_noise", self.feature_noise)
        check_int("counterfactual_actions", self.counterfactual_actions, 0)
        check_int("holdout_weeks", self.holdout_weeks, 0)
        if not math.isfinite(self.holdout_min_t):
            raise ConfigError(f"holdout_min_t must be finite, got {self.holdout_min_t!r}.")
        if self.holdout_sizing not in HOLDOUT_SIZINGS:
            raise ConfigError(f"holdout_sizing {self.holdout_sizing!r} is not one of {', '.join(HOLDOUT_SIZINGS)}.")
        if self.holdout_sizing == "scaled" and self.holdout_min_t <= 0:
            raise ConfigError(f"holdout_sizing='scaled' scales the tilt by t / holdout_min_t; holdout_min_t must "
                              f"be positive, got {self.holdout_min_t!r}.")
        if self.network not in NETWORKS:
            raise ConfigError(f"network {self.network!r} is not one of {', '.join(NETWORKS)}.")
        for name in ("actor_lr", "critic_lr", "alpha_lr"):
            check_positive(name, getattr(self, name))
        check_range("tau", self.tau, 0.0, 1.0, low_open=True)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_positive("init_alpha", self.init_alpha)
        if self.target_entropy is not None and not math.isfinite(self.target_entropy):
            raise ConfigError(f"target_entropy must be finite or None, got {self.target_entropy!r}.")
        for name in ("batch_size", "buffer_size", "updates_per_step"):
            check_int(name, getattr(self, name), 1)
        if self.buffer_size < self.batch_size:
            raise ConfigError(f"buffer_size {self.buffer_size} is smaller than batch_size "
                              f"{self.batch_size}; raise buffer_size or lower batch_size.")
        check_int("warmup_steps", self.warmup_steps, 0)
        check_nonnegative("weight_decay", self.weight_decay)
        check_log_std_bounds(self.log_std_min, self.log_std_max)
        check_positive("reward_scale", self.reward_scale)
        if self.grad_clip_norm is not None:
            check_positive("grad_clip_norm", self.grad_clip_norm)
        super().__post_init__()

    def learning_rates(self) -> dict[str, float]:
        """Learning rate per optimizer, as :func:`sacfolio.train.safety.check_learning_rates` takes them."""
        return {"actor": self.actor_lr, "critic": self.critic_lr, "alpha": self.alpha_lr}

    def resolved_target_entropy(self, act_dim: int) -> float:
        """Target entropy for an action space of ``act_dim`` dimensions (``-act_dim`` by default)."""
        return float(-act_dim) if self.target_entropy is None else float(self.target_entropy)


@dataclass(frozen=True, kw_only=True)
class PPOConfig(LearnerConfig):
    """PPO hyperparameters (Stable-Baselines3's defaults where the original study is silent).

    Attributes
    ----------
    hidden_sizes : tuple of int
        Hidden widths of the actor and of the value network (ReLU).
    lr : float
        Adam learning rate of actor and value network (one optimizer).
    n_steps : int
        Environment steps per rollout.
    batch_size : int
        Minibatch size of the gradient steps, <= ``n_steps``.
    n_epochs : int
        Passes over each rollout.
    gamma : float
        Discount factor, in [0, 1].
    gae_lambda : float
        GAE's bias/variance trade-off, in [0, 1].
    clip_range : float
        Clip of the probability ratio, ``1 +- clip_range``, > 0.
    ent_coef : float
        Weight of the entropy bonus, >= 0.
    vf_coef : float
        Weight of the value loss, > 0.
    max_grad_norm : float or None
        Global gradient-norm clip of each step; None disables it.
    reward_scale : float
        Rewards are multiplied by this before GAE (weekly log returns are ~1e-3).
    weight_decay : float
        Adam L2 penalty, >= 0.
    normalize_advantage : bool
        Standardize the advantages of each rollout.
    log_std_min, log_std_max : float
        Clamp of the actor's log standard deviation. The floor is higher than SAC's
        so a collapsed policy cannot make the ratio overflow.
    aux, aux_horizons, aux_coef_short, aux_coef_long, aux_clip, aux_shared_trunk,
    max_nonfinite_skips, allow_unsafe_lr
        As in :class:`LearnerConfig` (``allow_unsafe_lr`` applies to ``lr``).
    """

    hidden_sizes: tuple[int, ...] = (64, 64)
    lr: float = 3e-4
    n_steps: int = 512
    batch_size: int = 64
    n_epochs: int = 10
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float | None = 0.5
    reward_scale: float = 1.0
    weight_decay: float = 0.0
    normalize_advantage: bool = True
    log_std_min: float = -5.0
    log_std_max: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_sizes", check_hidden_sizes(self.hidden_sizes))
        for name in ("lr", "clip_range", "vf_coef", "reward_scale"):
            check_positive(name, getattr(self, name))
        for name in ("n_steps", "batch_size", "n_epochs"):
            check_int(name, getattr(self, name), 1)
        if self.batch_size > self.n_steps:
            raise ConfigError(f"batch_size {self.batch_size} is larger than n_steps {self.n_steps}; "
                              "lower batch_size or collect longer rollouts.")
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        for name in ("ent_coef", "weight_decay"):
            check_nonnegative(name, getattr(self, name))
        if self.max_grad_norm is not None:
            check_positive("max_grad_norm", self.max_grad_norm)
        check_log_std_bounds(self.log_std_min, self.log_std_max)
        check_bool("normalize_advantage", self.normalize_advantage)
        super().__post_init__()

    def learning_rates(self) -> dict[str, float]:
        """Learning rate per optimizer, for :func:`sacfolio.train.safety.check_learning_rates`."""
        return {"ppo": self.lr}
