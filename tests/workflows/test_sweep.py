"""A Ray Tune sweep on a validation fold before the test years: its trial table, its best
configuration as a file ``sacfolio train --config`` reads, and the trials counted."""

import csv
import json

import pytest

from sacfolio.agents.config import SACConfig
from sacfolio.env.config import CONFIGURATIONS_TRIED, EnvConfig
from sacfolio.evaluate.folds import yearly_folds
from sacfolio.exceptions import ConfigError
from sacfolio.workflows.sweep import SweepConfig, apply_parameters, load_run_config, run_sweep, validation_fold

SMALL = SACConfig(warmup_steps=10, batch_size=16, hidden_sizes=(16, 16))
SPACE = {"tilt": {"choice": [0.01, 0.04]}, "gamma": {"choice": [0.5, 0.99]}, "lr": {"loguniform": [1e-4, 3e-4]}}


def test_a_four_trial_sweep_writes_its_table_and_a_best_config_train_accepts(ray_session, recent_sample,
                                                                            tmp_path) -> None:
    config = SweepConfig(space=SPACE, trials=4, steps=30, rungs=2, first_test_year=2022, seed=1, min_train=52)
    outcome = run_sweep(recent_sample, config, tmp_path / "sweep", sac_config=SMALL,
                        env_options={"action_mode": "residual"})
    with outcome.table_csv.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and {"config/tilt", "config/gamma", "config/lr", "val_sharpe", "steps"} <= set(rows[0])
    assert all(int(r["steps"]) in (15, 30) for r in rows)  # ASHA may stop a trial at the first rung
    test_fold = yearly_folds(recent_sample.dates, (2022,), min_train=52)[0]
    assert validation_fold(recent_sample, 2022, 52).test_stop <= test_fold.test_start  # no test week validated
    assert outcome.validation[0].startswith("2020-12") and outcome.validation[1].startswith("2021-12")

    doc = json.loads(outcome.best_config.read_text())
    assert doc["trials"] == 4 and doc["configurations_tried"] == CONFIGURATIONS_TRIED + 4
    best = load_run_config(outcome.best_config)
    assert best.sac["gamma"] == outcome.best["config/gamma"] and best.sac["actor_lr"] == best.sac["critic_lr"]
    env = EnvConfig.from_dict(best.env)
    assert env.action_mode == "residual" and env.tilt == outcome.best["config/tilt"]
    assert best.steps == 30 and best.configurations_tried == CONFIGURATIONS_TRIED + 4


def test_search_space_names_map_to_settings_and_unknown_ones_are_refused(tmp_path) -> None:
    assert apply_parameters({"rebalance_rate": 0.5, "lr": 1e-4, "gamma": 0.9}) == (
        {"actor_lr": 1e-4, "critic_lr": 1e-4, "alpha_lr": 1e-4, "gamma": 0.9}, {"execution": {"rebalance_rate": 0.5}})
    with pytest.raises(ConfigError, match="unknown search-space parameter 'kappa'"):
        SweepConfig(space={"kappa": {"choice": [1]}})
    with pytest.raises(ConfigError, match="kind in"):
        SweepConfig(space={"tilt": {"normal": [0, 1]}})
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"format": "sacfolio-run-config/1", "sac": {"gama": 0.9}}))
    with pytest.raises(ConfigError, match="gama"):
        load_run_config(bad)


def test_a_config_file_sets_what_the_command_line_did_not_type(tmp_path) -> None:
    import click
    from click.core import ParameterSource

    from sacfolio.cli.options import TRADING, env_options, sac_options
    from sacfolio.cli.sweep import with_config_file

    path = tmp_path / "best.json"
    path.write_text(json.dumps({"format": "sacfolio-run-config/1", "sac": {"gamma": 0.9, "actor_lr": 1e-4},
                                "env": {"tilt": 0.04, "execution": {"rebalance_rate": 0.3}}, "steps": 77,
                                "configurations_tried": 14}))
    sac = sac_options(aux=True, aux_coef_short=0.01, aux_coef_long=0.01, allow_unsafe_lr=False)
    env = env_options(**{k: v for k, v in TRADING.items()})
    ctx = click.Context(click.Command("train"))
    ctx.params = {"tilt": 0.01, "steps": 500, "trials": 10}
    ctx.set_parameter_source("tilt", ParameterSource.COMMANDLINE)  # typed: wins over the file
    ctx.set_parameter_source("steps", ParameterSource.DEFAULT)
    ctx.set_parameter_source("trials", ParameterSource.DEFAULT)
    with ctx:
        sac2, env2, steps, trials = with_config_file(path, sac=sac, env={**env, "tilt": 0.01}, steps=500, trials=10)
    assert sac2["gamma"] == 0.9 and sac2["actor_lr"] == 1e-4 and sac2["aux"] is True
    assert env2["tilt"] == 0.01 and env2["execution"] == {**env["execution"], "rebalance_rate": 0.3}
    assert (steps, trials) == (77, 14)  # the sweep's trials count in the deflated Sharpe ratio
    assert with_config_file(None, sac=sac, env=env, steps=5, trials=3) == (sac, env, 5, 3)
