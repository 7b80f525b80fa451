"""The shared training-loop skeleton: checks, env bookkeeping, stopping, the progress bar."""

import numpy as np
import pytest
import torch

from sacfolio.agents import SAC, SACConfig
from sacfolio.data.synthetic import drift_market
from sacfolio.env import EnvConfig, PortfolioEnv
from sacfolio.exceptions import ConfigError
from sacfolio.train.callbacks import Callback
from sacfolio.train.callbacks.progress import ProgressBar
from sacfolio.train.loop import RunOptions, TrainingRun, box_dims, flushing_denormals


def _env() -> PortfolioEnv:
    return PortfolioEnv.from_panel(drift_market(n_weeks=40, seed=0), config=EnvConfig(episode_length=5))


def _run(env, callbacks=(), **options) -> TrainingRun:
    config = SACConfig()
    return TrainingRun(env, algo="sac", config=config, learner=None, refresh_every=1,
                       build=lambda o, a: SAC(o, a, config=config, seed=0),
                       options=RunOptions(total_steps=10, seed=0, progress=False, health=None,
                                          callbacks=callbacks, **options))


class _StopAt(Callback):
    def __init__(self, at: int) -> None:
        self.at, self.episodes = at, []

    def on_update(self, learner, update, metrics):
        assert "charts/SPS" in metrics
        return update < self.at

    def on_episode_end(self, learner, step, episode_return):
        self.episodes.append((step, episode_return))


def test_options_are_checked_before_anything_is_built():
    with pytest.raises(ConfigError, match="log_every must be an int >= 1"):
        _run(_env(), log_every=0)
    assert box_dims(_env())[2:] == (None, None)


def test_steps_episodes_and_stopping_are_counted_once():
    stop = _StopAt(2)
    run = _run(_env(), callbacks=[stop])
    with run:
        assert flushing_denormals()
        for _ in range(5):
            step = run.env_step(np.zeros(run.act_dim, dtype=np.float32))
            assert step.obs.shape == (run.obs_dim,) and not step.terminated
            run.end_step(step)
        metrics = {"losses/critic": torch.zeros(())}
        assert run.after_update(metrics) and not run.after_update(metrics)
    result = run.result
    assert not flushing_denormals()
    assert result.n_steps == 5 and result.n_updates == 2 and result.stopped_early
    assert len(result.episode_returns) == 1 and stop.episodes == [(5, result.episode_returns[0])]
    assert result.nonfinite == {"skipped_updates": 0, "nonfinite_targets": 0} and result.wall_seconds > 0


def test_progress_bar_shows_metrics_every_log_every_updates():
    bar = ProgressBar("SAC", total=10, refresh_every=5, log_every=2)
    try:
        bar.on_episode_end(None, 3, 0.25)
        bar.on_update(None, 2, {"losses/critic": 0.5, "charts/alpha": 0.2, "charts/SPS": 100.0})
        info = bar._bar.tasks[0].fields["info"]
        assert "ep_return +0.2500" in info and "critic 0.5000" in info and "100 steps/s" in info
        bar.on_update(None, 3, {"losses/critic": 9.0})
        assert bar._bar.tasks[0].fields["info"] == info
        bar.advance(5)
        assert bar._bar.tasks[0].completed == 5
    finally:
        bar.close()
