"""The slot environment: the portfolio core read through MAX_SYMBOLS symbol slots.

:class:`SlotCore` is a :class:`~sacfolio.env.core.PortfolioCore` over the market's n
symbols (same costs, execution, rewards and projection) whose observations are slot
observations (:mod:`sacfolio.env.slots`) and whose actions are slot actions: padded
slots ``n .. MAX_SYMBOLS - 1`` are no-ops and hold no weight. :class:`SlotEnv` is its
Gymnasium env with the flat observation the replay buffer stores;
:class:`DictSlotEnv` shows the same env with the seed's ``Dict`` observation (for
Stable-Baselines3's ``MultiInputPolicy``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import EnvConfig
from sacfolio.env.core import PortfolioCore, StepInfo
from sacfolio.env.gym_env import PortfolioEnv
from sacfolio.env.slots import SlotLayout, SlotSpec, slot_action_to_weights, slot_observation
from sacfolio.exceptions import ConfigError, EvaluationWindowError
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.price import price_features
from sacfolio.features.scaler import FeatureScaler
from sacfolio.features.slots import SlotData, slot_data

__all__ = ["DictSlotEnv", "SlotCore", "SlotEnv", "slot_core"]


class SlotCore(PortfolioCore):
    """B portfolios over a market of n <= MAX_SYMBOLS symbols, observed and acted on in slots.

    Parameters
    ----------
    data : SlotData
        The market's point-in-time slot inputs (n symbols, F features, K advisors).
    returns : ndarray, shape (T, n)
        Simple returns (:meth:`MarketPanel.simple_returns`).
    spec : SlotSpec
        Slots, vocabulary and advisors of the model; ``spec.n_advisors`` must equal the data's.
    config : EnvConfig
    training, benchmark, panel
        As in :class:`PortfolioCore` (``panel``: the market behind ``returns``, for a broker).

    Attributes
    ----------
    layout : SlotLayout
    obs_dim : int
        Length of the flat slot observation.
    slot_act_dim : int
        ``MAX_SYMBOLS + 1 + K``, the action the policy gives; ``act_dim`` stays the
        market's ``n + 1`` (the weights).
    """

    def __init__(self, data: SlotData, returns: np.ndarray, spec: SlotSpec, config: EnvConfig, *,
                 training: bool = False, benchmark: np.ndarray | None = None,
                 panel: MarketPanel | None = None) -> None:
        T, n, F = data.market.shape
        super().__init__(returns, np.zeros((T, n, 0)), data.available, config, training=training,
                         benchmark=benchmark, panel=panel)
        if data.n_advisors != spec.n_advisors:
            raise ConfigError(f"the slot data has {data.n_advisors} advisors, the model {spec.n_advisors}")
        self.data, self.spec = data, spec
        self.layout = SlotLayout.of(spec, F)
        self.ids = spec.symbol_ids(data.symbols)
        self.episode_ids: np.ndarray | None = None  # a training episode's ids (SlotEnv's unknown_rate)
        self.obs_dim = self.layout.obs_dim
        self.slot_act_dim = self.layout.act_dim

    def observation_rows(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Flat slot observations (B, obs_dim) at ``rows`` (B,) of portfolios holding ``weights`` (B, n + 1)."""
        d = self.data
        return slot_observation(self.layout, self.spec, market=d.market[rows], live=d.available[rows],
                                ids=self.ids if self.episode_ids is None else self.episode_ids,
                                age=d.age[rows], weights=weights,
                                max_weight=self.config.rules.max_weight,
                                advisors=None if d.advisors is None else d.advisors[rows])

    def observe(self) -> np.ndarray:
        return self.observation_rows(self._t, self._w)

    def observation_at(self, t: int, weights: np.ndarray) -> np.ndarray:
        """The slot observation (obs_dim,) at row ``t`` of a portfolio holding ``weights`` (n + 1,)."""
        if not 0 <= int(t) < self.n_rows:
            raise EvaluationWindowError(f"row {t} is outside the data's {self.n_rows} rows")
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (self.act_dim,):
            raise ValueError(f"weights must have shape ({self.act_dim},), got {weights.shape}")
        return self.observation_rows(np.array([int(t)]), weights[None, :])[0]

    def action_targets(self, action: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Feasible targets (B, n + 1) of slot actions (B, slot_act_dim) at ``rows``, and the mixture (B, K)."""
        rows = np.asarray(rows, dtype=np.int64)
        d = self.data
        bench = self.benchmark[rows] if self.config.action_mode == "residual" else None
        return slot_action_to_weights(action, None if d.advisors is None else d.advisors[rows],
                                      d.available[rows], self.config, self.layout, benchmark=bench)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, StepInfo]:
        """Trade towards the targets of slot actions (B, slot_act_dim) and advance one row.

        ``info`` also holds ``mixture`` (B, K) with advisors (None without).
        """
        t = self._check_running()
        target, mixture = self.action_targets(action, t)
        obs, reward, done, info = self._advance(t, self._execute(target, self._w, t))
        info["mixture"] = mixture  # type: ignore[typeddict-unknown-key]
        return obs, reward, done, info


def slot_core(panel: MarketPanel, features: FeatureSet, spec: SlotSpec, config: EnvConfig, *,
              training: bool = False, rows: np.ndarray | None = None) -> SlotCore:
    """A :class:`SlotCore` over ``panel`` with its scaled ``features`` and ``spec``'s advisors
    (computed at ``rows`` only when given: a core for serving those rows)."""
    data = slot_data(panel, features, advisors=spec.advisors, rules=config.rules, rows=rows)
    return SlotCore(data, panel.simple_returns(), spec, config, training=training, panel=panel)


class SlotEnv(PortfolioEnv):
    """:class:`PortfolioEnv` over a :class:`SlotCore`: flat slot observations, slot actions.

    Attributes
    ----------
    observation_space : Box float32, shape (obs_dim,)
        The flat slot observation (:class:`SlotLayout`).
    action_space : Box float32 [-1, 1], shape (MAX_SYMBOLS + 1 + K,)
    dict_space : Dict
        The same observation as the seed's ``Dict`` (:class:`DictSlotEnv` returns it).
    unknown_rate : float
        Each episode shows each symbol as ``unknown_id`` with this probability (drawn from
        the env's seeded generator), so the shared embedding of unseen symbols is trained
        too; 0 (default) never.
    """

    core: SlotCore

    def __init__(self, core: SlotCore, *, span: tuple[int, int] | None = None,
                 symbols: tuple[str, ...] | None = None, unknown_rate: float = 0.0) -> None:
        super().__init__(core, span=span, symbols=symbols or core.data.symbols)
        if not 0.0 <= unknown_rate <= 1.0:
            raise ConfigError(f"unknown_rate={unknown_rate!r} must be a probability in [0, 1]")
        self.unknown_rate = float(unknown_rate)
        self.layout = core.layout
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(core.obs_dim,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(core.slot_act_dim,), dtype=np.float32)
        self.dict_space = dict_space(core.layout, core.spec)

    @classmethod
    def from_panel(cls, panel: MarketPanel, *,  # type: ignore[override]
                   spec: SlotSpec, config: EnvConfig = EnvConfig(),
                   span: tuple[int, int] | None = None, features: FeatureSet | None = None,
                   scaler: FeatureScaler | None = None) -> "SlotEnv":
        """A training env over ``panel`` (features default :func:`price_features`; the scaler is
        fitted on rows ``< span[1]`` unless given)."""
        raw = price_features(panel) if features is None else features
        lo, hi = (0, panel.n_dates - 1) if span is None else (int(span[0]), int(span[1]))
        scaler = scaler if scaler is not None else FeatureScaler().fit(raw, hi)
        env = cls(slot_core(panel, scaler.transform(raw), spec, config, training=True), span=(lo, hi))
        env.scaler, env.feature_names = scaler, raw.names
        return env

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """As :meth:`PortfolioEnv.reset`; first draws the episode's unknown symbols (``unknown_rate``)."""
        if self.unknown_rate > 0.0:
            gym.Env.reset(self, seed=seed)
            core = self.core
            hidden = self.np_random.random(len(core.ids)) < self.unknown_rate
            core.episode_ids = np.where(hidden, core.spec.unknown_id, core.ids)
            seed = None  # seeded above
        return super().reset(seed=seed, options=options)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Rebalance by the slot ``action`` (shape (MAX_SYMBOLS + 1 + K,)); as :meth:`PortfolioEnv.step`,
        with ``info["mixture"]`` (K,) when the model fuses advisors."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(action, dtype=np.float64).reshape(1, self.core.slot_act_dim)
        obs, reward, done, info = self.core.step(a)
        mixture = info["mixture"]  # type: ignore[typeddict-item]
        out = {"turnover": float(info["turnover"][0]), "cost": float(info["cost"][0]),
               "net_return": float(info["net_return"][0]), "weights": info["weights"][0],
               "t": int(info["t"][0]), "mixture": None if mixture is None else mixture[0]}
        if done[0]:
            self._started = False
        return obs[0], float(reward[0]), False, bool(done[0]), out


def dict_space(layout: SlotLayout, spec: SlotSpec) -> gym.spaces.Dict:
    """The seed's ``Dict`` observation space (``symbol_id`` as a float Box, so SB3 passes ids unchanged)."""
    shapes = layout.shapes
    spaces = {"market_features": gym.spaces.Box(-np.inf, np.inf, shapes["market_features"], np.float32),
              "context_features": gym.spaces.Box(-np.inf, np.inf, shapes["context_features"], np.float32),
              "symbol_id": gym.spaces.Box(0.0, float(spec.n_ids - 1), shapes["symbol_id"], np.float32)}
    if layout.n_advisors:
        spaces["advisor_weights"] = gym.spaces.Box(0.0, 1.0, shapes["advisor_weights"], np.float32)
    return gym.spaces.Dict(spaces)


class DictSlotEnv(gym.ObservationWrapper):
    """A :class:`SlotEnv` with the ``Dict`` observation (``symbol_id`` float32 ids)."""

    def __init__(self, env: SlotEnv) -> None:
        super().__init__(env)
        self.layout = env.layout
        self.observation_space = env.dict_space

    def observation(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        flat = np.asarray(observation, dtype=np.float32)
        return {k: flat[s].reshape(self.layout.shapes[k]) for k, s in self.layout.slices.items()
                if k in self.observation_space.spaces}
