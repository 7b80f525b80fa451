"""Walk-forward: each fold trains before its test year, every strategy runs the same folds."""

import numpy as np
import pytest

from sacfolio.agents.config import SACConfig
from sacfolio.data import load_sp500_sample
from sacfolio.env.config import EnvConfig
from sacfolio.evaluate.walkforward import WalkForwardConfig
from sacfolio.exceptions import ConfigError, EvaluationWindowError
from sacfolio.features.variants import FeatureSources
from sacfolio.workflows.walkforward import run_walk_forward


@pytest.fixture(scope="module")
def run():
    panel = load_sp500_sample(start="2014-01-01")
    config = WalkForwardConfig(years=(2021, 2022), train_steps=250, fold_steps=150,
                               baselines=("equal_weight", "buy_and_hold", "hindsight_top5"), variant="sac_price",
                               agents=("sac", "ppo"))
    result, model = run_walk_forward(panel, config=config, sac_config=SACConfig(warmup_steps=50),
                                     progress=False)
    return panel, result, model


def test_each_fold_trains_only_before_its_test_span(run) -> None:
    panel, result, model = run
    folds = {f.label: f for f in result.folds}
    for info in result.info["training"]:
        fold = folds[info["fold"]]
        assert info["train_window"][1] == str(panel.dates[fold.train_stop])
        assert fold.train_stop == fold.test_start
        assert str(panel.dates[fold.test_start + 1]).startswith(fold.label)  # first test return lands in Y
    assert model.bundle.train_window[1] == str(panel.dates[result.folds[-1].train_stop])
    assert [(i["agent"], i["warm_start"]) for i in result.info["training"]] == [
        ("sac", False), ("ppo", False), ("sac", True), ("ppo", True)]
    assert {"sac", "ppo"} <= set(result.results)


def test_all_strategies_cover_the_same_weeks_and_weights_are_feasible(run) -> None:
    panel, result, _ = run
    agent = result.combined("sac")
    for name in result.results:
        other = result.combined(name)
        np.testing.assert_array_equal(other.dates, agent.dates)
        w = other.weights
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-9)
        assert (w[:, -1] >= 0.02 - 1e-9).all() and (w[:, :-1] <= 0.2 + 1e-9).all()
    assert np.isfinite(agent.returns).all()
    # The hindsight ceiling must beat every honest strategy by a wide margin.
    best_honest = max(result.combined(n).equity[-1] for n in result.results if not n.startswith("hindsight"))
    assert result.combined("hindsight_top5").equity[-1] > 2 * best_honest


def test_a_year_outside_the_data_is_a_clear_error() -> None:
    panel = load_sp500_sample(start="2018-01-01")
    with pytest.raises(EvaluationWindowError, match="2030"):
        run_walk_forward(panel, config=WalkForwardConfig(years=(2030,)), progress=False)


def test_unknown_baseline_is_refused_before_any_training() -> None:
    with pytest.raises(ConfigError, match="no_such"):
        WalkForwardConfig(baselines=("no_such",))


def test_a_task_run_on_its_own_gives_what_it_gave_inside_the_run() -> None:
    """Tasks carry their own seeds: any executor that runs one gets the same model."""
    from sacfolio.evaluate.walkforward import plan_walk_forward
    from sacfolio.features.variants import build_features
    from sacfolio.workflows.walkforward import run_task

    panel = load_sp500_sample(start="2016-01-01")
    config = WalkForwardConfig(years=(2021, 2022), train_steps=120, warm_start=False, baselines=("equal_weight",),
                               variant="sac_price")
    sac = SACConfig(warmup_steps=50)
    result, _ = run_walk_forward(panel, config=config, sac_config=sac, progress=False)
    task = plan_walk_forward(panel, config).tasks[1]
    alone = run_task(task, panel, build_features(panel, "sac_price"), variant="sac_price",
                     env_config=EnvConfig(), sac_config=sac, sources=FeatureSources(), progress=False, log_dir=None)
    np.testing.assert_array_equal(alone.backtests[0].weights, result.results["sac"][1].weights)
    np.testing.assert_array_equal(alone.backtests[0].returns, result.results["sac"][1].returns)
