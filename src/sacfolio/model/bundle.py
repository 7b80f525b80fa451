"""The model bundle: a trained policy and what it needs to read new data, nothing more.

Serving and backtests hold a :class:`ModelBundle`: the actor (with its aux return
heads when it was trained with them), a numpy copy of its deterministic policy, the
scaler fitted on the training span, the observation layout and the env settings it
trades under. No critic, no optimizer, no replay buffer: those belong to training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

__all__ = ["ModelBundle"]


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

    @classmethod
    def from_actor(cls, actor: GaussianActor, **fields: Any) -> "ModelBundle":
        """A bundle around ``actor`` (its numpy policy is exported here, once)."""
        return cls(actor=actor, policy=NumpyPolicy.from_actor(actor), **fields)

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
        return PortfolioCore(panel.simple_returns(), feats.values, panel.available, self.env_config)

    def target_weights(self, core: PortfolioCore, t: int, weights: np.ndarray | None = None) -> np.ndarray:
        """The weights to trade to (N + 1, CASH last) at row ``t`` of ``core``: what a backtest
        holding ``weights`` at row ``t`` would trade.

        ``weights`` are the portfolio's current weights (default 100% cash). The policy's
        target is projected and traded towards under the model's execution rules from
        ``weights`` (:meth:`PortfolioCore.trade_weights`, the backtest's own code), so with
        partial rebalancing or a band the answer is a step towards the policy's target,
        not the target itself. The result satisfies the constraints (cash floor, position
        cap, unavailable = 0).
        """
        from sacfolio.env.actions import action_to_weights

        current = self._current(weights)
        obs = core.observation_at(t, current)[None, :]
        benchmark = core.benchmark[t] if self.env_config.action_mode == "residual" else None
        target = action_to_weights(self.policy(obs), self.env_config, core.available[t], benchmark)
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
        return self.actor.predict_aux(torch.as_tensor(np.asarray(obs, dtype=np.float32))).numpy()

    def _current(self, weights: np.ndarray | None) -> np.ndarray:
        if weights is not None:
            return np.asarray(weights, dtype=np.float64)
        current = np.zeros(len(self.symbols) + 1)
        current[-1] = 1.0
        return current
