"""Portfolio environment over the broker: action mapping, batched core and Gymnasium wrapper."""

from sacfolio.env.actions import action_to_weights, masked_softmax
from sacfolio.env.config import EnvConfig
from sacfolio.env.core import PortfolioCore, StepInfo
from sacfolio.env.gym_env import PortfolioEnv

__all__ = ["EnvConfig", "PortfolioCore", "PortfolioEnv", "StepInfo", "action_to_weights", "masked_softmax"]
