"""Seed ensembles: one bundle that trades the average of its members' targets (or the target
of their average action)."""

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
from sacfolio.env.actions import action_to_weights
from sacfolio.exceptions import ConfigError, CorruptArtifactError
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


WIDE = EnvConfig(action_mode="residual", tilt=1.0)
"""Residual tilts up to one: the 20% cap and the zero floor clip most members' targets."""


@pytest.mark.parametrize("config", [EnvConfig(), WIDE], ids=["softmax", "residual-wide"])
def test_an_actions_mix_trades_the_target_of_the_mean_action_and_obeys_every_rule(recent_sample, config):
    panel = recent_sample
    members = _members(panel, config)
    by_weights = ModelBundle.ensemble(members)
    by_actions = ModelBundle.ensemble(members, mix="actions")
    assert by_weights.ensemble_mix == "weights" and by_actions.ensemble_mix == "actions"
    core = by_actions.core(panel)
    rng = np.random.default_rng(2)
    rules = config.rules
    for t in (120, 150, 200):
        obs = rng.standard_normal((4, core.obs_dim)).astype(np.float32)
        bench = core.benchmark[t] if config.action_mode == "residual" else None
        mean_action = np.mean([m.policy(obs) for m in members], axis=0)
        got = by_actions.policy_target(obs, panel.available[t], bench)
        np.testing.assert_array_equal(got, action_to_weights(mean_action, config, panel.available[t], bench))
        # a nonlinear mapping: the target of the mean is not the mean of the targets
        assert np.abs(got - by_weights.policy_target(obs, panel.available[t], bench)).max() > 1e-3
        assert np.allclose(got.sum(axis=1), 1.0) and (got >= -1e-12).all()
        assert (got[:, :-1] <= rules.max_weight + 1e-12).all() and (got[:, -1] >= rules.cash_floor - 1e-12).all()
        assert (got[:, :-1][:, ~panel.available[t]] == 0).all()
    # a member its holdout check held at the benchmark adds the zero action to the mean
    held = ModelBundle.ensemble([members[0], dataclasses.replace(members[1], holdout=({"trades": False},))],
                                mix="actions")
    obs = rng.standard_normal((2, core.obs_dim)).astype(np.float32)
    bench = core.benchmark[150] if config.action_mode == "residual" else None
    np.testing.assert_array_equal(held.policy_target(obs, panel.available[150], bench),
                                  action_to_weights(members[0].policy(obs) / 2, config, panel.available[150], bench))


def test_the_mix_is_saved_with_the_ensemble_and_checked(recent_sample):
    panel = recent_sample
    ensemble = ModelBundle.ensemble(_members(panel, WIDE, k=2), mix="actions")
    documents = bundle_documents(ensemble)
    assert documents["config.json"]["ensemble"] == {
        "members": 2, "mix": "actions", "rule": "trades the target of the members' average action"}
    tensors = {member_file(k, "actor.pt"): b.actor.state_dict() for k, b in enumerate(ensemble.members())}
    loaded = load_bundle(tensors, documents, version="v1")
    assert loaded.ensemble_mix == "actions" and all(m.ensemble_mix == "weights" for m in loaded.members())
    core = ensemble.core(panel)
    obs = np.random.default_rng(3).standard_normal((3, core.obs_dim)).astype(np.float32)
    np.testing.assert_array_equal(loaded.policy_target(obs, panel.available[150], core.benchmark[150]),
                                  ensemble.policy_target(obs, panel.available[150], core.benchmark[150]))
    # files written before the choice existed averaged weights
    del documents["config.json"]["ensemble"]["mix"]
    assert load_bundle(tensors, documents, version="v1").ensemble_mix == "weights"
    documents["config.json"]["ensemble"]["mix"] = "median"
    with pytest.raises(CorruptArtifactError, match="mix 'median'"):
        load_bundle(tensors, documents, version="v1")
    with pytest.raises(ConfigError, match="ensemble_mix='median'"):
        ModelBundle.ensemble(_members(panel, WIDE, k=2), mix="median")


def test_members_trained_on_other_data_or_settings_are_refused(recent_sample):
    members = _members(recent_sample, EnvConfig(), k=2)
    other = dataclasses.replace(members[1], env_config=RESIDUAL)
    with pytest.raises(ConfigError, match="other data or settings"):
        ModelBundle.ensemble([members[0], other])
    with pytest.raises(ConfigError, match="itself an ensemble"):
        ModelBundle.ensemble([members[0], ModelBundle.ensemble(members)])
