"""A cross-sectional actor and critic: one small network shared by every stock.

The flat state (:mod:`sacfolio.env.layout`) is ``features[symbol][feature]`` then the
weights; this architecture reads it as N stock tokens ``[features_i, weight_i]`` and
applies the same MLP to each (the "ensemble of identical independent evaluators" of
Jiang, Xu & Liang, "A Deep Reinforcement Learning Framework for the Financial Portfolio
Management Problem", 2017). What it learns about one stock's features it knows about
every stock's, so a per-stock signal is learned from N times as many examples as a
flat MLP sees for any one input column, and no column position carries meaning.

- :class:`CrossSectionalActor`: token MLP -> ``h_i``; the stock's action from
  ``[h_i, mean_j h_j]`` and CASH's from ``[mean_j h_j, w_cash]``; optional per-stock
  aux return heads on ``h_i``. It has :class:`~sacfolio.agents.networks.GaussianActor`'s
  interface (``trunk``, :meth:`~CrossSectionalActor.sample_features`, ``act``, ``aux``).
- :class:`CrossSectionalTwinCritic`: each critic is
  ``Q = mean_i q([token_i, a_i, context]) + g([context, a_cash])``, the context being
  the cross-sectional means of the tokens and actions and CASH's weight and action.
  One-step portfolio rewards are sums over stocks of weight x return, which this form
  holds exactly in the residual action mode.

``SACConfig(network="cross_sectional")`` selects both (:func:`build_actor`,
:class:`CrossSectionalModules`); saved models record the network and load back into it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from sacfolio.agents.networks import SquashedPolicy, linear_init_, relu_layers, standard_log_density
from sacfolio.exceptions import ConfigError

__all__ = ["CrossSectionalActor", "CrossSectionalModules", "CrossSectionalTwinCritic", "NumpyCrossSectionalPolicy",
           "stock_shape"]

_LOG_2 = 0.6931471805599453


def stock_shape(obs_dim: int, act_dim: int) -> tuple[int, int]:
    """(N stocks, F features per stock) of a flat layout with ``obs_dim = N*F + N + 1``, ``act_dim = N + 1``."""
    n = int(act_dim) - 1
    if n < 1 or (obs_dim - n - 1) % n or obs_dim - n - 1 < n:
        raise ConfigError(f"obs_dim={obs_dim}, act_dim={act_dim} is not a layout of N stocks x F features "
                          f"plus N + 1 weights; the cross-sectional network needs that layout")
    return n, (int(obs_dim) - n - 1) // n


def _tokens(obs: torch.Tensor, n: int, f: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(stock tokens (B, N, F + 1) = [features_i, weight_i], CASH's weight (B, 1))."""
    feats = obs[:, :n * f].reshape(-1, n, f)
    weights = obs[:, n * f:]
    return torch.cat((feats, weights[:, :n, None]), dim=-1), weights[:, n:]


def _init(modules: Sequence[nn.Module], generator: torch.Generator | None) -> None:
    for m in modules:
        for layer in (m if isinstance(m, nn.Sequential) else [m]):
            if isinstance(layer, nn.Linear):
                linear_init_(layer.weight, layer.bias, layer.in_features, generator)


def _mlp(in_features: int, hidden_sizes: Sequence[int], out: int | None) -> nn.Sequential:
    layers, width = relu_layers(in_features, hidden_sizes)
    return nn.Sequential(*layers, *([nn.Linear(width, out)] if out is not None else []))


class CrossSectionalAuxHeads(nn.Module):
    """Per-stock aux return heads: ``clip * tanh(Linear(h_i))`` per horizon, shared by the stocks.

    Reads the actor's flat trunk features (:meth:`CrossSectionalActor.split`) and returns
    (B, H, N), the shape :class:`~sacfolio.agents.aux.AuxObjective` trains.
    """

    def __init__(self, actor: "CrossSectionalActor", n_horizons: int, clip: float,
                 generator: torch.Generator | None) -> None:
        super().__init__()
        self.n_horizons, self.n_assets, self.clip = int(n_horizons), actor.n_stocks, float(clip)
        self._split = actor.split
        self.head = nn.Linear(actor.width, self.n_horizons)
        _init([self.head], generator)

    def forward(self, features: torch.Tensor, horizons: Sequence[int] | None = None) -> torch.Tensor:
        h = self._split(features)[0]                                     # (B, N, D)
        out = torch.tanh(self.head(h)).transpose(1, 2)                   # (B, H, N)
        if horizons is not None:
            out = out[:, list(horizons)]
        return out if self.clip == 1.0 else out * self.clip


class _Trunk(nn.Module):
    """Flat observations -> flat features ``[h (N*D), mean_j h_j (D), w_cash (1)]``."""

    def __init__(self, n: int, f: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.n, self.f = n, f
        self.token = _mlp(f + 1, hidden_sizes, None)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        tokens, cash = _tokens(obs, self.n, self.f)
        h = self.token(tokens)
        return torch.cat((h.flatten(1), h.mean(1), cash), dim=-1)


class CrossSectionalActor(SquashedPolicy):
    """Squashed Gaussian policy whose stock actions come from one network shared by the stocks.

    Parameters
    ----------
    obs_dim, act_dim : int
        A flat layout (:func:`stock_shape`).
    hidden_sizes : sequence of int
        Widths of the token MLP (ReLU).
    log_std_min, log_std_max : float
    generator : torch.Generator, optional
        Source of the initial weights (token MLP, stock head, CASH head, then aux heads).
    aux_horizons : int, optional
        Number of aux horizons H (per-stock heads, :class:`CrossSectionalAuxHeads`); None: none.
    aux_clip : float
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden_sizes: Sequence[int] = (64, 64), *,
                 log_std_min: float = -20.0, log_std_max: float = 2.0,
                 generator: torch.Generator | None = None, aux_horizons: int | None = None,
                 aux_clip: float = 1.0) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.n_stocks, self.n_features = stock_shape(obs_dim, act_dim)
        self.log_std_min, self.log_std_max = float(log_std_min), float(log_std_max)
        self.width = int(hidden_sizes[-1])
        self.trunk = _Trunk(self.n_stocks, self.n_features, hidden_sizes)
        self.stock_head = nn.Linear(2 * self.width, 2)        # mean, log_std of each stock's action
        self.cash_head = nn.Linear(self.width + 1, 2)         # mean, log_std of CASH's action
        _init([self.trunk.token, self.stock_head, self.cash_head], generator)
        self.aux = None if aux_horizons is None else CrossSectionalAuxHeads(self, aux_horizons, aux_clip, generator)

    def split(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(h (B, N, D), pooled (B, D), w_cash (B, 1)) of the trunk's flat features."""
        n, d = self.n_stocks, self.width
        return features[:, :n * d].reshape(-1, n, d), features[:, n * d:(n + 1) * d], features[:, (n + 1) * d:]

    def heads(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, clamped log_std), each (B, N + 1), of trunk features."""
        h, pooled, cash = self.split(features)
        stock = self.stock_head(torch.cat((h, pooled.unsqueeze(1).expand_as(h)), dim=-1))   # (B, N, 2)
        c = self.cash_head(torch.cat((pooled, cash), dim=-1))                               # (B, 2)
        mean = torch.cat((stock[..., 0], c[:, :1]), dim=-1)
        log_std = torch.cat((stock[..., 1], c[:, 1:]), dim=-1).clamp(self.log_std_min, self.log_std_max)
        return mean, log_std

    def sample_features(self, features: torch.Tensor, generator: torch.Generator | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reparameterized sample from trunk features: (action, log_prob, pre_tanh, noise)."""
        mean, log_std = self.heads(features)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
        pre_tanh = mean + log_std.exp() * noise
        log_det = 2.0 * (_LOG_2 - pre_tanh - F.softplus(-2.0 * pre_tanh))
        log_prob = (standard_log_density(noise, log_std) - log_det).sum(-1)
        return torch.tanh(pre_tanh), log_prob, pre_tanh, noise

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log_std), each (B, act_dim), of flat observations."""
        return self.heads(self.trunk(obs))

    @torch.no_grad()
    def predict_aux(self, obs: torch.Tensor) -> torch.Tensor:
        """Aux return predictions (B, H, N)."""
        if self.aux is None:
            raise ConfigError("this model has no aux return heads; train it with aux=True (--aux).")
        return self.aux(self.trunk(obs))

    def linears(self) -> list[nn.Linear]:
        """The policy's Linear layers: token MLP, stock head, CASH head (no aux heads)."""
        return [m for m in self.trunk.token if isinstance(m, nn.Linear)] + [self.stock_head, self.cash_head]


class NumpyCrossSectionalPolicy:
    """Deterministic :class:`CrossSectionalActor` ``obs -> tanh(mean)`` as numpy matmuls (float32).

    Has :class:`~sacfolio.agents.policy.NumpyPolicy`'s call: (B, obs_dim) or (obs_dim,) ->
    actions of the same leading shape, in [-1, 1].
    """

    def __init__(self, actor: CrossSectionalActor) -> None:
        def arrays(layer: nn.Linear) -> tuple[np.ndarray, np.ndarray]:
            return (layer.weight.detach().cpu().numpy().T.astype(np.float32),
                    layer.bias.detach().cpu().numpy().astype(np.float32))

        self.n, self.f, self.obs_dim, self.act_dim = actor.n_stocks, actor.n_features, actor.obs_dim, actor.act_dim
        self.token = [arrays(m) for m in actor.trunk.token if isinstance(m, nn.Linear)]
        self.stock, self.cash = arrays(actor.stock_head), arrays(actor.cash_head)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float32)
        single = x.ndim == 1
        x = x.reshape(-1, self.obs_dim)
        if x.shape[-1] != self.obs_dim:
            raise ValueError(f"observation has {x.shape[-1]} features, the policy expects {self.obs_dim}")
        n, f = self.n, self.f
        h = np.concatenate((x[:, :n * f].reshape(-1, n, f), x[:, n * f:n * f + n, None]), axis=-1)
        for w, b in self.token:
            h = np.maximum(h @ w + b, 0.0)
        pooled = h.mean(axis=1)
        stock = np.concatenate((h, np.broadcast_to(pooled[:, None], h.shape)), axis=-1) @ self.stock[0][:, :1]
        cash = np.concatenate((pooled, x[:, -1:]), axis=-1) @ self.cash[0][:, :1]
        out = np.tanh(np.concatenate((stock[..., 0] + self.stock[1][0], cash + self.cash[1][0]), axis=-1))
        return out[0] if single else out


class _TwinHeads(nn.Module):
    """Q1 and Q2 of (tokens, actions): ``mean_i q_k([token_i, a_i, ctx]) + g_k([ctx, a_cash])``."""

    def __init__(self, n: int, f: int, hidden_sizes: Sequence[int], generator: torch.Generator | None) -> None:
        super().__init__()
        ctx = (f + 1) + 2                      # the mean token, the mean stock action, CASH's weight
        self.q = nn.ModuleList(_mlp(f + 2 + ctx, hidden_sizes, 1) for _ in range(2))
        self.g = nn.ModuleList(_mlp(ctx + 1, hidden_sizes, 1) for _ in range(2))
        _init([*self.q, *self.g], generator)

    def forward(self, tokens: torch.Tensor, cash: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        n = tokens.shape[1]
        stock_a, cash_a = action[:, :n], action[:, n:]
        ctx = torch.cat((tokens.mean(1), stock_a.mean(1, keepdim=True), cash), dim=-1)      # (B, F + 3)
        per_stock = torch.cat((tokens, stock_a.unsqueeze(-1), ctx.unsqueeze(1).expand(-1, n, -1)), dim=-1)
        glob = torch.cat((ctx, cash_a), dim=-1)
        return torch.stack([q(per_stock).squeeze(-1).mean(1) + g(glob).squeeze(-1) for q, g in zip(self.q, self.g)])


class CrossSectionalTwinCritic(nn.Module):
    """Twin soft Q-network over (flat obs, action) with :class:`~sacfolio.agents.critics.TwinCritic`'s call.

    Permuting the stocks together with their actions leaves Q unchanged.
    """

    n_critics = 2

    def __init__(self, obs_dim: int, act_dim: int, hidden_sizes: Sequence[int] = (64, 64), *,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.n_stocks, self.n_features = stock_shape(obs_dim, act_dim)
        self.heads = _TwinHeads(self.n_stocks, self.n_features, hidden_sizes, generator)

    def forward(self, obs: torch.Tensor, action: torch.Tensor, *, detach_params: bool = False) -> torch.Tensor:
        """(2, B): row 0 Q1, row 1 Q2. ``detach_params``: weights as constants, gradients reach ``action`` only."""
        tokens, cash = _tokens(obs, self.n_stocks, self.n_features)
        if not detach_params:
            return self.heads(tokens, cash, action)
        params = {k: v.detach() for k, v in self.heads.named_parameters()}
        return functional_call(self.heads, params, (tokens, cash, action))


class CrossSectionalModules:
    """The actor and critic factory SAC takes for ``SACConfig(network="cross_sectional")``."""

    def actor(self, obs_dim: int, act_dim: int, *, config, generator: torch.Generator | None) -> CrossSectionalActor:
        aux = len(config.aux_horizons) if config.aux else None
        return CrossSectionalActor(obs_dim, act_dim, config.hidden_sizes, log_std_min=config.log_std_min,
                                   log_std_max=config.log_std_max, generator=generator, aux_horizons=aux,
                                   aux_clip=config.aux_clip)

    def critic(self, obs_dim: int, act_dim: int, *, config, generator: torch.Generator | None
               ) -> CrossSectionalTwinCritic:
        return CrossSectionalTwinCritic(obs_dim, act_dim, config.hidden_sizes, generator=generator)
