"""The env options of demo, evaluate and train: the recommended trading settings by default, help that teaches."""

from __future__ import annotations

import inspect

import pytest
from typer.testing import CliRunner

from sacfolio.cli import app
from sacfolio.cli.evaluate import demo, evaluate
from sacfolio.cli.options import env_options
from sacfolio.cli.train import train
from sacfolio.env.config import TRADING_DEFAULTS, EnvConfig
from sacfolio.exceptions import ConfigError

NAMES = ("action_mode", "tilt", "rebalance_rate", "no_trade_band", "reward", "train_cost_multiplier")
FLAGS = ("--action-mode", "--tilt", "--rebalance-rate", "--no-trade-band", "--reward", "--train-cost-multiplier")


@pytest.mark.parametrize("command", [demo, evaluate, train], ids=lambda c: c.__name__)
def test_the_option_defaults_are_the_recommended_trading_settings(command):
    defaults = {name: inspect.signature(command).parameters[name].default for name in NAMES}
    config = EnvConfig.from_dict(env_options(**defaults))
    assert config == EnvConfig.from_dict(TRADING_DEFAULTS)
    assert (config.action_mode, config.reward) == ("residual", "excess_log_return")


def test_the_options_reach_the_env_config():
    config = EnvConfig.from_dict(env_options(action_mode="residual", tilt=0.03, rebalance_rate=0.25,
                                             no_trade_band=0.01, reward="excess_log_return",
                                             train_cost_multiplier=2.0))
    assert (config.action_mode, config.tilt, config.reward, config.train_cost_multiplier) == \
        ("residual", 0.03, "excess_log_return", 2.0)
    assert (config.execution.rebalance_rate, config.execution.no_trade_band) == (0.25, 0.01)


@pytest.mark.parametrize("command", ["demo", "evaluate", "train"])
def test_help_lists_every_env_option(command):
    out = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
    for flag in FLAGS:
        assert flag in out, f"{command} --help lacks {flag}"


def test_a_finetune_refuses_env_options_it_would_ignore():
    from sacfolio.cli.train import _configs

    _, env = _configs("full", {}, {"action_mode": "softmax"})
    assert env.action_mode == "softmax"
    _configs("finetune", {}, dict(TRADING_DEFAULTS))  # the defaults are no request to change anything
    with pytest.raises(ConfigError, match="finetune trades under its parent's env settings"):
        _configs("finetune", {}, {**TRADING_DEFAULTS, "action_mode": "softmax"})
