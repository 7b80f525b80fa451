"""train_sac on real envs: seeding, callbacks, checkpoints, TensorBoard, and learning."""

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from sacfolio.agents import SAC, NumpyPolicy, SACConfig
from sacfolio.data import load_sp500_sample
from sacfolio.data.synthetic import drift_market
from sacfolio.env import EnvConfig, PortfolioEnv
from sacfolio.exceptions import ConfigError, CorruptArtifactError
from sacfolio.train.callbacks import Callback
from sacfolio.train.callbacks.checkpoint import CheckpointCallback, read_checkpoint
from sacfolio.train.loop import TrainResult
from sacfolio.train.off_policy import train_sac

from _policy_rollout import rollout_weights

SMALL = SACConfig(warmup_steps=20, batch_size=16, buffer_size=500)


def _drift_env(**market) -> PortfolioEnv:
    panel = drift_market(**{"n_weeks": 80, "seed": 0, **market})
    return PortfolioEnv.from_panel(panel, config=EnvConfig(episode_length=26))


class _RewardLog(gym.Wrapper):
    """Records every reward the trainer received, to check its episode bookkeeping."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.episodes: list[list[float]] = [[]]

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.episodes[-1].append(float(reward))
        if terminated or truncated:
            self.episodes.append([])
        return obs, reward, terminated, truncated, info


class _Recorder(Callback):
    def __init__(self, stop_after: int | None = None) -> None:
        self.stop_after, self.events, self.updates, self.returns = stop_after, [], [], []

    def on_training_start(self, learner, total_updates):
        self.events.append(("start", total_updates))

    def on_update(self, learner, update, metrics):
        self.updates.append(update)
        assert np.isfinite(float(metrics["losses/critic"]))
        return self.stop_after is None or update < self.stop_after

    def on_episode_end(self, learner, step, episode_return):
        self.returns.append(episode_return)

    def on_training_end(self, learner):
        self.events.append(("end", learner))


def _weights(result: TrainResult) -> dict[str, torch.Tensor]:
    return {f"{name}/{k}": v for name, sd in result.learner.state_dicts().items() for k, v in sd.items()}


def test_same_seed_gives_bit_identical_weights_and_other_seed_does_not():
    a = train_sac(_drift_env(), config=SMALL, total_steps=150, seed=3, progress=False)
    b = train_sac(_drift_env(), config=SMALL, total_steps=150, seed=3, progress=False)
    c = train_sac(_drift_env(), config=SMALL, total_steps=150, seed=4, progress=False)
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a.episode_returns == b.episode_returns
    assert not torch.equal(wa["actor.pt/mean_head.weight"], wc["actor.pt/mean_head.weight"])


def test_loop_counts_episodes_updates_and_callbacks():
    env = _RewardLog(_drift_env())
    rec = _Recorder()
    cfg = SACConfig(warmup_steps=30, batch_size=16, buffer_size=500, updates_per_step=2)
    result = train_sac(env, config=cfg, total_steps=130, seed=0, callbacks=[rec], progress=False)
    assert result.n_steps == 130 and result.n_updates == 2 * (130 - 30)
    assert rec.updates == list(range(1, result.n_updates + 1))
    assert rec.events == [("start", 200), ("end", result.learner)]
    # episodes of 26 steps: 5 finished in 130 steps, returns are the summed rewards
    assert len(result.episode_returns) == 5 == len(rec.returns)
    np.testing.assert_allclose(result.episode_returns, [sum(e) for e in env.episodes[:5]])
    assert result.learner.n_updates == result.n_updates
    assert not result.stopped_early and result.wall_seconds > 0 and result.steps_per_second > 0


def test_callback_returning_false_stops_training():
    rec = _Recorder(stop_after=25)
    result = train_sac(_drift_env(), config=SMALL, total_steps=400, seed=0, callbacks=[rec], progress=False)
    assert result.stopped_early and result.n_updates == 25
    assert result.n_steps == SMALL.warmup_steps + 25
    assert rec.events[-1][0] == "end"


def test_checkpoints_reload_into_identical_policy(tmp_path: Path):
    ckpt = CheckpointCallback(tmp_path / "ckpt", every=40)
    result = train_sac(_drift_env(), config=SMALL, total_steps=120, seed=1, callbacks=[ckpt],
                       progress=False)
    assert [p.name for p in ckpt.saved] == ["update_00000040", "update_00000080", "update_00000100"]
    assert not list((tmp_path / "ckpt").glob(".*"))  # no temporary directories left
    fresh = SAC(result.learner.obs_dim, result.learner.act_dim, config=SMALL, seed=99)
    fresh.load_state_dicts(read_checkpoint(ckpt.saved[-1]))
    obs = torch.randn(8, result.learner.obs_dim)
    assert torch.equal(fresh.actor.act(obs), result.learner.actor.act(obs))
    assert fresh.alpha == result.learner.alpha
    (ckpt.saved[0] / "critic.pt").unlink()
    with pytest.raises(CorruptArtifactError, match="critic.pt"):
        read_checkpoint(ckpt.saved[0])


def test_tensorboard_scalars_and_progress_bar(tmp_path: Path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train_sac(_drift_env(), config=SMALL, total_steps=100, seed=0, progress=True,
              log_dir=tmp_path / "tb", description="tb-run", log_every=10)
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"losses/critic", "losses/actor", "losses/alpha", "charts/alpha", "charts/entropy",
            "charts/q_mean", "charts/episode_return", "charts/SPS"} <= tags
    assert [e.step for e in events.Scalars("losses/critic")] == list(range(10, 81, 10))
    assert "tb-run" in capsys.readouterr().out


def test_actions_are_rescaled_to_the_env_bounds():
    env = gym.make("Pendulum-v1")  # action box [-2, 2]
    seen = []

    class Bounds(gym.Wrapper):
        def step(self, action):
            seen.append(np.asarray(action).copy())
            return self.env.step(action)

    train_sac(Bounds(env), config=SMALL, total_steps=300, seed=0, progress=False)
    seen_arr = np.concatenate(seen)
    assert seen_arr.min() >= -2.0 and seen_arr.max() <= 2.0 and np.abs(seen_arr).max() > 1.0


def test_bad_arguments_raise_config_error():
    with pytest.raises(ConfigError, match="total_steps"):
        train_sac(_drift_env(), total_steps=0, seed=0, progress=False)
    with pytest.raises(ConfigError, match="Box"):
        train_sac(gym.make("CartPole-v1"), total_steps=10, seed=0, progress=False)
    with pytest.raises(ConfigError, match="every"):
        CheckpointCallback("x", every=0)


def _assert_feasible(weights: np.ndarray, cfg: EnvConfig) -> None:
    assert np.isfinite(weights).all()
    assert (weights >= -1e-12).all()
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-9)
    assert (weights[:, :-1] <= cfg.rules.max_weight + 1e-9).all()
    assert (weights[:, -1] >= cfg.rules.cash_floor - 1e-9).all()


def test_integration_2000_steps_on_two_years_of_sp500():
    panel = load_sp500_sample(start="2019-01-01", end="2020-12-31")
    cfg = EnvConfig()
    env = PortfolioEnv.from_panel(panel, config=cfg)
    result = train_sac(env, config=SACConfig(), total_steps=2000, seed=0, progress=False)
    assert result.n_updates == 2000 - SACConfig().warmup_steps
    for name, sd in result.learner.state_dicts().items():
        for key, tensor in sd.items():
            assert torch.isfinite(tensor).all(), f"{name}:{key}"
    weights = rollout_weights(env, NumpyPolicy.from_actor(result.learner.policy()), range(2))
    assert weights.shape == (2 * cfg.episode_length, panel.n_symbols + 1)
    _assert_feasible(weights, cfg)


@pytest.mark.slow
def test_learns_to_hold_the_rising_asset_and_avoid_the_falling_one():
    # UP drifts +1%/week, DOWN -1%/week, FLAT 0, noise 0.5%. The best action does not
    # depend on the state, so a short discount suffices; rewards (~1e-3) are scaled by 100
    # and the temperature starts low so the entropy bonus does not swamp them.
    panel = drift_market(drifts=(0.01, -0.01, 0.0), volatility=0.005, n_weeks=260, seed=0,
                         symbols=("UP", "DOWN", "FLAT"))
    cfg = EnvConfig(episode_length=52)
    env = PortfolioEnv.from_panel(panel, config=cfg)
    sac_cfg = SACConfig(reward_scale=100.0, init_alpha=0.02, gamma=0.5)
    result = train_sac(env, config=sac_cfg, total_steps=6000, seed=0, progress=False)
    weights = rollout_weights(env, NumpyPolicy.from_actor(result.learner.policy()), range(100, 103))
    _assert_feasible(weights, cfg)
    up, down = weights[:, panel.symbols.index("UP")], weights[:, panel.symbols.index("DOWN")]
    assert up.mean() >= 0.18, f"UP held at {up.mean():.3f} on average, cap is 0.20"
    assert down.mean() <= 0.05, f"DOWN held at {down.mean():.3f} on average"


def test_fine_tuning_continues_the_given_learner():
    first = train_sac(_drift_env(), config=SMALL, total_steps=100, seed=0, progress=False)
    before = first.learner.actor.state_dict()["mean_head.weight"].clone()
    again = train_sac(_drift_env(), config=SMALL, total_steps=60, seed=1, progress=False,
                      learner=first.learner)
    assert again.learner is first.learner
    assert again.n_updates == 60 - SMALL.warmup_steps
    assert first.learner.n_updates == (100 - SMALL.warmup_steps) + again.n_updates
    assert not torch.equal(before, first.learner.actor.state_dict()["mean_head.weight"])
    other = SAC(5, 2, config=SMALL, seed=0)
    with pytest.raises(ConfigError, match="obs_dim=5"):
        train_sac(_drift_env(), config=SMALL, total_steps=10, seed=0, progress=False, learner=other)


# ------------------------------------------------------------------ guard rails
from sacfolio.exceptions import TrainingHealthError, UnsafeLearningRateError  # noqa: E402
from sacfolio.diagnostics.findings import HealthConfig  # noqa: E402


def test_health_monitor_runs_by_default_and_its_summary_is_returned():
    result = train_sac(_drift_env(), config=SMALL, total_steps=140, seed=0, progress=False,
                       health=HealthConfig(every=40, never_changed_after=40))
    assert result.health["status"] in ("ok", "warn") and result.health["checks"] == 3  # 40, 80, 120
    assert result.health["last"]["update"] == 120
    assert result.nonfinite == {"skipped_updates": 0, "nonfinite_targets": 0}
    default = train_sac(_drift_env(), config=SMALL, total_steps=60, seed=0, progress=False)
    assert default.health["checks"] == 1 and default.health["status"] == "ok"  # final report
    assert train_sac(_drift_env(), config=SMALL, total_steps=60, seed=0, progress=False, health=None).health == {}


def test_unsafe_learning_rates_are_refused_before_anything_runs():
    env = _RewardLog(_drift_env())
    with pytest.raises(UnsafeLearningRateError, match="5e-03|0.005"):
        train_sac(env, config=SACConfig(critic_lr=5e-3), total_steps=50, seed=0, progress=False)
    assert env.episodes == [[]]  # not a single step was taken
    cfg = SACConfig(warmup_steps=20, batch_size=16, buffer_size=500, actor_lr=5e-4)
    warned = train_sac(_drift_env(), config=cfg, total_steps=40, seed=0, progress=False)
    assert len(warned.lr_warnings) == 1 and "actor" in warned.lr_warnings[0]
    forced = train_sac(_drift_env(), total_steps=40, seed=0, progress=False,
                       config=SACConfig(warmup_steps=20, batch_size=16, buffer_size=500, critic_lr=5e-3,
                                        allow_unsafe_lr=True))
    assert forced.n_updates == 20 and "allowed" in forced.lr_warnings[0]


class _ZeroActorBiases(Callback):
    """A dead-actor failure injected mid-run: every actor bias set to exactly zero."""

    def on_update(self, learner, update, metrics):
        if update == 40:  # just before the monitor (added after user callbacks) checks
            with torch.no_grad():
                for layer in learner.actor.linears():
                    layer.bias.zero_()
        return True


def test_health_stop_raises_and_writes_a_diagnostic_checkpoint(tmp_path: Path):
    with pytest.raises(TrainingHealthError, match="update 40.*dead in actor") as err:
        train_sac(_drift_env(), config=SMALL, total_steps=300, seed=0, progress=False,
                  callbacks=[_ZeroActorBiases()], health=HealthConfig(every=40),
                  diagnostic_dir=tmp_path / "diag")
    saved = tmp_path / "diag" / "health-stop-update-00000040"
    assert str(saved) in str(err.value) and (saved / "actor.pt").is_file()
    report = json.loads((saved / "health_report.json").read_text())
    assert report["status"] == "critical"


class _Corrupt(gym.Wrapper):
    """Returns a NaN reward every ``reward_every`` steps, NaN observations after ``obs_after``."""

    def __init__(self, env, reward_every: int = 0, obs_after: int | None = None):
        super().__init__(env)
        self.reward_every, self.obs_after, self.n = reward_every, obs_after, 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(np.nan_to_num(action))
        self.n += 1
        if self.reward_every and self.n % self.reward_every == 0:
            reward = float("nan")
        if self.obs_after is not None and self.n > self.obs_after:
            obs = np.full_like(obs, np.nan)
        return obs, reward, terminated, truncated, info


def test_nan_rewards_are_masked_and_training_stays_finite():
    result = train_sac(_Corrupt(_drift_env(), reward_every=7), config=SMALL, total_steps=200, seed=0,
                       progress=False, health=HealthConfig(every=50, never_changed_after=50))
    assert result.nonfinite["nonfinite_targets"] > 0 and result.nonfinite["skipped_updates"] == 0
    assert result.health["status"] in ("ok", "warn")
    for sd in result.learner.state_dicts().values():
        assert all(torch.isfinite(t).all() for t in sd.values())


def test_nan_observations_stop_the_run_past_max_nonfinite_skips():
    cfg = SACConfig(warmup_steps=20, batch_size=16, buffer_size=500, max_nonfinite_skips=5)
    with pytest.raises(TrainingHealthError, match="max_nonfinite_skips=5"):
        train_sac(_Corrupt(_drift_env(), obs_after=25), config=cfg, total_steps=400, seed=0,
                  progress=False, log_every=10)


def test_aux_labels_never_read_returns_after_the_training_span():
    panel = drift_market(n_weeks=80, seed=0)
    cfg = SACConfig(warmup_steps=20, batch_size=16, buffer_size=500, aux=True, aux_coef_short=1.0,
                    aux_coef_long=1.0)

    def run(returns: np.ndarray) -> dict[str, torch.Tensor]:
        env = PortfolioEnv.from_panel(panel, config=EnvConfig(episode_length=26), span=(0, 60))
        return _weights(train_sac(env, config=cfg, total_steps=120, seed=0, progress=False,
                                  aux_returns=returns))

    returns = panel.simple_returns()
    after = returns.copy()
    after[61:] = 0.5                    # the evaluation period: must not matter
    inside = returns.copy()
    inside[40:58] += 0.05               # the training period: must matter (the test can fail)
    base, leaked, moved = run(returns), run(after), run(inside)
    assert all(torch.equal(base[k], leaked[k]) for k in base)
    assert not torch.equal(base["actor.pt/aux.heads.0.weight"], moved["actor.pt/aux.heads.0.weight"])


class _NoMarket(gym.Env):
    """A Box env with three actions and no market data behind it."""

    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(4,))
    action_space = gym.spaces.Box(-1.0, 1.0, shape=(3,))

    def reset(self, *, seed=None, options=None):
        return np.zeros(4, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(4, dtype=np.float32), 0.0, False, False, {}


def test_aux_heads_need_return_labels():
    with pytest.raises(ConfigError, match="aux_returns"):
        train_sac(_NoMarket(), config=SACConfig(aux=True), total_steps=10, seed=0, progress=False)
    with pytest.raises(ConfigError, match="at least one asset"):
        train_sac(gym.make("Pendulum-v1"), config=SACConfig(aux=True), total_steps=10, seed=0, progress=False)
    with pytest.raises(ConfigError, match=r"info\['t'\]"):
        train_sac(_NoMarket(), config=SACConfig(aux=True), total_steps=10, seed=0, progress=False,
                  aux_returns=np.zeros((5, 2)))
    with pytest.raises(ConfigError, match=r"shape \(T, 3\)"):
        train_sac(_drift_env(), config=SACConfig(aux=True), total_steps=10, seed=0, progress=False,
                  aux_returns=np.zeros((80, 2)))


def test_health_goes_to_progress_bar_and_tensorboard(tmp_path: Path, capsys, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("COLUMNS", "240")

    train_sac(_drift_env(), config=SMALL, total_steps=100, seed=0, progress=True, log_dir=tmp_path / "tb",
              log_every=10, health=HealthConfig(every=20, never_changed_after=20))
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"health/status", "health/max_zero_fraction", "charts/skipped_updates", "losses/critic"} <= tags
    assert [e.step for e in events.Scalars("health/status")][:4] == [20, 40, 60, 80]
    assert "health ok at update 80" in capsys.readouterr().out.replace("\n", "")


def test_training_restores_the_callers_denormal_setting() -> None:
    """Training flushes denormals for speed but must not leave the process changed."""
    import gymnasium as gym

    from sacfolio.train.loop import flushing_denormals
    from sacfolio.train.off_policy import train_sac

    assert not flushing_denormals()
    train_sac(gym.make("Pendulum-v1"), config=SACConfig(warmup_steps=10, batch_size=8), total_steps=20,
              seed=0, progress=False, health=None)
    assert not flushing_denormals()
