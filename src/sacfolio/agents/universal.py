"""The universal agent's networks: a masked transformer across symbol slots under SAC.

The observation is the slot ``Dict`` of :mod:`sacfolio.env.slots` (stored flat, see
:func:`unflatten`). Each slot is a token: its market features, its context, its column
of the advisors' portfolios, projected to ``d_model`` and added to a symbol embedding
(``padding_idx = padding_id``, so padded slots embed to 0 and that row never gets a
gradient; ``unknown_id`` is one shared row for symbols never seen in training). A
:class:`torch.nn.TransformerEncoder` attends across the slots with
``src_key_padding_mask`` (padded and dead slots are keys nobody attends to), outputs of
those slots are zeroed, and a masked mean over the live slots pools a portfolio
feature. No positional encoding: permuting the slots permutes the per-slot outputs
and leaves the pooled feature unchanged, and adding padding changes neither.

:class:`UniversalActor` maps the per-slot outputs to a score per slot and the pooled
feature to CASH's score and the advisor mixture logits; the env turns them into
weights (masked tilt of the fused advisor portfolio, then the broker's projection;
:func:`sacfolio.env.slots.slot_action_to_weights`). Padded action dimensions are
exactly 0 and left out of the log-probability. The critics are in
:mod:`sacfolio.agents.universal_critic`; :class:`UniversalModules` hands both to SAC.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from sacfolio.agents.networks import SquashedPolicy, standard_log_density
from sacfolio.agents.validation import check_int
from sacfolio.env.slots import CONTEXT_FEATURES, SlotLayout, SlotSpec
from sacfolio.exceptions import ConfigError

__all__ = ["SlotEncoder", "SlotInputs", "UniversalActor", "UniversalConfig", "seeded_init", "unflatten"]

_LOG_2 = 0.6931471805599453


@dataclass(frozen=True, kw_only=True)
class UniversalConfig:
    """Sizes of the slot transformer (actor and each critic have their own).

    Attributes
    ----------
    d_model : int
        Token width (and symbol embedding size).
    n_heads : int
        Attention heads; must divide ``d_model``.
    n_layers : int
        Transformer encoder layers.
    ff_dim : int
        Width of each layer's feed-forward block.
    """

    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 1
    ff_dim: int = 64

    def __post_init__(self) -> None:
        for name in ("d_model", "n_heads", "n_layers", "ff_dim"):
            check_int(name, getattr(self, name), 1)
        if self.d_model % self.n_heads:
            raise ConfigError(f"UniversalConfig.n_heads={self.n_heads} must divide d_model={self.d_model}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "UniversalConfig":
        return cls(**dict(data))


@dataclass(frozen=True)
class SlotInputs:
    """One batch of slot observations as tensors (any number of slots N).

    Attributes
    ----------
    tokens : Tensor, shape (B, N, F + 5 + K)
        Market features, context, each advisor's weight of the slot.
    ids : Tensor int64, shape (B, N)
    live : Tensor bool, shape (B, N)
        ``ids != padding_id``.
    advisors_cash : Tensor, shape (B, K)
        Each advisor's CASH weight.
    advisors : Tensor, shape (B, K, N + 1)
    """

    tokens: torch.Tensor
    ids: torch.Tensor
    live: torch.Tensor
    advisors_cash: torch.Tensor
    advisors: torch.Tensor


def inputs_of(obs: Mapping[str, torch.Tensor], padding_id: int) -> SlotInputs:
    """:class:`SlotInputs` of a ``Dict`` observation batch (``advisor_weights`` optional)."""
    market, context = obs["market_features"], obs["context_features"]
    ids = obs["symbol_id"].round().long()
    B, N = ids.shape
    advisors = obs.get("advisor_weights")
    if advisors is None:
        advisors = market.new_zeros((B, 0, N + 1))
    tokens = torch.cat((market, context, advisors[:, :, :N].transpose(1, 2)), dim=-1)
    return SlotInputs(tokens=tokens, ids=ids, live=ids != padding_id, advisors_cash=advisors[:, :, N],
                      advisors=advisors)


def unflatten(obs: torch.Tensor, layout: SlotLayout) -> dict[str, torch.Tensor]:
    """The ``Dict`` observation of flat observations (B, obs_dim) stored in ``layout``'s order."""
    B = obs.shape[0]
    out = {k: obs[:, s].reshape((B,) + layout.shapes[k]) for k, s in layout.slices.items()
           if layout.sizes[k]}
    return out


@contextlib.contextmanager
def seeded_init(generator: torch.Generator | None) -> Iterator[None]:
    """Draw module initializations inside from a seed taken from ``generator`` (the global
    RNG is restored afterwards), so torch's own layers start from the learner's seed."""
    if generator is None:
        yield
        return
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class SlotEncoder(nn.Module):
    """Tokens (B, N, F_in) and ids (B, N) -> per-slot outputs (B, N, D) and the pooled (B, D).

    Parameters
    ----------
    in_features : int
    n_ids : int
        Embedding rows (vocabulary + padding + unknown).
    padding_id : int
    config : UniversalConfig
    """

    def __init__(self, in_features: int, n_ids: int, padding_id: int, config: UniversalConfig) -> None:
        super().__init__()
        d = config.d_model
        self.padding_id = int(padding_id)
        self.embedding = nn.Embedding(n_ids, d, padding_idx=self.padding_id)
        self.input = nn.Linear(in_features, d)
        layer = nn.TransformerEncoderLayer(d, config.n_heads, config.ff_dim, dropout=0.0, batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)

    def forward(self, tokens: torch.Tensor, ids: torch.Tensor, live: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-slot outputs (0 on padded slots) and their masked mean over live slots.

        A batch row without any live slot attends to its first slot only (so the
        softmax stays finite) and pools to 0.
        """
        pad = ~live
        none = pad.all(dim=1, keepdim=True)
        first = torch.zeros_like(pad)
        first[:, 0] = True
        key_mask = pad & ~(none & first)
        h = self.input(tokens) + self.embedding(ids)
        with sdpa_kernel(SDPBackend.MATH):  # ~32 tokens: the plain kernel beats CPU flash attention
            h = self.transformer(h, src_key_padding_mask=key_mask)
        on = live.unsqueeze(-1).to(h.dtype)
        h = h * on
        pooled = h.sum(dim=1) / on.sum(dim=1).clamp(min=1.0)
        return h, pooled


def token_width(layout: SlotLayout) -> int:
    """Features per token: market, context, one weight per advisor."""
    return layout.n_features + len(CONTEXT_FEATURES) + layout.n_advisors


class SlotTrunk(nn.Module):
    """The actor's trunk: flat observations -> flat features [slot outputs, global, live].

    SAC runs the trunk once on observations and next observations; the heads read
    the flat features back with :meth:`split`.
    """

    def __init__(self, layout: SlotLayout, spec: SlotSpec, config: UniversalConfig) -> None:
        super().__init__()
        self.layout, self.padding_id = layout, spec.padding_id
        self.encoder = SlotEncoder(token_width(layout), spec.n_ids, spec.padding_id, config)
        self.d_model, self.global_dim = config.d_model, config.d_model + layout.n_advisors

    def encode(self, obs: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(per-slot (B, N, D), global (B, D + K), live (B, N)) of a ``Dict`` batch of any N."""
        x = inputs_of(obs, self.padding_id)
        h, pooled = self.encoder(x.tokens, x.ids, x.live)
        return h, torch.cat((pooled, x.advisors_cash), dim=-1), x.live

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        h, glob, live = self.encode(unflatten(obs, self.layout))
        return torch.cat((h.flatten(1), glob, live.to(h.dtype)), dim=-1)

    def split(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Inverse of the concatenation in :meth:`forward`."""
        N, D = self.layout.max_symbols, self.d_model
        h = features[:, :N * D].reshape(-1, N, D)
        glob = features[:, N * D:N * D + self.global_dim]
        return h, glob, features[:, N * D + self.global_dim:] > 0.5


class UniversalActor(SquashedPolicy):
    """Squashed Gaussian policy over slot actions ``[slot scores (N), CASH, mixture logits (K)]``.

    Has the interface SAC uses of :class:`~sacfolio.agents.networks.GaussianActor`
    (``trunk``, :meth:`sample_features`, :meth:`forward`, :meth:`sample`, :meth:`act`,
    ``aux``). Padded slots: mean 0, action exactly 0, no share of the log-probability.

    Parameters
    ----------
    layout : SlotLayout
    spec : SlotSpec
    config : UniversalConfig
    log_std_min, log_std_max : float
    generator : torch.Generator, optional
        Source of the initial weights.
    """

    def __init__(self, layout: SlotLayout, spec: SlotSpec, config: UniversalConfig = UniversalConfig(), *,
                 log_std_min: float = -20.0, log_std_max: float = 2.0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.layout, self.spec, self.config = layout, spec, config
        self.obs_dim, self.act_dim = layout.obs_dim, layout.act_dim
        self.log_std_min, self.log_std_max = float(log_std_min), float(log_std_max)
        self.aux = None
        with seeded_init(generator):
            self.trunk = SlotTrunk(layout, spec, config)
            self.slot_head = nn.Linear(config.d_model, 2)                    # mean, log_std per slot
            self.global_head = nn.Linear(self.trunk.global_dim, 2 * (1 + layout.n_advisors))

    def heads(self, h: torch.Tensor, glob: torch.Tensor, live: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mean, clamped log_std, mask) of the action, each (B, N + 1 + K), for any N."""
        slot = self.slot_head(h)                                   # (B, N, 2)
        g = self.global_head(glob).unflatten(-1, (2, -1))          # (B, 2, 1 + K)
        on = live.to(h.dtype)
        mean = torch.cat((slot[..., 0] * on, g[:, 0]), dim=-1)
        log_std = torch.cat((slot[..., 1], g[:, 1]), dim=-1).clamp(self.log_std_min, self.log_std_max)
        mask = torch.cat((on, on.new_ones(g[:, 0].shape)), dim=-1)
        return mean, log_std, mask

    def sample_features(self, features: torch.Tensor, generator: torch.Generator | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reparameterized sample from trunk features: (action, log_prob, pre_tanh, noise)."""
        mean, log_std, mask = self.heads(*self.trunk.split(features))
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
        pre_tanh = mean + log_std.exp() * noise
        log_det = 2.0 * (_LOG_2 - pre_tanh - F.softplus(-2.0 * pre_tanh))
        log_prob = ((standard_log_density(noise, log_std) - log_det) * mask).sum(-1)
        return torch.tanh(pre_tanh) * mask, log_prob, pre_tanh * mask, noise

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log_std) of flat observations (B, obs_dim); mean is 0 on padded slots."""
        mean, log_std, _ = self.heads(*self.trunk.split(self.trunk(obs)))
        return mean, log_std

    @torch.no_grad()
    def act_dict(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Deterministic actions of a ``Dict`` batch with any number of slots N: (B, N + 1 + K)."""
        mean, _, _ = self.heads(*self.trunk.encode(obs))
        return torch.tanh(mean)

    def predict_aux(self, obs: torch.Tensor) -> torch.Tensor:
        raise ConfigError("the universal model has no aux return heads")

    def linears(self) -> list[nn.Linear]:
        """Every Linear layer (diagnostics)."""
        return [m for m in self.modules() if isinstance(m, nn.Linear)]
