"""The model bundle: a trained policy and what it needs to read new data, nothing more.

Serving and backtests hold a :class:`ModelBundle`: the actor (with its aux return
heads when it was trained with them), a numpy copy of its deterministic policy, the
scaler fitted on the training span, the observation layout and the env settings it
trades under. No critic, no optimizer, no replay buffer: those belong to training.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from sacfolio.agents.networks import GaussianActor
from sacfolio.agents.policy import NumpyPolicy
from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import EnvConfig
from sacfolio.env.core import PortfolioCore
from sacfolio.env.layout import ObservationLayout
from sacfolio.exceptions import ConfigError, LayoutMismatchError
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.scaler import FeatureScaler
from sacfolio.features.variants import FeatureSources, build_features

__all__ = ["ENSEMBLE_MIXES", "MEMBER_SEED_STRIDE", "ModelBundle", "member_seed"]

ENSEMBLE_MIXES = ("weights", "actions")
"""How a seed ensemble combines its members: ``"weights"`` averages each member's target
weights (a portfolio of portfolios); ``"actions"`` averages their actions and maps the mean
once (:meth:`ModelBundle.target_of`)."""

MEMBER_SEED_STRIDE = 1000
"""Member k of a seed ensemble trains with ``seed + 1000 * k`` (member 0 is the single model)."""


def numpy_policy(actor: Any) -> Any:
    """The numpy copy of ``actor``'s deterministic policy that backtests and serving call."""
    from sacfolio.agents.cross_sectional import CrossSectionalActor, NumpyCrossSectionalPolicy

    return NumpyCrossSectionalPolicy(actor) if isinstance(actor, CrossSectionalActor) else NumpyPolicy.from_actor(actor)


def member_seed(seed: int, member: int) -> int:
    """The training seed of ensemble member ``member`` of a model trained with ``seed``."""
    return int(seed) + MEMBER_SEED_STRIDE * int(member)


@dataclass(frozen=True, kw_only=True)
class ModelBundle:
    """A trained policy with everything needed to apply it to new data.

    Attributes
    ----------
    actor : GaussianActor
        The trained actor; its aux heads (if any) answer :meth:`predict_aux`.
    policy : NumpyPolicy
        The deterministic actor as numpy matmuls (microseconds per call).
    scaler : FeatureScaler
        Fitted on the training span only.
    variant : str
        State variant (see :data:`sacfolio.features.variants.VARIANTS`).
    layout : ObservationLayout
        Symbol order and feature names of the state.
    env_config : EnvConfig
        Constraints, costs and action scale the policy was trained under.
    sources : FeatureSources
        News and fundamentals inputs of the signal variants.
    train_window : tuple of str
        First and last date whose prices the training used (ISO).
    aux_horizons : tuple of int
        Horizons (weeks) of the aux return heads; empty without them.
    learner : dict
        The learner's settings as written to ``config.json`` (``{"algo": ..., ...}``).
    member_actors : tuple of GaussianActor
        A seed ensemble's other members (trained like ``actor`` with other seeds, on the
        same data, scaler and settings); empty for a single model.
    member_policies : tuple of NumpyPolicy
        Their numpy policies.
    ensemble_mix : {"weights", "actions"}
        How the members combine. ``"weights"`` (default): the bundle trades the average of
        all members' target weights (a portfolio of portfolios, feasible because the
        feasible set is convex). ``"actions"``: it averages the members' actions and maps
        that mean through the action mode once. Where the members' tilts are small the two
        agree; where the projection clips (large residual tilts at the position cap) the
        mean action keeps what the members agree on and cancels what they do not, while
        the mean of clipped weights dilutes every member's view (the planted-signal study
        in ``benchmarks/bench_learning.py``). Unused by a single model.
    holdout : tuple of dict
        Per member (empty: none checked), the out-of-sample check of its residual tilts
        (:mod:`sacfolio.train.holdout`): ``{"trades": bool, "ic": ..., "t": ..., ...}``.
        A member whose ``trades`` is False plays the zero action: the benchmark, exactly;
        one with a ``scale`` below 1 (scaled sizing) plays that share of its action.
    """

    actor: GaussianActor
    policy: NumpyPolicy
    scaler: FeatureScaler
    variant: str
    layout: ObservationLayout
    env_config: EnvConfig
    sources: FeatureSources = field(default_factory=FeatureSources)
    train_window: tuple[str, str] = ("", "")
    aux_horizons: tuple[int, ...] = ()
    learner: dict[str, Any] = field(default_factory=dict)
    member_actors: tuple[GaussianActor, ...] = ()
    member_policies: tuple[NumpyPolicy, ...] = ()
    holdout: tuple[dict[str, Any], ...] = ()
    ensemble_mix: str = "weights"

    def __post_init__(self) -> None:
        if self.ensemble_mix not in ENSEMBLE_MIXES:
            raise ConfigError(f"ensemble_mix={self.ensemble_mix!r}; choose from {list(ENSEMBLE_MIXES)}")

    @classmethod
    def from_actor(cls, actor: GaussianActor, **fields: Any) -> "ModelBundle":
        """A bundle around ``actor`` (its numpy policy is exported here, once)."""
        return cls(actor=actor, policy=numpy_policy(actor), **fields)

    @classmethod
    def ensemble(cls, bundles: "list[ModelBundle] | tuple[ModelBundle, ...]", *,
                 mix: str = "weights") -> "ModelBundle":
        """One bundle that trades ``bundles`` combined by ``mix`` (:data:`ENSEMBLE_MIXES`):
        single models, same variant, layout, scaler, settings and training window; the
        first one's fields."""
        if not bundles:
            raise ConfigError("an ensemble needs at least one member")
        first = bundles[0]
        for k, b in enumerate(bundles[1:], start=1):
            if b.n_members != 1:
                raise ConfigError(f"ensemble member {k} is itself an ensemble of {b.n_members}")
            same = (b.variant == first.variant and b.layout == first.layout and b.env_config == first.env_config
                    and b.train_window == first.train_window and b.scaler.to_dict() == first.scaler.to_dict())
            if not same:
                raise ConfigError(f"ensemble member {k} was trained on other data or settings than member 0 "
                                  f"(variant, layout, scaler, env settings and training window must agree)")
        if len(bundles) == 1:
            return first
        checks = tuple(b.holdout[0] if b.holdout else {} for b in bundles) if any(b.holdout for b in bundles) else ()
        return replace(first, member_actors=tuple(b.actor for b in bundles[1:]),
                       member_policies=tuple(b.policy for b in bundles[1:]), holdout=checks, ensemble_mix=mix)

    @property
    def n_members(self) -> int:
        """How many seeds' policies this bundle averages (1 for a single model)."""
        return 1 + len(self.member_policies)

    @property
    def policies(self) -> tuple[NumpyPolicy, ...]:
        return (self.policy,) + self.member_policies

    def members(self) -> tuple["ModelBundle", ...]:
        """Each member as a single-model bundle (member 0 first)."""
        checks = [(c,) if c else () for c in self.holdout] or [()] * self.n_members
        single = replace(self, member_actors=(), member_policies=(), holdout=checks[0], ensemble_mix="weights")
        return (single,) + tuple(replace(single, actor=a, policy=p, holdout=c)
                                 for a, p, c in zip(self.member_actors, self.member_policies, checks[1:]))

    def trades_tilt(self, member: int = 0) -> bool:
        """Whether ``member`` trades its policy (False: its holdout check held it at the benchmark)."""
        return self.tilt_scale(member) > 0

    def tilt_scale(self, member: int = 0) -> float:
        """The share of its action ``member`` plays: 1 without a check, 0 when its check holds
        it at the benchmark (``trades`` False), else the check's ``scale`` (1 in a check
        from before scaled sizing)."""
        if not self.holdout:
            return 1.0
        check = self.holdout[member]
        return float(check.get("scale", 1.0)) if check.get("trades", True) else 0.0

    def policy_target(self, obs: np.ndarray, available: np.ndarray, benchmark: np.ndarray | None) -> np.ndarray:
        """Target weights (B, N + 1) for observations ``obs`` (B, obs_dim) at one row: each
        member's policy mapped through the action mode and the targets averaged over
        members, or (``ensemble_mix="actions"``) the members' mean action mapped once.

        ``available`` (N,) are the row's tradable stocks and ``benchmark`` (N + 1,) the
        residual mode's benchmark weights at the row (None in the softmax mode). A member
        held at the benchmark by its holdout check plays the zero action.
        """
        return self.target_of(self.member_actions(obs), available, benchmark)

    def member_actions(self, obs: np.ndarray) -> list[np.ndarray]:
        """Each member's action (B, act_dim) for ``obs`` times its :meth:`tilt_scale`: the zero
        action for a member its holdout check holds at the benchmark."""
        scales = [self.tilt_scale(k) for k in range(self.n_members)]
        return [np.zeros((len(obs), self.layout.act_dim)) if s <= 0 else p(obs) if s >= 1 else s * p(obs)
                for s, p in zip(scales, self.policies)]

    def target_of(self, actions: list[np.ndarray], available: np.ndarray,
                  benchmark: np.ndarray | None) -> np.ndarray:
        """The target weights (B, N + 1) of the members' ``actions`` (:meth:`member_actions`)
        combined by :attr:`ensemble_mix`, as :meth:`policy_target` trades them."""
        from sacfolio.env.actions import action_to_weights

        if self.ensemble_mix == "actions" and len(actions) > 1:
            actions = [np.mean(actions, axis=0)]
        targets = [action_to_weights(a, self.env_config, available, benchmark) for a in actions]
        return targets[0] if len(targets) == 1 else np.mean(targets, axis=0)

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.layout.symbols

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.layout.features

    @property
    def has_aux(self) -> bool:
        return bool(self.aux_horizons) and self.actor.aux is not None

    def features(self, panel: MarketPanel, *, progress: bool = False) -> FeatureSet:
        """The unscaled features of this bundle's variant over ``panel``."""
        return build_features(panel, self.variant, sources=self.sources, progress=progress)

    def core(self, panel: MarketPanel, features: FeatureSet | None = None) -> PortfolioCore:
        """A simulator over ``panel`` with this model's scaled features.

        ``features`` are the unscaled features of ``panel`` when the caller already has
        them (walk-forward reuses one set for every fold).
        """
        if tuple(panel.symbols) != self.symbols:
            raise LayoutMismatchError(
                f"the model was trained on symbols {list(self.symbols)} but the data has "
                f"{list(panel.symbols)}; the state would be misaligned")
        raw = features if features is not None else self.features(panel)
        feats = self.scaler.transform(raw)
        return PortfolioCore(panel.simple_returns(), feats.values, panel.available, self.env_config, panel=panel)

    def target_weights(self, core: PortfolioCore, t: int, weights: np.ndarray | None = None) -> np.ndarray:
        """The weights to trade to (N + 1, CASH last) at row ``t`` of ``core``: what a backtest
        holding ``weights`` at row ``t`` would trade.

        ``weights`` are the portfolio's current weights. The policy's target is projected
        and traded towards under the model's execution rules from ``weights``
        (:meth:`PortfolioCore.trade_weights`, the backtest's own code), so with partial
        rebalancing or a band the answer is a step towards the policy's target. Without
        ``weights`` there is no step to take: the answer is the target itself, decided
        from a state of 100% cash (a step from cash would read as a model that wants to
        hold half its book in cash). The result satisfies the constraints (cash floor,
        position cap, unavailable = 0).
        """
        current = self._current(weights)
        obs = core.observation_at(t, current)[None, :]
        benchmark = core.benchmark[t] if self.env_config.action_mode == "residual" else None
        target = self.policy_target(obs, core.available[t], benchmark)
        if weights is None:
            return target[0]
        return core.trade_weights(target, np.array([t]), current[None, :])[0]

    def predict_aux(self, obs: np.ndarray) -> np.ndarray:
        """Aux return predictions, shape (B, H, N) for ``obs`` (B, obs_dim).

        Raises
        ------
        ConfigError
            If the model was trained without aux heads.
        """
        if not self.has_aux:
            raise ConfigError(f"model {self.variant} has no aux return heads")
        # an ensemble answers with member 0's heads: the aux heads are a training check
        return self.actor.predict_aux(torch.as_tensor(np.asarray(obs, dtype=np.float32))).numpy()

    def _current(self, weights: np.ndarray | None) -> np.ndarray:
        if weights is not None:
            return np.asarray(weights, dtype=np.float64)
        current = np.zeros(len(self.symbols) + 1)
        current[-1] = 1.0
        return current
