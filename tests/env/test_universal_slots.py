"""The slot env: liveness from data known at t, padded slots without weight, universe swaps."""

from __future__ import annotations

import numpy as np
import torch

from sacfolio.agents.universal import UniversalActor, UniversalConfig
from sacfolio.broker.projection import feasible_rows, weight_bounds
from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import TRADING_DEFAULTS, EnvConfig
from sacfolio.env.layout import ObservationLayout
from sacfolio.env.slot_env import DictSlotEnv, SlotEnv, slot_core
from sacfolio.env.slots import SlotLayout, SlotSpec, mixture_weights
from sacfolio.evaluate.results import Fold
from sacfolio.evaluate.walkforward import backtest_model
from sacfolio.features.price import price_features
from sacfolio.features.scaler import FeatureScaler
from sacfolio.model.universal import UniversalBundle
from sacfolio.strategies.zoo import ADVISORS

CONFIG = EnvConfig.from_dict({**TRADING_DEFAULTS, "episode_length": 10})
SMALL = UniversalConfig(d_model=8, n_heads=2, n_layers=1, ff_dim=16)


def _panel(symbols: tuple[str, ...], seed: int = 0, T: int = 120, listed: dict[str, int] | None = None,
           delisted: dict[str, int] | None = None) -> MarketPanel:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0.001, 0.03, (T, len(symbols))), axis=0))
    available = np.ones((T, len(symbols)), dtype=bool)
    for s, row in (listed or {}).items():
        available[:row, symbols.index(s)] = False
    for s, row in (delisted or {}).items():
        available[row:, symbols.index(s)] = False
    dates = np.datetime64("2010-01-01") + 7 * np.arange(T)
    return MarketPanel(dates=dates, symbols=symbols, close=np.where(available, close, np.nan), available=available)


SYMBOLS = tuple(f"S{i}" for i in range(8))


def _bundle(spec: SlotSpec, panel: MarketPanel) -> UniversalBundle:
    raw = price_features(panel)
    actor = UniversalActor(SlotLayout.of(spec, raw.n_features), spec, SMALL, generator=torch.Generator().manual_seed(0))
    return UniversalBundle.from_actor(actor, scaler=FeatureScaler().fit(raw, 60), variant="universal",
                                      layout=ObservationLayout(symbols=spec.vocabulary, features=raw.names),
                                      env_config=CONFIG, spec=spec, universal=SMALL)


def _assert_feasible(weights: np.ndarray, available: np.ndarray) -> None:
    lo, hi = weight_bounds(available, CONFIG.rules)
    assert feasible_rows(weights, lo, hi).all()
    assert (weights[..., :-1][~available] == 0).all()


def test_a_symbol_is_live_only_from_its_first_real_price_and_padded_slots_hold_nothing() -> None:
    panel = _panel(SYMBOLS, listed={"S3": 70})
    spec = SlotSpec(max_symbols=12, vocabulary=SYMBOLS, advisors=ADVISORS)
    env = SlotEnv.from_panel(panel, spec=spec, config=CONFIG, span=(60, 110))
    obs, info = env.reset(seed=0, options={"start": 60})
    ids = env.layout.unflatten(obs)["symbol_id"]
    assert ids[3] == spec.padding_id and (ids[8:] == spec.padding_id).all() and ids[2] == 2
    for _ in range(10):
        obs, _, _, done, info = env.step(env.action_space.sample())
        _assert_feasible(info["weights"][None], panel.available[info["t"]][None])
        assert np.isclose(info["mixture"].sum(), 1.0)
        d = env.layout.unflatten(obs)
        assert (d["market_features"][8:] == 0).all() and (d["context_features"][8:] == 0).all()
        assert (d["advisor_weights"][:, 8:12] == 0).all()
    assert env.layout.unflatten(obs)["symbol_id"][3] == 3  # listed at row 70: live from then on
    hidden = SlotEnv(env.core, span=(60, 110), unknown_rate=1.0)  # every symbol shown as never seen
    ids = hidden.layout.unflatten(hidden.reset(seed=0, options={"start": 80})[0])["symbol_id"]
    assert (ids[:8] == spec.unknown_id).all() and (ids[8:] == spec.padding_id).all()
    env.core.episode_ids = None
    dict_obs = DictSlotEnv(env).observation(obs)
    assert set(dict_obs) == set(env.dict_space.spaces) and dict_obs["advisor_weights"].shape == (len(ADVISORS), 13)


def test_a_delisting_at_t_plus_5_leaves_every_action_up_to_t_unchanged() -> None:
    t = 90
    full = _panel(SYMBOLS)
    cut = _panel(SYMBOLS, delisted={"S2": t + 5})
    spec = SlotSpec(max_symbols=10, vocabulary=SYMBOLS, advisors=ADVISORS)
    bundle = _bundle(spec, full)
    fold = Fold(label="x", train_start=0, train_stop=60, test_start=60, test_stop=full.n_dates - 1)
    a, b = backtest_model(bundle, full, fold), backtest_model(bundle, cut, fold)
    upto = t - 60 + 1
    assert np.array_equal(a.weights[:upto], b.weights[:upto])
    assert not np.array_equal(a.weights, b.weights)
    assert (b.weights[t + 5 - 60:, 2] == 0).all()


def test_constraints_hold_every_step_after_a_universe_swap() -> None:
    spec = SlotSpec(max_symbols=10, vocabulary=SYMBOLS, advisors=ADVISORS)
    bundle = _bundle(spec, _panel(SYMBOLS))
    subset = _panel(SYMBOLS[:5], seed=1)
    unseen = _panel(SYMBOLS[:3] + ("NEW1", "NEW2"), seed=2, listed={"NEW2": 80})
    for panel in (subset, unseen):
        fold = Fold(label="x", train_start=0, train_stop=60, test_start=60, test_stop=panel.n_dates - 1)
        result = backtest_model(bundle, panel, fold)
        _assert_feasible(result.weights, panel.available[60:panel.n_dates - 1])
        core = bundle.core(panel)
        env = SlotEnv(slot_core(panel, bundle.scaler.transform(price_features(panel)), spec, CONFIG), span=(60, 119))
        env.reset(seed=3)
        for _ in range(CONFIG.episode_length):  # random slot actions, padded scores included
            _, _, _, _, info = env.step(env.action_space.sample())
            _assert_feasible(info["weights"][None], panel.available[info["t"]][None])
        weights, mixture = bundle.decide_at(core, 100)
        _assert_feasible(weights[None], panel.available[100][None])
        assert mixture.shape == (len(ADVISORS),) and np.isclose(mixture.sum(), 1.0)
    assert list(bundle.core(unseen).ids) == [0, 1, 2, spec.unknown_id, spec.unknown_id]


def test_without_current_weights_the_answer_is_the_target_and_an_actions_mix_maps_the_mean_action() -> None:
    panel = _panel(SYMBOLS)
    spec = SlotSpec(max_symbols=10, vocabulary=SYMBOLS, advisors=ADVISORS)
    one = _bundle(spec, panel)
    other_actor = UniversalActor(one.slot_layout, spec, SMALL, generator=torch.Generator().manual_seed(1))
    other = UniversalBundle.from_actor(other_actor, scaler=one.scaler, variant="universal", layout=one.layout,
                                       env_config=CONFIG, spec=spec, universal=SMALL)
    for bundle in (one, UniversalBundle.ensemble([one, other]), UniversalBundle.ensemble([one, other], mix="actions")):
        core = bundle.core(panel)
        cash = np.eye(core.act_dim)[-1]
        obs = core.observation_at(100, cash)[None, :]
        target, mixture = bundle.decisions(obs, core.available[100], core.benchmark[100])
        weights, mix = bundle.decide_at(core, 100)
        np.testing.assert_array_equal(weights, target[0])  # the target itself: no half step from cash
        np.testing.assert_array_equal(mix, mixture[0])
        stepped, _ = bundle.decide_at(core, 100, cash)  # with current weights: the execution rules' step
        assert stepped[-1] > weights[-1] + 0.2
        _assert_feasible(np.stack([weights, stepped]), np.stack([panel.available[100]] * 2))
    core = one.core(panel)
    obs = core.observation_at(100, np.eye(core.act_dim)[-1])[None, :]
    mean_action = (one.policy(obs) + other.policy(obs)) / 2
    by_actions = UniversalBundle.ensemble([one, other], mix="actions")
    np.testing.assert_allclose(by_actions.mixture(obs), mixture_weights(mean_action[..., spec.max_symbols + 1:],
                                                                        CONFIG.logit_scale), rtol=0, atol=1e-12)
    by_weights = UniversalBundle.ensemble([one, other])
    assert not np.allclose(by_actions.mixture(obs), by_weights.mixture(obs))
