"""Agents: the SAC and PPO learners, their networks and buffers, and exportable policies.

Serving and backtests need only :class:`NumpyPolicy` or :class:`GaussianActor`;
:class:`SAC` and :class:`PPO` hold what training adds (critics, optimizers,
temperature). Both are :class:`~sacfolio.agents.learner.ActorLearner` subclasses and
satisfy the :class:`~sacfolio.agents.learner.Learner` protocol callbacks read.
"""

from sacfolio.agents.buffers import ReplayBatch, ReplayBuffer, RolloutBatch, RolloutBuffer
from sacfolio.agents.config import LearnerConfig, PPOConfig, SACConfig
from sacfolio.agents.critics import TwinCritic, ValueNet
from sacfolio.agents.learner import ActorLearner, Learner
from sacfolio.agents.networks import GaussianActor, squashed_gaussian_log_prob
from sacfolio.agents.policy import NumpyPolicy
from sacfolio.agents.ppo import PPO, PPO_STATE_DICT_FILES
from sacfolio.agents.sac import SAC, STATE_DICT_FILES

__all__ = [
    "ActorLearner",
    "GaussianActor",
    "Learner",
    "LearnerConfig",
    "NumpyPolicy",
    "PPO",
    "PPOConfig",
    "PPO_STATE_DICT_FILES",
    "ReplayBatch",
    "ReplayBuffer",
    "RolloutBatch",
    "RolloutBuffer",
    "SAC",
    "SACConfig",
    "STATE_DICT_FILES",
    "TwinCritic",
    "ValueNet",
    "squashed_gaussian_log_prob",
]
