"""Seed ensembles: one bundle that trades the average of its members' targets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sacfolio.agents.config import SACConfig
from sacfolio.broker.execution import ExecutionRules
from sacfolio.env.config import EnvConfig
from sacfolio.env.layout import ObservationLayout
from sacfolio.evaluate.results import Fold
from sacfolio.evaluate.walkforward import backtest_model
from sacfolio.exceptions import ConfigError
from sacfolio.features.scaler import FeatureScaler
from sacfolio.features.variants import build_features
from sacfolio.model.bundle import ModelBundle
from sacfolio.model.files import bundle_documents, load_bundle, member_file, sac_actor

RESIDUAL = EnvConfig(action_mode="residual", tilt=0.05, execution=ExecutionRules(rebalance_rate=0.5))


def _members(panel, config: EnvConfig, k: int = 3) -> list[ModelBundle]:
    features = build_features(panel, "sac_price", progress=False)
    layout = ObservationLayout(symbols=panel.symbols, features=features.names)
    scaler = FeatureScaler().fit(features, stop=100)
    return [ModelBundle.from_actor(sac_actor(SACConfig(hidden_sizes=(16,)), layout, seed=s), scaler=scaler,
                                   variant="sac_price", layout=layout, env_config=config,
                                   learner={"sac": SACConfig(hidden_sizes=(16,)).to_dict()})
            for s in range(k)]


@pytest.mark.parametrize("config", [EnvConfig(), RESIDUAL], ids=["softmax", "residual-slow"])
def test_the_ensemble_trades_the_mean_of_its_members_targets_and_obeys_every_rule(recent_sample, config):
    panel = recent_sample
    members = _members(panel, config)
    ensemble = ModelBundle.ensemble(members)
    assert ensemble.n_members == 3 and ModelBundle.ensemble(members[:1]) is members[0]
    core = ensemble.core(panel)
    rng = np.random.default_rng(0)
    for t in (120, 150, 200):
        obs = rng.standard_normal((4, core.obs_dim)).astype(np.float32)
        bench = core.benchmark[t] if config.action_mode == "residual" else None
        each = [m.policy_target(obs, panel.available[t], bench) for m in members]
        got = ensemble.policy_target(obs, panel.available[t], bench)
        np.testing.assert_allclose(got, np.mean(each, axis=0), rtol=0, atol=1e-15)
        rules = config.rules
        assert np.allclose(got.sum(axis=1), 1.0) and (got >= -1e-12).all()
        assert (got[:, :-1] <= rules.max_weight + 1e-12).all() and (got[:, -1] >= rules.cash_floor - 1e-12).all()
        assert (got[:, :-1][:, ~panel.available[t]] == 0).all()
    # the backtest trades exactly what the served bundle answers, from the same holdings
    n = panel.n_dates
    fold = Fold(label="test", train_start=0, train_stop=n - 60, test_start=n - 60, test_stop=n - 1)
    result = backtest_model(ensemble, panel, fold)
    held = np.zeros(panel.n_symbols + 1)
    held[-1] = 1.0
    serving = ensemble.core(panel)
    first = ensemble.target_weights(serving, fold.test_start, held)
    np.testing.assert_array_equal(first, result.weights[0])


def test_an_ensemble_saves_every_member_and_loads_back_the_same_targets(recent_sample):
    panel = recent_sample
    ensemble = ModelBundle.ensemble(_members(panel, RESIDUAL))
    documents = bundle_documents(ensemble)
    assert documents["config.json"]["ensemble"]["members"] == 3
    tensors = {member_file(k, "actor.pt"): b.actor.state_dict() for k, b in enumerate(ensemble.members())}
    assert sorted(tensors) == ["actor.pt", "member1_actor.pt", "member2_actor.pt"]
    loaded = load_bundle(tensors, documents, version="v1")
    assert loaded.n_members == 3
    core = ensemble.core(panel)
    obs = np.random.default_rng(1).standard_normal((5, core.obs_dim)).astype(np.float32)
    np.testing.assert_array_equal(loaded.policy_target(obs, panel.available[150], core.benchmark[150]),
                                  ensemble.policy_target(obs, panel.available[150], core.benchmark[150]))
    del tensors["member2_actor.pt"]
    with pytest.raises(ConfigError, match="member2_actor.pt"):
        load_bundle(tensors, documents, version="v1")


def test_members_trained_on_other_data_or_settings_are_refused(recent_sample):
    members = _members(recent_sample, EnvConfig(), k=2)
    other = dataclasses.replace(members[1], env_config=RESIDUAL)
    with pytest.raises(ConfigError, match="other data or settings"):
        ModelBundle.ensemble([members[0], other])
    with pytest.raises(ConfigError, match="itself an ensemble"):
        ModelBundle.ensemble([members[0], ModelBundle.ensemble(members)])
