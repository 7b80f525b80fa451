"""Portfolio environment: constraints, action mapping, batched core and Gymnasium wrapper."""

from sacfolio.env.config import EnvConfig
from sacfolio.env.core import PortfolioCore, StepInfo
from sacfolio.env.gym_env import PortfolioEnv
from sacfolio.env.projection import action_to_weights, project_weights, weight_bounds

__all__ = ["EnvConfig", "PortfolioCore", "PortfolioEnv", "StepInfo", "action_to_weights",
           "project_weights", "weight_bounds"]
