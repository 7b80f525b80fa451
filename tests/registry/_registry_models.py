"""Small real models and a synthetic market for the registry tests (also used by subprocesses).

The registry is generic, so the tests store a tiny actor network of their own: a
softmax allocation over 4 assets computed from 6 features. ``evaluate_on`` runs
that policy week by week over a seeded synthetic market, which gives the gate real
weekly returns to compare.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sacfolio.registry import GateEvaluation, ModelArtifacts

N_FEATURES, N_ASSETS = 6, 4
SYMBOLS = ["AAA", "BBB", "CCC", "DDD"]


class TinyActor(nn.Module):
    """Features (B, 6) -> portfolio weights (B, 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(N_FEATURES, 16), nn.Tanh(), nn.Linear(16, N_ASSETS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.body(x), dim=-1)


def make_actor(seed: int, *, favour: int | None = None, tilt: float = 6.0) -> TinyActor:
    """A seeded actor; ``favour`` adds ``tilt`` to one asset's output bias."""
    torch.manual_seed(seed)
    actor = TinyActor()
    if favour is not None:
        with torch.no_grad():
            actor.body[2].bias[favour] += tilt
    return actor


def make_artifacts(seed: int, *, favour: int | None = None, tilt: float = 6.0) -> ModelArtifacts:
    """Artifacts in the SAC layout (actor, critic, critic_target, log_alpha + JSON docs)."""
    actor = make_actor(seed, favour=favour, tilt=tilt)
    g = torch.Generator().manual_seed(seed + 1000)
    critic = {"q1.weight": torch.randn(8, 10, generator=g), "q1.bias": torch.randn(8, generator=g,
                                                                              dtype=torch.float64)}
    return ModelArtifacts(
        tensors={
            "actor.pt": actor.state_dict(),
            "critic.pt": critic,
            "critic_target.pt": {k: v.clone() for k, v in critic.items()},
            "log_alpha.pt": {"log_alpha": torch.tensor([-1.5 - seed / 100])},
        },
        documents={
            "config.json": {"state_layout": {"signals": 7, "forecast": 1, "weights": N_ASSETS + 1},
                            "hidden": [16], "seed": seed},
            "scaler.json": {"mean": [0.1 * i for i in range(N_FEATURES)], "std": [1.0] * N_FEATURES},
            "symbol_order.json": SYMBOLS,
        },
        metadata={"seed": seed, "training_mode": "full", "universe": SYMBOLS,
                  "data_window": {"start": "2015-01-02", "end": "2020-12-25"}},
    )


def market(seed: int = 7, weeks: int = 104, *, drift=(0.012, 0.002, 0.0, -0.006), noise: float = 0.01):
    """Seeded features (S, 6) and asset returns (S, 4) for the gate window."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(weeks, N_FEATURES)).astype(np.float32)
    returns = np.asarray(drift) + noise * rng.standard_normal((weeks, N_ASSETS))
    return features, returns


def evaluate_on(features: np.ndarray, returns: np.ndarray):
    """Gate evaluator: run the stored actor over the window, weekly net returns out."""

    def evaluate(artifacts: ModelArtifacts) -> GateEvaluation:
        actor = TinyActor()
        actor.load_state_dict(artifacts.tensors["actor.pt"])
        with torch.no_grad():
            weights = actor(torch.from_numpy(features)).double().numpy()
        return GateEvaluation(weekly_returns=(weights * returns).sum(axis=1))

    return evaluate
