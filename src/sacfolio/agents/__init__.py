"""Agents: the SAC learner, its networks and replay buffer, and exportable policies.

Serving and backtests need only :class:`NumpyPolicy` or :class:`GaussianActor`;
:class:`SAC` holds what training adds (critics, optimizers, temperature).
"""

from sacfolio.agents.buffer import ReplayBatch, ReplayBuffer
from sacfolio.agents.config import SACConfig
from sacfolio.agents.networks import GaussianActor, TwinCritic, squashed_gaussian_log_prob
from sacfolio.agents.policy import NumpyPolicy
from sacfolio.agents.sac import SAC, STATE_DICT_FILES

__all__ = [
    "GaussianActor",
    "NumpyPolicy",
    "ReplayBatch",
    "ReplayBuffer",
    "SAC",
    "SACConfig",
    "STATE_DICT_FILES",
    "TwinCritic",
    "squashed_gaussian_log_prob",
]
