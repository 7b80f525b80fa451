"""The universal model's bundle: a slot policy that trades any universe of up to MAX_SYMBOLS.

A :class:`UniversalBundle` is a :class:`~sacfolio.model.bundle.ModelBundle` whose
policy reads slot observations (:mod:`sacfolio.env.slots`): its :meth:`core` accepts
any market of ``n <= MAX_SYMBOLS`` symbols (a subset of the training universe, or
symbols it never saw, which share one embedding), and its targets come back in that
market's symbol order, CASH last. ``config.json`` carries the slots (``slots``), the
flat layout (``slot_layout``) and the transformer sizes (``universal``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import torch

from sacfolio.agents.config import SACConfig
from sacfolio.agents.universal import UniversalActor, UniversalConfig
from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import EnvConfig
from sacfolio.env.layout import ObservationLayout
from sacfolio.env.slot_env import SlotCore, slot_core
from sacfolio.env.slots import SlotLayout, SlotSpec, mixture_weights, slot_action_to_weights
from sacfolio.exceptions import CorruptArtifactError, LayoutMismatchError
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.scaler import FeatureScaler
from sacfolio.features.variants import FeatureSources
from sacfolio.model.bundle import ModelBundle

__all__ = ["TorchPolicy", "UniversalBundle", "load_universal_bundle"]


class TorchPolicy:
    """The deterministic slot policy ``obs -> tanh(mean)`` as a numpy callable (no gradient)."""

    def __init__(self, actor: UniversalActor) -> None:
        self.actor = actor

    @property
    def obs_dim(self) -> int:
        return self.actor.obs_dim

    @property
    def act_dim(self) -> int:
        return self.actor.act_dim

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        single = x.ndim == 1
        action = self.actor.act(x[None] if single else x).numpy()
        return action[0] if single else action


@dataclass(frozen=True, kw_only=True)
class UniversalBundle(ModelBundle):
    """A slot policy with everything it needs to trade a market of up to MAX_SYMBOLS symbols.

    Attributes
    ----------
    spec : SlotSpec
        Slots, training vocabulary (``layout.symbols``) and advisors.
    universal : UniversalConfig
        Transformer sizes (to rebuild the actor).
    """

    spec: SlotSpec = field(default_factory=SlotSpec)
    universal: UniversalConfig = field(default_factory=UniversalConfig)

    @classmethod
    def from_actor(cls, actor: UniversalActor, **fields: Any) -> "UniversalBundle":  # type: ignore[override]
        return cls(actor=actor, policy=TorchPolicy(actor), **fields)  # type: ignore[arg-type]

    @property
    def slot_layout(self) -> SlotLayout:
        return SlotLayout.of(self.spec, len(self.feature_names))

    def core(self, panel: MarketPanel, features: FeatureSet | None = None) -> SlotCore:  # type: ignore[override]
        """A slot simulator over ``panel`` (any n <= MAX_SYMBOLS symbols) with this model's scaled features."""
        if panel.n_symbols > self.spec.max_symbols:
            raise LayoutMismatchError(f"the data has {panel.n_symbols} symbols; this model has "
                                      f"{self.spec.max_symbols} slots")
        raw = features if features is not None else self.features(panel)
        return slot_core(panel, self.scaler.transform(raw), self.spec, self.env_config)

    def universe_core(self, panel: MarketPanel, symbols: tuple[str, ...] | list[str], row: int) -> SlotCore:
        """A core trading only ``symbols`` (a subset of ``panel``'s, in that order) for a decision at ``row``.

        Raises
        ------
        LayoutMismatchError
            A symbol not in the data, a repeated one, fewer than 2 or more than MAX_SYMBOLS.
        """
        symbols = tuple(str(s) for s in symbols)
        missing = [s for s in symbols if s not in panel.symbols]
        if missing or len(set(symbols)) != len(symbols) or not 2 <= len(symbols) <= self.spec.max_symbols:
            raise LayoutMismatchError(
                f"symbols must be 2..{self.spec.max_symbols} distinct symbols of the data; "
                + (f"{missing} are not in it (it has {list(panel.symbols)})" if missing else f"got {list(symbols)}"))
        idx = [panel.symbols.index(s) for s in symbols]
        market = MarketPanel(dates=panel.dates, symbols=symbols, close=panel.close[:, idx],
                             available=panel.available[:, idx], source=panel.source)
        raw = self.features(market)
        return slot_core(market, self.scaler.transform(raw), self.spec, self.env_config, rows=np.array([row]))

    def decisions(self, obs: np.ndarray, available: np.ndarray, benchmark: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray | None]:
        """Target weights (B, n + 1) and advisor mixture (B, K) or None of slot observations (B, obs_dim)
        at one row with ``available`` (n,) live symbols; a seed ensemble averages its members' both
        (or, with ``ensemble_mix="actions"``, maps its members' mean action once)."""
        layout = self.slot_layout
        obs = np.asarray(obs, dtype=np.float32)
        n = np.shape(available)[-1]
        live = np.broadcast_to(np.asarray(available, dtype=bool), (obs.shape[0], n))
        advisors = None
        if layout.n_advisors:
            slot_adv = obs[:, layout.slices["advisor_weights"]].reshape((-1,) + layout.shapes["advisor_weights"])
            advisors = np.concatenate((slot_adv[:, :, :n], slot_adv[:, :, -1:]), axis=-1).astype(np.float64)
        bench = None if benchmark is None else np.broadcast_to(benchmark, (obs.shape[0], n + 1))
        actions = [p(obs) for p in self.policies]
        if self.ensemble_mix == "actions" and len(actions) > 1:
            actions = [np.mean(actions, axis=0)]
        results = [slot_action_to_weights(a, advisors, live, self.env_config, layout, benchmark=bench)
                   for a in actions]
        targets = np.mean([r[0] for r in results], axis=0)
        mixtures = None if advisors is None else np.mean([r[1] for r in results], axis=0)
        return targets, mixtures

    def policy_target(self, obs: np.ndarray, available: np.ndarray, benchmark: np.ndarray | None) -> np.ndarray:
        return self.decisions(obs, available, benchmark)[0]

    def mixture(self, obs: np.ndarray) -> np.ndarray:
        """The advisor mixture (B, K) of slot observations (the deterministic actions' softmax)."""
        layout = self.slot_layout
        actions = [p(obs) for p in self.policies]
        if self.ensemble_mix == "actions" and len(actions) > 1:
            actions = [np.mean(actions, axis=0)]
        mixes = [mixture_weights(a[..., layout.max_symbols + 1:], self.env_config.logit_scale) for a in actions]
        return np.mean(mixes, axis=0)

    def target_weights(self, core: SlotCore, t: int,  # type: ignore[override]
                       weights: np.ndarray | None = None) -> np.ndarray:
        return self.decide_at(core, t, weights)[0]

    def decide_at(self, core: SlotCore, t: int, weights: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray | None]:
        """(weights to trade to (n + 1,), advisor mixture (K,) or None) at row ``t`` of ``core``,
        as :meth:`ModelBundle.target_weights` (projected, after the execution rules from
        ``weights``; without them, the target itself)."""
        current = np.asarray(weights, dtype=np.float64) if weights is not None else \
            np.eye(core.act_dim)[-1]
        obs = core.observation_at(t, current)[None, :]
        bench = core.benchmark[t] if self.env_config.action_mode == "residual" else None
        target, mixture = self.decisions(obs, core.available[t], bench)
        traded = target[0] if weights is None else core.trade_weights(target, np.array([t]), current[None, :])[0]
        return traded, None if mixture is None else mixture[0]

    def slot_documents(self) -> dict[str, Any]:
        """The ``config.json`` blocks a universal model adds."""
        return {"slots": self.spec.to_dict(), "slot_layout": self.slot_layout.to_dict(),
                "universal": self.universal.to_dict()}


def load_universal_bundle(tensors: Mapping[str, Mapping[str, torch.Tensor]], documents: Mapping[str, Any],
                          metadata: Mapping[str, Any] | None = None, *, version: str = "") -> UniversalBundle:
    """The bundle of a saved universal model (``config.json`` with ``slots``)."""
    from sacfolio.agents.networks import load_module_states
    from sacfolio.model.files import ensemble_mix, ensemble_size, member_file

    config = documents["config.json"]
    try:
        spec = SlotSpec.from_dict(config["slots"])
        universal = UniversalConfig.from_dict(config["universal"])
        layout = ObservationLayout.from_dict(config["state_layout"])
        sac_config = SACConfig.from_dict(config["sac"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptArtifactError(f"version {version}: the universal model's config.json is malformed ({exc!r})") \
            from exc
    slot_layout = SlotLayout.of(spec, len(layout.features))
    names = [member_file(k, "actor.pt") for k in range(ensemble_size(documents))]
    # left in training mode (it has no dropout or batch norm): in eval mode torch's fused
    # transformer fast path rounds differently, and a loaded model must trade exactly as trained
    actors = {name: UniversalActor(slot_layout, spec, universal, log_std_min=sac_config.log_std_min,
                                   log_std_max=sac_config.log_std_max) for name in names}
    load_module_states(actors, tensors, expected=tuple(names),
                       shapes=f"slots={spec.max_symbols}, features={len(layout.features)}, "
                              f"advisors={spec.n_advisors}, {universal}")
    window = (metadata or {}).get("train_window") or ["", ""]
    fields = dict(scaler=FeatureScaler.from_dict(documents["scaler.json"]), variant=str(config["variant"]),
                  layout=layout, env_config=EnvConfig.from_dict(config["env"]),
                  sources=FeatureSources(**(config.get("sources") or {})),
                  train_window=(str(window[0]), str(window[1])), learner={"sac": sac_config.to_dict()},
                  spec=spec, universal=universal)
    return UniversalBundle.ensemble([UniversalBundle.from_actor(a, **fields) for a in actors.values()],
                                    mix=ensemble_mix(documents))
