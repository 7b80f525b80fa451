"""The policy network of both learners, a tanh-squashed Gaussian actor, and its densities.

The critics (SAC's twin Q-network, PPO's value network) are in
:mod:`sacfolio.agents.critics`.

Equation numbers refer to Haarnoja et al., "Soft Actor-Critic Algorithms and
Applications" (2018), arXiv:1812.05905.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sacfolio.agents.aux import AuxReturnHeads
from sacfolio.exceptions import ConfigError

__all__ = ["GaussianActor", "SquashedPolicy", "gaussian_entropy", "gaussian_log_prob", "linear_init_", "load_module_states",
           "relu_layers", "squashed_gaussian_log_prob", "standard_log_density"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)
_ENTROPY_CONST = 0.5 + _LOG_SQRT_2PI  # entropy of N(0, 1) per dimension


def standard_log_density(noise: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Per-dimension Gaussian log-density of ``mean + exp(log_std) * noise``, not summed."""
    return -0.5 * noise.square() - log_std - _LOG_SQRT_2PI


def gaussian_log_prob(u: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Diagonal Gaussian log-density of ``u`` (B, A), summed over A -> (B,)."""
    z = (u - mean) * torch.exp(-log_std)
    return standard_log_density(z, log_std).sum(-1)


def gaussian_entropy(log_std: torch.Tensor) -> torch.Tensor:
    """Entropy of a diagonal Gaussian with ``log_std`` (B, A), summed over A -> (B,)."""
    return (log_std + _ENTROPY_CONST).sum(-1)


def squashed_gaussian_log_prob(noise: torch.Tensor, log_std: torch.Tensor,
                               pre_tanh: torch.Tensor) -> torch.Tensor:
    """Log-density of ``a = tanh(u)``, ``u = mean + exp(log_std) * noise`` (eq. 26).

    ``log pi(a|s) = sum_i [log N(u_i; mean_i, std_i) - log(1 - tanh(u_i)^2)]`` with the
    stable identity ``log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))``.

    Parameters
    ----------
    noise : Tensor, shape (B, A)
        Standard normal draws that produced ``pre_tanh``.
    log_std : Tensor, shape (B, A)
        Log standard deviation of the Gaussian.
    pre_tanh : Tensor, shape (B, A)
        Gaussian sample ``u`` before squashing.

    Returns
    -------
    Tensor, shape (B,)
        Log-probability of the squashed action.
    """
    gaussian = standard_log_density(noise, log_std)
    log_det = 2.0 * (_LOG_2 - pre_tanh - F.softplus(-2.0 * pre_tanh))
    return (gaussian - log_det).sum(-1)


def linear_init_(weight: torch.Tensor, bias: torch.Tensor, fan_in: int,
                 generator: torch.Generator | None) -> None:
    """``nn.Linear``'s default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), from ``generator``.

    Weight first, then bias: the order of the draws is part of a seed's meaning.
    """
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        weight.uniform_(-bound, bound, generator=generator)
        bias.uniform_(-bound, bound, generator=generator)


def relu_layers(in_features: int, hidden_sizes: Sequence[int]) -> tuple[list[nn.Module], int]:
    """``[Linear, ReLU]`` per hidden width, in order, and the width of the last layer."""
    layers: list[nn.Module] = []
    width = int(in_features)
    for h in hidden_sizes:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return layers, width


class SquashedPolicy(nn.Module):
    """What every sacfolio actor shares: sampling and acting from ``trunk`` and
    :meth:`sample_features` (which each architecture defines, with ``forward`` giving the
    Gaussian's mean and log-std)."""

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterized action and its log-probability (eq. 11 and 26).

        Parameters
        ----------
        obs : Tensor, shape (B, obs_dim)
        generator : torch.Generator, optional
            Source of the Gaussian noise.

        Returns
        -------
        action : Tensor, shape (B, act_dim)
            ``tanh(mean + std * noise)`` in (-1, 1); differentiable in the actor's weights.
        log_prob : Tensor, shape (B,)
        """
        return self.sample_features(self.trunk(obs), generator)[:2]

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = True,
            generator: torch.Generator | None = None) -> torch.Tensor:
        """Action for acting in the env, without gradient.

        Parameters
        ----------
        obs : Tensor, shape (B, obs_dim)
        deterministic : bool
            True gives ``tanh(mean)``; False samples the squashed Gaussian.
        generator : torch.Generator, optional
            Noise source when sampling.

        Returns
        -------
        Tensor, shape (B, act_dim), in [-1, 1].
        """
        if deterministic:
            return torch.tanh(self(obs)[0])
        return self.sample(obs, generator)[0]


class GaussianActor(SquashedPolicy):
    """Squashed Gaussian policy: ``obs -> MLP -> (mean, log_std) -> tanh(sample)``.

    Parameters
    ----------
    obs_dim, act_dim : int
        Observation and action sizes.
    hidden_sizes : sequence of int
        Hidden widths of the shared trunk (default 64, 64), ReLU activations.
    log_std_min, log_std_max : float
        Clamp of the log standard deviation head.
    generator : torch.Generator, optional
        Source of the initial weights (the global RNG when None).
    aux_shape : tuple of int (H, N), optional
        Add :class:`~sacfolio.agents.aux.AuxReturnHeads` predicting N returns at H
        horizons from the trunk's features (drawn after the policy layers, so the
        policy's initial weights do not depend on it). Their weights are part of
        the state dict (``aux.heads.<h>.weight``); :meth:`linears` and therefore
        :class:`~sacfolio.agents.policy.NumpyPolicy` leave them out.
    aux_clip : float
        Bound of the aux predictions.
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden_sizes: Sequence[int] = (64, 64), *,
                 log_std_min: float = -20.0, log_std_max: float = 2.0,
                 generator: torch.Generator | None = None,
                 aux_shape: tuple[int, int] | None = None, aux_clip: float = 1.0) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.log_std_min, self.log_std_max = float(log_std_min), float(log_std_max)
        layers, width = relu_layers(self.obs_dim, hidden_sizes)
        self.trunk = nn.Sequential(*layers)
        self.mean_head = nn.Linear(width, self.act_dim)
        self.log_std_head = nn.Linear(width, self.act_dim)
        for layer in self.linears():
            linear_init_(layer.weight, layer.bias, layer.in_features, generator)
        self.aux: AuxReturnHeads | None = None
        if aux_shape is not None:
            self.aux = AuxReturnHeads(width, aux_shape[0], aux_shape[1], clip=aux_clip, generator=generator)

    def linears(self) -> list[nn.Linear]:
        """The policy's Linear layers in forward order: trunk, mean head, log-std head (no aux heads)."""
        return [m for m in self.trunk if isinstance(m, nn.Linear)] + [self.mean_head, self.log_std_head]

    def sample_features(self, features: torch.Tensor, generator: torch.Generator | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reparameterized sample from trunk features (what :meth:`sample` does after the trunk).

        Parameters
        ----------
        features : Tensor, shape (B, hidden)
            ``self.trunk(obs)``; learners that also feed the aux heads run the trunk once.
        generator : torch.Generator, optional

        Returns
        -------
        action : Tensor, shape (B, act_dim)
        log_prob : Tensor, shape (B,)
        pre_tanh : Tensor, shape (B, act_dim)
            The Gaussian sample before squashing.
        noise : Tensor, shape (B, act_dim)
            The standard normal draw.
        """
        mean = self.mean_head(features)
        log_std = self.log_std_head(features).clamp(self.log_std_min, self.log_std_max)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
        pre_tanh = mean + log_std.exp() * noise
        return (torch.tanh(pre_tanh), squashed_gaussian_log_prob(noise, log_std, pre_tanh),
                pre_tanh, noise)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gaussian parameters before squashing.

        Parameters
        ----------
        obs : Tensor, shape (B, obs_dim)

        Returns
        -------
        mean, log_std : Tensor, shape (B, act_dim)
            ``log_std`` is clamped to ``[log_std_min, log_std_max]``.
        """
        features = self.trunk(obs)
        log_std = self.log_std_head(features).clamp(self.log_std_min, self.log_std_max)
        return self.mean_head(features), log_std

    @torch.no_grad()
    def predict_aux(self, obs: torch.Tensor) -> torch.Tensor:
        """Aux return predictions, without gradient.

        Parameters
        ----------
        obs : Tensor, shape (B, obs_dim)

        Returns
        -------
        Tensor, shape (B, H, N), in ``[-aux_clip, aux_clip]``.

        Raises
        ------
        ConfigError
            If the actor was built without aux heads.
        """
        if self.aux is None:
            raise ConfigError("this model has no aux return heads; train it with aux=True (--aux).")
        return self.aux(self.trunk(obs))


def load_module_states(modules: Mapping[str, nn.Module], state: Mapping[str, Mapping[str, torch.Tensor]],
                       *, expected: Sequence[str], shapes: str) -> None:
    """Load ``state[file]`` into ``modules[file]`` for every file, with errors a user can act on.

    Parameters
    ----------
    modules : mapping of file name to module
        E.g. ``{"actor.pt": actor, "critic.pt": critic}``.
    state : mapping of file name to state_dict
        As written by a learner's ``state_dicts()``.
    expected : sequence of str
        Every file the learner saves (checked for presence, also those not in ``modules``).
    shapes : str
        The learner's sizes, named in the error when the tensors do not fit.

    Raises
    ------
    ConfigError
        A file is missing, or its tensors do not fit the modules.
    """
    missing = [name for name in expected if name not in state]
    if missing:
        raise ConfigError(f"state dicts {missing} are missing; expected {list(expected)}.")
    try:
        for name, module in modules.items():
            module.load_state_dict(state[name])
    except RuntimeError as exc:
        raise ConfigError(f"saved weights do not fit {shapes}: {exc}") from exc
