"""The universal agent's twin soft Q-network and the factory that hands its modules to SAC.

The critics read the slot observation with a slot encoder of their own (not the
actor's) and score each slot's action beside its encoded token. :class:`UniversalModules` is the
``modules`` hook of :class:`~sacfolio.agents.sac.SAC`: with it the same learner,
losses and update train the slot transformer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn
from torch.func import functional_call

from sacfolio.agents.networks import relu_layers
from sacfolio.agents.universal import (SlotEncoder, UniversalActor, UniversalConfig, inputs_of, seeded_init,
                                       token_width, unflatten)
from sacfolio.env.slots import SlotLayout, SlotSpec
from sacfolio.exceptions import ConfigError

__all__ = ["TwinHeads", "UniversalModules", "UniversalTwinCritic"]


class TwinHeads(nn.Module):
    """Each critic's Q: ``mean over live slots of f([h_i, pooled, a_i])``
    ``+ g([pooled, advisors' CASH, a_cash, a_mix])`` (ReLU MLPs f, g)."""

    def __init__(self, d_model: int, n_advisors: int, hidden_sizes: Sequence[int], n_critics: int) -> None:
        super().__init__()
        self.slot = nn.ModuleList(_mlp(2 * d_model + 1, hidden_sizes) for _ in range(n_critics))
        self.glob = nn.ModuleList(_mlp(d_model + 2 * n_advisors + 1, hidden_sizes) for _ in range(n_critics))

    def forward(self, h: torch.Tensor, pooled: torch.Tensor, live: torch.Tensor, cash: torch.Tensor,
                action: torch.Tensor) -> torch.Tensor:
        """(n_critics, B) Q values of encoded observations and actions (any number of slots N)."""
        N = h.shape[1]
        on = live.to(h.dtype)
        slot_in = torch.cat((h, pooled.unsqueeze(1).expand(-1, N, -1), action[:, :N].unsqueeze(-1)), dim=-1)
        glob_in = torch.cat((pooled, cash, action[:, N:]), dim=-1)
        n_live = on.sum(1).clamp(min=1.0)
        return torch.stack([(f(slot_in).squeeze(-1) * on).sum(1) / n_live + g(glob_in).squeeze(-1)
                            for f, g in zip(self.slot, self.glob)])


class UniversalTwinCritic(nn.Module):
    """Q1 and Q2 over (slot observation, slot action), with :class:`~sacfolio.agents.critics.TwinCritic`'s call.

    One slot encoder reads the observation (shared by both critics, as
    Stable-Baselines3 shares a critic's features extractor), then :class:`TwinHeads`:
    permuting slots together with their actions leaves Q unchanged, and padded
    slots' actions never reach it.
    """

    n_critics = 2

    def __init__(self, layout: SlotLayout, spec: SlotSpec, config: UniversalConfig = UniversalConfig(),
                 hidden_sizes: Sequence[int] = (64, 64), *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.layout, self.padding_id = layout, spec.padding_id
        self.obs_dim, self.act_dim = layout.obs_dim, layout.act_dim
        with seeded_init(generator):
            self.encoder = SlotEncoder(token_width(layout), spec.n_ids, spec.padding_id, config)
            self.heads = TwinHeads(config.d_model, layout.n_advisors, hidden_sizes, self.n_critics)

    def encode(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(per-slot (B, N, D), pooled (B, D), live (B, N), advisors' CASH (B, K))."""
        x = inputs_of(unflatten(obs, self.layout), self.padding_id)
        h, pooled = self.encoder(x.tokens, x.ids, x.live)
        return h, pooled, x.live, x.advisors_cash

    def forward(self, obs: torch.Tensor, action: torch.Tensor, *, detach_params: bool = False) -> torch.Tensor:
        """(2, B): row 0 Q1, row 1 Q2. ``detach_params``: weights as constants, gradients reach
        ``action`` only (the encoder, which does not see the action, runs without a graph)."""
        if not detach_params:
            return self.heads(*self.encode(obs), action)
        with torch.no_grad():
            encoded = self.encode(obs)
        params = {k: v.detach() for k, v in self.heads.named_parameters()}
        return functional_call(self.heads, params, (*encoded, action))


def _mlp(in_features: int, hidden_sizes: Sequence[int]) -> nn.Sequential:
    layers, width = relu_layers(in_features, hidden_sizes)
    return nn.Sequential(*layers, nn.Linear(width, 1))


@dataclass(frozen=True, kw_only=True)
class UniversalModules:
    """The actor and critic factory SAC takes (``SAC(..., modules=UniversalModules(...))``).

    Attributes
    ----------
    layout : SlotLayout
    spec : SlotSpec
    config : UniversalConfig
    """

    layout: SlotLayout
    spec: SlotSpec
    config: UniversalConfig = UniversalConfig()

    def _check(self, obs_dim: int, act_dim: int) -> None:
        if (obs_dim, act_dim) != (self.layout.obs_dim, self.layout.act_dim):
            raise ConfigError(f"the slot layout has obs_dim={self.layout.obs_dim}, act_dim={self.layout.act_dim}; "
                              f"the learner was asked for {obs_dim}, {act_dim}")

    def actor(self, obs_dim: int, act_dim: int, *, config, generator: torch.Generator | None) -> UniversalActor:
        """The policy (``config`` is the learner's: its log-std bounds)."""
        self._check(obs_dim, act_dim)
        if getattr(config, "aux", False):
            raise ConfigError("the universal model has no aux return heads; train it with aux=False")
        return UniversalActor(self.layout, self.spec, self.config, log_std_min=config.log_std_min,
                              log_std_max=config.log_std_max, generator=generator)

    def critic(self, obs_dim: int, act_dim: int, *, config, generator: torch.Generator | None
               ) -> UniversalTwinCritic:
        """The twin critic (``config.hidden_sizes`` after the pooled feature)."""
        self._check(obs_dim, act_dim)
        return UniversalTwinCritic(self.layout, self.spec, self.config, config.hidden_sizes, generator=generator)
