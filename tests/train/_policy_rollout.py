"""Run a trained deterministic policy through whole episodes of an env (learning tests)."""

import numpy as np

from sacfolio.agents.policy import NumpyPolicy
from sacfolio.env.gym_env import PortfolioEnv


def rollout_weights(env: PortfolioEnv, policy: NumpyPolicy, seeds: range) -> np.ndarray:
    """The weights held after every step of one episode per seed, shape (steps, N + 1)."""
    weights = []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(policy(obs))
            weights.append(info["weights"])
            done = terminated or truncated
    return np.asarray(weights)
