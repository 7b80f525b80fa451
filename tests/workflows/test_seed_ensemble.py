"""Seed ensembles through the walk-forward, the registry files and finetuning."""

import numpy as np
import pytest
import torch

from sacfolio.agents.config import SACConfig
from sacfolio.data import load_sp500_sample
from sacfolio.env.config import EnvConfig
from sacfolio.evaluate.walkforward import WalkForwardConfig, plan_walk_forward
from sacfolio.exceptions import ConfigError
from sacfolio.train.portfolio import train_model
from sacfolio.workflows.artifacts import bundle_from_artifacts, to_artifacts, trained_from_artifacts
from sacfolio.workflows.walkforward import run_walk_forward

SMALL = SACConfig(warmup_steps=50, batch_size=32, hidden_sizes=(32, 32))
ENV = EnvConfig.from_dict({"action_mode": "residual", "execution": {"rebalance_rate": 0.5}})


def _config(**kw) -> WalkForwardConfig:
    return WalkForwardConfig(years=(2021, 2022), train_steps=200, fold_steps=100, baselines=("equal_weight",),
                             variant="sac_price", **kw)


@pytest.fixture(scope="module")
def panel():
    return load_sp500_sample(start="2016-01-01")


@pytest.fixture(scope="module")
def ensemble_run(panel):
    return run_walk_forward(panel, config=_config(seed=3, seeds=2), env_config=ENV, sac_config=SMALL,
                            progress=False)


def test_each_member_equals_the_single_run_of_its_seed(panel, ensemble_run) -> None:
    result, model = ensemble_run
    assert model.bundle.n_members == 2 and len(result.members["sac"]) == 2
    for k, root in enumerate((3, 1003)):
        single, _ = run_walk_forward(panel, config=_config(seed=root), env_config=ENV, sac_config=SMALL,
                                     progress=False)
        for a, b in zip(result.members["sac"][k], single.results["sac"]):
            np.testing.assert_allclose(a.weights, b.weights, rtol=0, atol=1e-12)
            np.testing.assert_allclose(a.returns, b.returns, rtol=0, atol=1e-12)
    # the ensemble trades neither member's weights but feasible ones of its own
    traded = result.combined("sac").weights
    assert not np.allclose(traded, result.combined_members("sac")[0].weights)
    assert np.allclose(traded.sum(axis=1), 1.0) and (traded[:, -1] >= 0.02 - 1e-12).all()
    assert (traded[:, :-1] <= 0.2 + 1e-12).all()
    assert [(r["fold"], r["member"]) for r in result.info["training"]] == [
        ("2021", 0), ("2021", 1), ("2022", 0), ("2022", 1)]


def test_an_actions_mix_trains_the_same_members_and_keeps_its_mix_through_the_registry(panel, ensemble_run) -> None:
    by_weights, _ = ensemble_run
    result, model = run_walk_forward(panel, config=_config(seed=3, seeds=2, ensemble_mix="actions"), env_config=ENV,
                                     sac_config=SMALL, progress=False)
    assert model.bundle.ensemble_mix == "actions" and result.info["walk_forward"]["ensemble_mix"] == "actions"
    for mine, theirs in zip(result.members["sac"], by_weights.members["sac"]):  # the members train as before
        for a, b in zip(mine, theirs):
            np.testing.assert_array_equal(a.weights, b.weights)
    traded = result.combined("sac").weights
    assert np.allclose(traded.sum(axis=1), 1.0) and (traded[:, -1] >= 0.02 - 1e-12).all()
    assert (traded[:, :-1] <= 0.2 + 1e-12).all()
    loaded = trained_from_artifacts(to_artifacts(model, metadata={}))
    assert loaded.bundle.ensemble_mix == "actions"
    fine = train_model(panel, train_start=panel.n_dates - 60, train_stop=panel.n_dates - 1, variant="sac_price",
                       env_config=ENV, sac_config=SMALL, steps=60, seed=9, init=loaded,
                       scaler=loaded.bundle.scaler, progress=False)
    assert fine.bundle.ensemble_mix == "actions" and fine.bundle.n_members == 2
    with pytest.raises(ConfigError, match="ensemble_mix='mean'"):
        _config(seeds=2, ensemble_mix="mean")


def test_the_plan_gives_member_k_the_seeds_of_root_plus_1000k(panel) -> None:
    plan = plan_walk_forward(panel, _config(seed=5, seeds=3))
    assert [(t.member, t.seeds) for t in plan.tasks] == [(0, (5, 6)), (1, (1005, 1006)), (2, (2005, 2006))]
    with pytest.raises(ConfigError, match="seeds=0"):
        _config(seeds=0)


def test_an_ensemble_round_trips_through_artifacts_and_finetunes_member_by_member(panel, ensemble_run) -> None:
    _, model = ensemble_run
    artifacts = to_artifacts(model, metadata={})
    assert {"actor.pt", "critic.pt", "member1_actor.pt", "member1_critic.pt", "member1_log_alpha.pt"} <= set(
        artifacts.tensors)
    loaded = trained_from_artifacts(artifacts)
    assert len(loaded.single_models()) == 2
    obs = torch.randn(8, loaded.learner.obs_dim, generator=torch.Generator().manual_seed(0))
    for a, b in zip(loaded.single_models(), model.single_models()):
        assert torch.equal(a.learner.actor.act(obs, deterministic=True), b.learner.actor.act(obs, deterministic=True))
    bundle = bundle_from_artifacts(artifacts)
    t = panel.n_dates - 1
    np.testing.assert_array_equal(bundle.target_weights(bundle.core(panel), t),
                                  model.bundle.target_weights(model.bundle.core(panel), t))
    fine = train_model(panel, train_start=panel.n_dates - 60, train_stop=panel.n_dates - 1, variant="sac_price",
                       env_config=ENV, sac_config=SMALL, steps=60, seed=9, init=loaded,
                       scaler=loaded.bundle.scaler, progress=False)
    assert fine.bundle.n_members == 2
    assert [m.train_result.n_steps for m in fine.single_models()] == [60, 60]


def test_a_process_pool_gives_the_local_run_bit_for_bit(panel, ensemble_run) -> None:
    local, _ = ensemble_run
    pooled, model = run_walk_forward(panel, config=_config(seed=3, seeds=2), env_config=ENV, sac_config=SMALL,
                                     progress=False, executor="process", workers=2)
    assert model.bundle.n_members == 2
    for name in local.results:
        for a, b in zip(local.results[name], pooled.results[name]):
            np.testing.assert_array_equal(a.weights, b.weights)
            np.testing.assert_array_equal(a.returns, b.returns)
    with pytest.raises(ConfigError, match="unknown executor 'ray2'"):
        run_walk_forward(panel, config=_config(), executor="ray2")


def test_a_checked_ensemble_mixing_actions_is_decided_by_its_mean_action_also_from_the_task_cache(tmp_path) -> None:
    """Each fold's members are checked alone (their training rows) and their mean action is
    checked again with their first passes walked together: that check decides, is in the
    run's info and the report, and comes out the same when the members are read back from
    the task cache (which keeps each member's checked policy)."""
    from sacfolio.data.known_markets import known_market
    from sacfolio.evaluate.report.page import holdout_html
    from sacfolio.workflows.task_cache import TaskResultCache

    panel = known_market("ar1", strength=0.3, seed=0, n_stocks=8, n_weeks=300).panel  # 2000-01-07 .. 2005-09
    env = EnvConfig.from_dict({"action_mode": "residual", "tilt": 1.0, "reward": "excess_log_return"})
    sac = SACConfig(warmup_steps=50, batch_size=32, hidden_sizes=(32, 32), network="cross_sectional", gamma=0.0,
                    reward_scale=100.0, holdout_weeks=60)
    config = WalkForwardConfig(years=(2004, 2005), train_steps=300, baselines=("equal_weight",), seed=0, seeds=2,
                               warm_start=False, ensemble_mix="actions", variant="sac_price")
    runs = [run_walk_forward(panel, config=config, env_config=env, sac_config=sac, progress=False,
                             task_cache=TaskResultCache(tmp_path))[0] for _ in range(2)]
    first, cached = runs
    checks = first.info["ensemble_holdout"]
    assert [c["fold"] for c in checks] == ["2004", "2005"] and all(c["weeks"] == 60 for c in checks)
    assert cached.info["ensemble_holdout"] == checks  # the cache kept the checked policies
    np.testing.assert_array_equal(cached.combined("sac").weights, first.combined("sac").weights)
    own = {(r["fold"], r["member"]): r["holdout"][0] for r in first.info["training"]}
    assert len(own) == 4 and all(c["window"] == checks[i // 2]["window"] for i, c in enumerate(own.values()))
    # measured: 2004's mean action t -1.16 holds (members -2.24, +0.04); 2005's t 2.12 trades, though member 0
    # alone (t 0.95) would have held (member 1: 2.08)
    for k, check in enumerate(checks):  # a fold the mean action's check held trades 1/N, whatever its members said
        held = bool(np.allclose(first.results["sac"][k].weights, first.results["equal_weight"][k].weights, atol=1e-12))
        assert held is not check["trades"]
    html = holdout_html(first.info)
    assert html.count("mean action") >= 3 and ("would trade alone" in html or "would hold alone" in html)


def test_a_warm_started_folds_mean_action_check_pools_into_the_previous_folds_record() -> None:
    from sacfolio.data.known_markets import known_market

    panel = known_market("ar1", strength=0.3, seed=0, n_stocks=8, n_weeks=300).panel
    env = EnvConfig.from_dict({"action_mode": "residual", "tilt": 1.0, "reward": "excess_log_return"})
    sac = SACConfig(warmup_steps=50, batch_size=32, hidden_sizes=(32, 32), network="cross_sectional", gamma=0.0,
                    reward_scale=100.0, holdout_weeks=60)
    config = WalkForwardConfig(years=(2004, 2005), train_steps=300, fold_steps=100, baselines=("equal_weight",),
                               seed=0, seeds=2, warm_start=True, ensemble_mix="actions", variant="sac_price")
    result, model = run_walk_forward(panel, config=config, env_config=env, sac_config=sac, progress=False)
    first, second = result.info["ensemble_holdout"]
    assert second["window"][0] == first["window"][1]  # the weeks after the first fold's training window
    assert first["record"]["weeks"] == first["weeks"] == 60
    assert second["record"]["weeks"] == 60 + second["weeks"] and second["record"]["since"] == first["window"][0]
    assert [c["trades"] for c in model.bundle.holdout] == [second["record"]["t"] >= 2.0] * 2
