"""Walk-forward plans: folds, training tasks and the seeds derived from one root seed."""

import pytest

from sacfolio.evaluate.walkforward import WalkForwardConfig, plan_walk_forward, task_seed
from sacfolio.exceptions import ConfigError


def test_warm_started_folds_form_one_chain_per_agent(recent_sample) -> None:
    config = WalkForwardConfig(years=(2020, 2021, 2022), train_steps=300, fold_steps=100, agents=("sac", "ppo"),
                               variant="sac_price")
    plan = plan_walk_forward(recent_sample, config)
    assert [t.agent for t in plan.tasks] == ["sac", "ppo"]
    for task in plan.tasks:
        assert task.folds == plan.folds and task.warm_start
        assert task.steps == (300, 100, 100)
        assert task.seeds == tuple(task_seed(0, k) for k in range(3))


def test_cold_folds_are_independent_tasks(recent_sample) -> None:
    config = WalkForwardConfig(years=(2021, 2022), train_steps=200, warm_start=False, variant="sac_price")
    plan = plan_walk_forward(recent_sample, config)
    assert [(t.agent, t.folds[0].label, t.steps) for t in plan.tasks] == [("sac", "2021", (200,)),
                                                                            ("sac", "2022", (200,))]
    assert plan.tasks[0].seeds != plan.tasks[1].seeds


def test_seeds_come_from_the_root_seed_only() -> None:
    assert task_seed(7, 3) == task_seed(7, 3)
    assert len({task_seed(7, k) for k in range(50)}) == 50
    assert task_seed(7, 0) != task_seed(8, 0)


def test_an_unknown_variant_is_refused_in_the_config() -> None:
    with pytest.raises(ConfigError, match="unknown variant"):
        WalkForwardConfig(variant="sac_nope")
