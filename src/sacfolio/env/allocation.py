"""Gymnasium env of the strategy meta-controller: allocate capital across K strategies every bar.

The state at bar t (:func:`~sacfolio.env.allocation_state.state_features`): each
strategy's recent return, volatility, drawdown and hit rate over a few windows, the
market's realized volatility and trend, the time of day. The action (K,) in [-1, 1] is a
softmax allocation (``logit_scale``) of ``1 - cash_floor`` of the capital; the book trades
the allocation-weighted sum of the strategies' targets, netted, through the broker
(:func:`~sacfolio.env.allocation_book.book_step`). The reward is the book's net log return
from this bar to the next (spread and commission included).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from sacfolio.broker.quotes import Quotes
from sacfolio.env.allocation_book import book_step, open_book
from sacfolio.env.allocation_run import (AllocationConfig, AllocationInputs, book_broker, shares_from_weights,
                                         softmax_weights)
from sacfolio.exceptions import ConfigError, EvaluationWindowError

__all__ = ["AllocationEnv"]


class AllocationEnv(gym.Env):
    """Episodes of ``episode_length`` bars inside ``span = (lo, hi)`` of ``inputs``.

    Parameters
    ----------
    inputs : AllocationInputs
    config : AllocationConfig
        The same config the inputs were computed with.
    span : tuple of int, optional
        Bars ``(lo, hi)`` episodes may use (decisions at ``lo .. hi - 1``); default all
        bars after the warm-up.
    episode_length : int, default 390
        Decisions per episode (5 sessions of 5-minute bars).

    Attributes
    ----------
    observation_space : Box float32, shape (D,)
    action_space : Box float32 [-1, 1], shape (K,)
    """

    metadata = {"render_modes": []}

    def __init__(self, inputs: AllocationInputs, config: AllocationConfig, *, span: tuple[int, int] | None = None,
                 episode_length: int = 390) -> None:
        super().__init__()
        lo, hi = (inputs.first, len(inputs.times) - 1) if span is None else (int(span[0]), int(span[1]))
        if not inputs.first <= lo < hi <= len(inputs.times) - 1:
            raise EvaluationWindowError(f"span ({lo}, {hi}) must satisfy {inputs.first} <= lo < hi <= "
                                        f"{len(inputs.times) - 1}")
        if hi - lo < episode_length:
            raise ConfigError(f"episode_length={episode_length} does not fit in span ({lo}, {hi})")
        self.inputs, self.config, self.span, self.episode_length = inputs, config, (lo, hi), int(episode_length)
        self.broker = book_broker(inputs.symbols, config)
        k, d = inputs.bad.shape[1], inputs.states.shape[1]
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(d,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(k,), dtype=np.float32)
        self._t = self._stop = -1
        self._book = None

    @property
    def state_dim(self) -> int:
        return int(self.observation_space.shape[0])

    @property
    def action_dim(self) -> int:
        return int(self.action_space.shape[0])

    def _quotes(self, t: int) -> Quotes:
        return Quotes(self.inputs.quotes.bid[t], self.inputs.quotes.ask[t])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """A fresh book in CASH at a random start (``options={"start": bar}`` fixes it)."""
        super().reset(seed=seed)
        lo, hi = self.span
        if options and "start" in options:
            start = int(options["start"])
            if not lo <= start <= hi - self.episode_length:
                raise EvaluationWindowError(f"start {start} must be in [{lo}, {hi - self.episode_length}]")
        else:
            start = int(self.np_random.integers(lo, hi - self.episode_length + 1))
        self._t, self._stop = start, start + self.episode_length
        self._book = open_book(self.broker, self.action_dim, self.config.deposit)
        return self.inputs.states[start].astype(np.float32), {"t": start}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Trade the allocation of ``action`` at this bar; reward: log NAV growth to the next bar."""
        if self._book is None or self._t >= self._stop:
            raise RuntimeError("call reset() before step()")
        t, inputs = self._t, self.inputs
        weights = softmax_weights(action, self.config.logit_scale)
        shares = shares_from_weights(weights, inputs.bad[t], self.config.cash_floor)
        step = book_step(self.broker, self._book, self._quotes(t), shares, inputs.targets[t],
                         band=self.config.band, tradable=inputs.tradable[t])
        self._book = step.state
        nav_next = float(self.broker.snapshot(step.state.account, self._quotes(t + 1)).nav[0])
        reward = float(np.log(nav_next / step.nav_before))
        self._t = t + 1
        done = self._t >= self._stop
        info = {"t": t, "nav": nav_next, "cost": float(step.strategy_costs.sum()), "shares": shares}
        return inputs.states[t + 1].astype(np.float32), reward, False, done, info
