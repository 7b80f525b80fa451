"""A seed ensemble's members trained together give the models and backtests of separate runs."""

import dataclasses

import numpy as np
import pytest
import torch

from sacfolio.data import load_sp500_sample
from sacfolio.env.config import EnvConfig
from sacfolio.evaluate.walkforward import WalkForwardConfig, plan_walk_forward
from sacfolio.train.ensemble import BATCHED_ENSEMBLES_ENV, trains_together
from sacfolio.train.portfolio import PORTFOLIO_SAC
from sacfolio.workflows.task_cache import TaskResultCache
from sacfolio.workflows.walkforward import MemberGroup, group_members, run_walk_forward

# the portfolio default learner (reward scale 100, aux heads), small enough for a test
SMALL = dataclasses.replace(PORTFOLIO_SAC, warmup_steps=50, batch_size=32, hidden_sizes=(32, 32))
ENV = EnvConfig.from_dict({"action_mode": "residual", "execution": {"rebalance_rate": 0.5}})


def _config(**kw) -> WalkForwardConfig:
    settings = dict(years=(2021, 2022), train_steps=200, fold_steps=100, baselines=("equal_weight",),
                    variant="sac_price", seed=3, seeds=3)
    return WalkForwardConfig(**{**settings, **kw})


@pytest.fixture(scope="module")
def panel():
    return load_sp500_sample(start="2016-01-01")


@pytest.fixture(scope="module")
def runs(panel, tmp_path_factory):
    """The same 3-seed walk-forward trained together (with a task cache) and one member at a time."""
    cache = tmp_path_factory.mktemp("tasks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(BATCHED_ENSEMBLES_ENV, "1")
        together = run_walk_forward(panel, config=_config(), env_config=ENV, sac_config=SMALL, progress=False,
                                    task_cache=cache)
        mp.setenv(BATCHED_ENSEMBLES_ENV, "0")
        separate = run_walk_forward(panel, config=_config(), env_config=ENV, sac_config=SMALL, progress=False)
    return together, separate, cache


def test_members_trained_together_equal_separate_runs(runs) -> None:
    (together, model_t), (separate, model_s), _ = runs
    # trained together: the members of a fold share one run's clock; separately, each has its own
    assert len({m.train_result.wall_seconds for m in model_t.single_models()}) == 1
    assert len({m.train_result.wall_seconds for m in model_s.single_models()}) == 3
    for a, b in zip(model_t.single_models(), model_s.single_models(), strict=True):      # saved weights
        for name, state in a.learner.state_dicts().items():
            for key, value in state.items():
                torch.testing.assert_close(value, b.learner.state_dicts()[name][key], rtol=1e-5, atol=1e-5)
        assert a.train_result.episode_returns == pytest.approx(b.train_result.episode_returns, abs=1e-5)
        health_a, health_b = a.train_result.health, b.train_result.health     # its checks saw the same learner
        assert (health_a["status"], health_a["checks"]) == (health_b["status"], health_b["checks"])
        assert health_a["last"]["grad_norms"] == pytest.approx(health_b["last"]["grad_norms"], rel=1e-5)
        assert a.train_result.nonfinite == b.train_result.nonfinite
    for k in range(3):                                                                  # each member's backtests
        for a, b in zip(together.members["sac"][k], separate.members["sac"][k], strict=True):
            np.testing.assert_allclose(a.weights, b.weights, rtol=0, atol=1e-5)
    for a, b in zip(together.results["sac"], separate.results["sac"], strict=True):     # the ensemble's
        np.testing.assert_allclose(a.weights, b.weights, rtol=0, atol=1e-5)
        np.testing.assert_allclose(a.returns, b.returns, rtol=0, atol=1e-5)


def test_a_batched_run_is_cached_as_its_member_tasks(panel, runs) -> None:
    (together, _), _, root = runs
    cache = TaskResultCache(root)
    with pytest.MonkeyPatch.context() as mp:      # a separate run finds every member task of the batched one
        mp.setenv(BATCHED_ENSEMBLES_ENV, "0")
        again, _ = run_walk_forward(panel, config=_config(), env_config=ENV, sac_config=SMALL, progress=False,
                                    task_cache=cache)
    assert (cache.hits, cache.saved) == (3, 0)
    for a, b in zip(together.results["sac"], again.results["sac"]):
        np.testing.assert_array_equal(a.weights, b.weights)


def test_members_are_grouped_per_chain_and_split_across_workers(panel) -> None:
    tasks = plan_walk_forward(panel, _config(seeds=5)).tasks
    one = group_members(tasks)
    assert len(one) == 1 and [t.member for t in one[0].tasks] == [0, 1, 2, 3, 4]
    two = group_members(tasks, parts=2)
    assert [[t.member for t in g.tasks] for g in two] == [[0, 2, 4], [1, 3]]
    cold = group_members(plan_walk_forward(panel, _config(warm_start=False)).tasks)
    assert [len(g.tasks) for g in cold] == [3, 3] and all(isinstance(g, MemberGroup) for g in cold)
    assert group_members(tasks[:3], parts=4) == list(tasks[:3])    # one member per worker: plain tasks
    assert not trains_together(algo="ppo", variant="sac_price", sac_config=SMALL, members=3)
    assert not trains_together(algo="sac", variant="sac_price", sac_config=SMALL, members=1)
