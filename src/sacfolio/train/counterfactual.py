"""Counterfactual actions: the critic learns what fresh actions would have earned at replayed states.

A replayed transition is one action's sample of a week. The market's returns do not
depend on the action, so the env can replay that week for any other action exactly
(:func:`~sacfolio.env.counterfactual.counterfactual_period`): same row, same drifted
weights, same returns, its own target, execution, costs and next weights. With
``SACConfig.counterfactual_actions = M`` every update adds, per replayed transition,
M actions sampled from the current policy at the same state, with

    reward' = reward + log_growth(action') - log_growth(action)

(the benchmark portfolio of the excess reward does not depend on the agent's action,
so it cancels) and ``next_obs'`` = ``next_obs`` with the weights ``action'`` leads to.
The critic then sees, at each state, how the reward changes with the action, with the
week's noise held fixed: the same information a per-stock return regression has,
which one stored action per visit gives only through many visits.

The extra transitions carry no aux labels (NaN, masked), so the aux heads see each
transition once, as without them.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from sacfolio.agents.buffers import ReplayBatch
from sacfolio.agents.sac import SAC
from sacfolio.env.core import PortfolioCore
from sacfolio.env.counterfactual import check_counterfactual, counterfactual_period
from sacfolio.exceptions import ConfigError

__all__ = ["CounterfactualActions"]


class CounterfactualActions:
    """Extends replay batches with ``m`` policy actions per transition and their exact periods.

    Parameters
    ----------
    env : gymnasium.Env
        A :class:`~sacfolio.env.gym_env.PortfolioEnv` (its ``core``), actions in [-1, 1].
    m : int
        Fresh actions per replayed transition (>= 1).

    Raises
    ------
    ConfigError
        ``env`` has no portfolio core, its actions are not [-1, 1], or its core trades
        through a broker (account state the weights do not hold).
    """

    def __init__(self, env: gym.Env, m: int) -> None:
        core = getattr(env.unwrapped, "core", None)
        if not isinstance(core, PortfolioCore):
            raise ConfigError("counterfactual actions need a portfolio env (PortfolioEnv) whose core can replay "
                              "a period; this env has none: set counterfactual_actions=0")
        space = env.action_space
        if not (np.all(np.asarray(space.low) == -1.0) and np.all(np.asarray(space.high) == 1.0)):
            raise ConfigError("counterfactual actions need an action box of [-1, 1]")
        check_counterfactual(core)
        if int(m) != m or m < 1:
            raise ConfigError(f"counterfactual actions per transition must be an int >= 1, got {m!r}")
        self.core, self.m = core, int(m)
        self._n_weights = core.act_dim

    def __call__(self, batch: ReplayBatch, sac: SAC) -> ReplayBatch:
        """``batch`` followed by ``m`` counterfactual copies of it (``(1 + m) B`` transitions).

        The fresh actions come from ``sac.explore`` (its generator), so a run stays
        reproducible from its seed.
        """
        if batch.rows is None:
            raise ConfigError("counterfactual actions need the decision rows in the replay buffer "
                              "(ReplayBuffer(store_rows=True))")
        m, k = self.m, self._n_weights
        obs = batch.obs.repeat(m, 1)
        actions = sac.explore(obs)
        rows = batch.rows.numpy()
        drifted = batch.obs[:, -k:].double().numpy()
        stored = counterfactual_period(self.core, rows, drifted, batch.actions.double().numpy())
        fresh = counterfactual_period(self.core, np.tile(rows, m), np.tile(drifted, (m, 1)),
                                      actions.double().numpy())
        gain = torch.from_numpy(fresh.log_growth - np.tile(stored.log_growth, m)).float()
        next_obs = batch.next_obs.repeat(m, 1)
        next_obs[:, -k:] = torch.from_numpy(fresh.drifted).float()
        aux = None
        if batch.aux_targets is not None:
            aux = torch.cat((batch.aux_targets, torch.full((m * len(rows), *batch.aux_targets.shape[1:]),
                                                           float("nan"))))
        return ReplayBatch(obs=torch.cat((batch.obs, obs)), actions=torch.cat((batch.actions, actions)),
                           rewards=torch.cat((batch.rewards, batch.rewards.repeat(m) + gain)),
                           next_obs=torch.cat((batch.next_obs, next_obs)),
                           dones=torch.cat((batch.dones, batch.dones.repeat(m))), aux_targets=aux,
                           rows=torch.cat((batch.rows, batch.rows.repeat(m))))
