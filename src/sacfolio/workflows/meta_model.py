"""The meta-controller as a registry version: its SAC state dicts, its settings, and the policy
paper trading loads from it (a numpy copy of the actor: no learner, no pickle)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from sacfolio.agents.config import SACConfig
from sacfolio.agents.learner import build_actor
from sacfolio.agents.policy import NumpyPolicy
from sacfolio.agents.sac import SAC
from sacfolio.env.allocation_run import Allocator, AllocationConfig, softmax_weights
from sacfolio.exceptions import CorruptArtifactError
from sacfolio.registry.artifacts import ModelArtifacts, environment_metadata
from sacfolio.registry.registry import Registry

__all__ = ["META_CONFIG_FILE", "MetaPolicy", "load_meta_policy", "meta_artifacts", "meta_policy_of"]

META_CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class MetaPolicy:
    """A loaded meta-controller: the deterministic policy and what it was trained for."""

    policy: NumpyPolicy
    config: AllocationConfig
    strategies: tuple[str, ...]
    version: str

    def allocator(self) -> Allocator:
        """``(state, returns) -> weights``: the softmax of the policy's action."""
        scale = self.config.logit_scale

        def allocate(state: np.ndarray, returns: np.ndarray) -> np.ndarray:
            return softmax_weights(self.policy(np.asarray(state, dtype=np.float32)[None])[0], scale)

        return allocate


def meta_artifacts(learner: SAC, *, sac_config: SACConfig, config: AllocationConfig, strategies: tuple[str, ...],
                   metadata: Mapping[str, Any]) -> ModelArtifacts:
    """Package a trained meta-controller for :meth:`Registry.save`."""
    document = {"kind": "meta_allocation", "sac": sac_config.to_dict(), "allocation": config.to_dict(),
                "strategies": list(strategies), "state_dim": learner.obs_dim, "action_dim": learner.act_dim}
    return ModelArtifacts(tensors=learner.state_dicts(), documents={META_CONFIG_FILE: document},
                          metadata={**environment_metadata(), **metadata, "strategies": list(strategies)})


def meta_policy_of(artifacts: ModelArtifacts) -> MetaPolicy:
    """The policy of a loaded meta-controller version.

    Raises
    ------
    CorruptArtifactError
        The version is not a meta-controller or its actor does not fit its settings.
    """
    doc = artifacts.documents.get(META_CONFIG_FILE) or {}
    if doc.get("kind") != "meta_allocation" or "actor.pt" not in artifacts.tensors:
        raise CorruptArtifactError(f"version {artifacts.version} is not a strategy meta-controller "
                                   "(no meta_allocation config.json or actor.pt)")
    sac_config = SACConfig.from_dict(doc["sac"])
    actor = build_actor(sac_config, int(doc["state_dim"]), int(doc["action_dim"]))
    try:
        actor.load_state_dict(artifacts.tensors["actor.pt"])
    except RuntimeError as exc:
        raise CorruptArtifactError(f"actor.pt of version {artifacts.version} does not fit its config: {exc}") from exc
    return MetaPolicy(NumpyPolicy.from_actor(actor), AllocationConfig.from_dict(doc["allocation"]),
                      tuple(doc["strategies"]), str(artifacts.version))


def load_meta_policy(registry: Registry, name: str, version: str = "current") -> MetaPolicy:
    """The meta-controller ``name`` at ``version`` (default the promoted one)."""
    return meta_policy_of(registry.load(name, version))
