"""Gymnasium wrapper: one portfolio of a :class:`PortfolioCore`, episodes as random windows."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import EnvConfig
from sacfolio.env.core import PortfolioCore
from sacfolio.exceptions import ConfigError, EvaluationWindowError
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.price import price_features
from sacfolio.features.scaler import FeatureScaler

__all__ = ["PortfolioEnv"]


class PortfolioEnv(gym.Env):
    """Rebalance N stocks and CASH once per row; reward is the log growth net of costs
    (or its excess over the benchmark's, ``EnvConfig.reward``).

    Each episode is a random window of ``core.config.episode_length`` decisions
    inside ``span = (lo, hi)``: decisions at rows ``start .. start + L - 1`` with
    ``lo <= start <= hi - L``, returns realized up to row ``start + L <= hi``. The
    window start comes from the generator seeded by ``reset(seed=...)``. An episode
    ends with ``truncated=True`` (a time limit: the market goes on), never
    ``terminated``.

    Parameters
    ----------
    core : PortfolioCore
        Market arrays, features and config; this env steps it with B = 1.
    span : tuple of int, optional
        Rows ``(lo, hi)`` episodes may use; default ``(0, T - 1)``.
    symbols : tuple of str, optional
        Symbol names, kept for layouts and reports.

    Attributes
    ----------
    observation_space : Box float32, shape (N * F + N + 1,)
        Features of row t (stock-major, unbounded), then the drifted weights incl. CASH in [0, 1].
    action_space : Box float32 [-1, 1], shape (N + 1,)
        Mapped to a target by the action mode (softmax or a residual tilt of the
        benchmark), projected, traded under the execution rules (see
        :func:`action_to_weights`, :mod:`sacfolio.broker.execution`).
    scaler : FeatureScaler or None
        Set by :meth:`from_panel`: the scaler fitted on the training rows.
    feature_names : tuple of str
    """

    metadata = {"render_modes": []}

    def __init__(self, core: PortfolioCore, *, span: tuple[int, int] | None = None,
                 symbols: tuple[str, ...] | None = None) -> None:
        super().__init__()
        lo, hi = (0, core.n_rows - 1) if span is None else (int(span[0]), int(span[1]))
        length = core.config.episode_length
        if not 0 <= lo < hi <= core.n_rows - 1:
            raise EvaluationWindowError(f"span ({lo}, {hi}) must satisfy 0 <= lo < hi <= {core.n_rows - 1}.")
        if hi - lo < length:
            raise ConfigError(
                f"EnvConfig.episode_length={length} does not fit in span ({lo}, {hi}) of {hi - lo} "
                "decisions; shorten episode_length or widen the span."
            )
        self.core = core
        self.span = (lo, hi)
        self.symbols = tuple(symbols) if symbols is not None else tuple(f"S{i}" for i in range(core.n_symbols))
        self.scaler: FeatureScaler | None = None
        self.feature_names: tuple[str, ...] = tuple(f"f{i}" for i in range(core.n_features))
        n_feat = core.obs_dim - core.act_dim
        low = np.concatenate((np.full(n_feat, -np.inf), np.zeros(core.act_dim))).astype(np.float32)
        high = np.concatenate((np.full(n_feat, np.inf), np.ones(core.act_dim))).astype(np.float32)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(core.act_dim,), dtype=np.float32)
        self._started = False

    @classmethod
    def from_panel(
        cls,
        panel: MarketPanel,
        *,
        config: EnvConfig = EnvConfig(),
        span: tuple[int, int] | None = None,
        features: FeatureSet | None = None,
        scaler_stop: int | None = None,
        scaler: FeatureScaler | None = None,
    ) -> "PortfolioEnv":
        """Build the env from a panel: features, a scaler fitted on training rows, the core.

        Parameters
        ----------
        panel : MarketPanel
            Prices of N symbols on T dates.
        config : EnvConfig
        span : tuple of int, optional
            Training rows ``(lo, hi)``; default ``(0, T - 1)``.
        features : FeatureSet, optional
            Unscaled features on the panel's dates and symbols; default
            :func:`price_features` of the panel.
        scaler_stop : int, optional
            The scaler fits rows ``< scaler_stop``; default ``span[1]``, so no row
            after the training span informs the scaling.
        scaler : FeatureScaler, optional
            An already fitted scaler (e.g. loaded from scaler.json) used as is;
            ``scaler_stop`` must then be None.

        Returns
        -------
        PortfolioEnv
            With ``env.scaler`` holding the scaler and ``env.core`` covering all T rows,
            a training core (it charges ``EnvConfig.train_cost_multiplier`` times the cost).
        """
        feats = price_features(panel) if features is None else features
        if feats.symbols != panel.symbols or len(feats.dates) != panel.n_dates or (feats.dates != panel.dates).any():
            raise EvaluationWindowError("features must be on the panel's dates and symbols.")
        lo, hi = (0, panel.n_dates - 1) if span is None else (int(span[0]), int(span[1]))
        if not 0 <= lo < hi <= panel.n_dates - 1:
            raise EvaluationWindowError(f"span ({lo}, {hi}) must satisfy 0 <= lo < hi <= "
                                        f"{panel.n_dates - 1} for a panel of {panel.n_dates} dates.")
        if scaler is None:
            scaler = FeatureScaler().fit(feats, hi if scaler_stop is None else scaler_stop)
        elif scaler_stop is not None:
            raise ConfigError(f"scaler_stop={scaler_stop} given with a fitted scaler; pass one of them.")
        scaled = scaler.transform(feats)
        core = PortfolioCore(panel.simple_returns(), scaled.values, panel.available, config, training=True,
                             panel=panel)
        env = cls(core, span=(lo, hi), symbols=panel.symbols)
        env.scaler = scaler
        env.feature_names = scaled.names
        return env

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a random window (``options={"start": row}`` fixes the first decision row).

        Returns
        -------
        obs : ndarray float32, shape (obs_dim,)
        info : dict with ``t`` (first decision row) and ``stop`` (end row)
        """
        super().reset(seed=seed)
        lo, hi = self.span
        length = self.core.config.episode_length
        if options and "start" in options:
            start = int(options["start"])
            if not lo <= start <= hi - length:
                raise EvaluationWindowError(f"start row {start} must be in [{lo}, {hi - length}] for span "
                                            f"({lo}, {hi}) and episode_length {length}.")
        else:
            start = int(self.np_random.integers(lo, hi - length + 1))
        obs = self.core.reset(np.array([start]), np.array([start + length]))
        self._started = True
        return obs[0], {"t": start, "stop": start + length}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Rebalance according to ``action`` (shape (N + 1,)) and advance one row.

        Returns
        -------
        obs : ndarray float32, shape (obs_dim,)
        reward : float
            Log growth of portfolio value net of costs (``EnvConfig.reward``).
        terminated : bool
            Always False.
        truncated : bool
            True at the end of the window.
        info : dict
            ``turnover``, ``cost``, ``net_return`` (floats), ``weights`` (N + 1,), ``t``.
        """
        if not self._started:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(action, dtype=np.float64).reshape(1, self.core.act_dim)
        obs, reward, done, info = self.core.step(a)
        out = {"turnover": float(info["turnover"][0]), "cost": float(info["cost"][0]),
               "net_return": float(info["net_return"][0]), "weights": info["weights"][0],
               "t": int(info["t"][0])}
        if done[0]:
            self._started = False
        return obs[0], float(reward[0]), False, bool(done[0]), out
