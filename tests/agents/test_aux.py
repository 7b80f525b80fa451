"""Aux return heads: labels without look-ahead past the span, masked loss, validation, the disabled-loss failure."""

import numpy as np
import pytest
import torch

from sacfolio.agents import SAC, NumpyPolicy, SACConfig
from sacfolio.agents.aux import AuxReturnHeads, aux_losses, forward_returns, validate_aux
from sacfolio.agents.networks import GaussianActor
from sacfolio.data.synthetic import drift_market
from sacfolio.diagnostics.findings import HealthConfig
from sacfolio.env import EnvConfig, PortfolioEnv
from sacfolio.exceptions import ConfigError
from sacfolio.train.off_policy import train_sac

torch.set_num_threads(1)


def test_forward_returns_compound_the_next_h_rows_and_mask_what_is_unknown():
    r = np.array([[0.0, 0.0], [0.1, -0.5], [0.2, 0.0], [-0.1, 1.0], [0.05, 0.0]])
    out = forward_returns(r, (1, 2), last_row=3)
    assert out.shape == (5, 2, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0], [0.1, -0.5], rtol=1e-6)
    np.testing.assert_allclose(out[0, 1], [1.1 * 1.2 - 1, 0.5 * 1.0 - 1], rtol=1e-6)
    np.testing.assert_allclose(out[1, 1], [1.2 * 0.9 - 1, 1.0 * 2.0 - 1], rtol=1e-6)
    np.testing.assert_allclose(out[2, 0], [-0.1, 1.0], rtol=1e-6)
    # row 4 is after last_row: nothing may use it, even though it is in the array
    assert np.isnan(out[2, 1]).all() and np.isnan(out[3]).all() and np.isnan(out[4]).all()
    full = forward_returns(r, (1, 2))
    np.testing.assert_allclose(full[3, 0], [0.05, 0.0], rtol=1e-6)


def test_forward_returns_mark_only_windows_with_a_bad_return():
    r = np.zeros((6, 1))
    r[1:, 0] = 0.01
    r[3, 0] = np.nan
    out = forward_returns(r, (1, 2))[:, :, 0]
    assert np.isnan(out[2, 0]) and np.isnan(out[1, 1]) and np.isnan(out[2, 1])
    np.testing.assert_allclose([out[0, 0], out[3, 0], out[3, 1]], [0.01, 0.01, 1.01 ** 2 - 1], rtol=1e-6)
    with pytest.raises(ConfigError, match="last_row"):
        forward_returns(r, (1,), last_row=6)


def test_heads_are_bounded_and_only_requested_heads_run():
    heads = AuxReturnHeads(8, 2, 3, clip=0.5, generator=torch.Generator().manual_seed(0))
    x = 100.0 * torch.randn(32, 8)
    pred = heads(x)
    assert pred.shape == (32, 2, 3) and pred.abs().max() <= 0.5
    torch.testing.assert_close(heads(x, [1])[:, 0], pred[:, 1])


def test_masked_mse_ignores_nonfinite_targets_and_keeps_gradients_finite():
    pred = torch.tensor([[[0.1, 0.2]], [[0.3, -0.4]]], requires_grad=True)       # (B=2, K=1, N=2)
    target = torch.tensor([[[0.0, float("nan")]], [[5.0, float("inf")]]])
    losses, masked = aux_losses(pred, target, torch.tensor([0.5]), [4], clip=1.0)
    # finite targets: 0.0 and 5.0 clamped to 1.0 -> errors 0.1 and -0.7
    assert float(masked) == 2
    mse = (0.1 ** 2 + 0.7 ** 2) / 2
    torch.testing.assert_close(losses["losses/aux"], torch.tensor(0.5 * mse))
    torch.testing.assert_close(losses["charts/aux_mse_h4"], torch.tensor(mse))
    losses["losses/aux"].backward()
    assert torch.isfinite(pred.grad).all() and pred.grad[0, 0, 1] == 0 and pred.grad[1, 0, 1] == 0
    all_nan, n = aux_losses(pred, torch.full_like(target, float("nan")), torch.ones(1), [1], clip=1.0)
    assert float(all_nan["losses/aux"].detach()) == 0.0 and float(n) == 4
    # two horizons: each MSE weighted by its own coefficient
    two, _ = aux_losses(torch.zeros(3, 2, 1), torch.tensor([[[0.1], [0.2]]] * 3), torch.tensor([1.0, 10.0]),
                        [1, 4], clip=1.0)
    torch.testing.assert_close(two["losses/aux"], torch.tensor(0.01 + 10 * 0.04))


def _states(n: int = 16, dim: int = 5) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)


def test_validate_aux_names_each_problem_and_accepts_good_predictions():
    obs = _states()
    good = lambda o: np.stack([np.tanh(o[:, :2]) * 0.1, np.tanh(o[:, 2:4]) * 0.2], axis=1)  # noqa: E731
    assert validate_aux(good, obs) == []
    assert any("~zero" in p for p in validate_aux(lambda o: np.zeros((len(o), 2, 2)), obs))
    assert any("not finite" in p for p in validate_aux(lambda o: good(o) + np.nan, obs))
    assert any("outside" in p for p in validate_aux(lambda o: good(o) * 100, obs))
    constant = validate_aux(lambda o: np.full((len(o), 2, 2), 0.05), obs)
    assert len(constant) == 1 and "do not vary" in constant[0]
    assert "B >= 2" in validate_aux(good, obs[:1])[0]

    def broken(o):
        raise ConfigError("this model has no aux return heads")
    assert "no aux return heads" in validate_aux(broken, obs)[0]


def test_aux_weights_are_in_actor_state_dict_and_numpy_policy_ignores_them(tmp_path):
    cfg = SACConfig(aux=True)
    sac = SAC(9, 4, config=cfg, seed=0)
    plain = GaussianActor(9, 4, generator=torch.Generator().manual_seed(0))
    state = sac.state_dicts()["actor.pt"]
    assert {"aux.heads.0.weight", "aux.heads.1.bias"} <= set(state)
    assert state["aux.heads.0.weight"].shape == (3, 64)          # N = act_dim - 1 stocks
    # the policy's initial weights do not depend on the aux heads, and numpy ignores them
    assert all(torch.equal(v, state[k]) for k, v in plain.state_dict().items())
    obs = _states(8, 9)
    np.testing.assert_array_equal(NumpyPolicy.from_actor(sac.actor)(obs), NumpyPolicy.from_actor(plain)(obs))
    torch.save(state, tmp_path / "actor.pt")
    loaded = SAC(9, 4, config=cfg, seed=5)
    loaded.actor.load_state_dict(torch.load(tmp_path / "actor.pt", weights_only=True))
    np.testing.assert_array_equal(loaded.predict_aux(obs), sac.predict_aux(obs))
    assert sac.predict_aux(obs).shape == (8, 2, 3) and sac.predict_aux(obs[0]).shape == (2, 3)
    with pytest.raises(ConfigError, match="no aux return heads"):
        SAC(9, 4, config=SACConfig(), seed=0).predict_aux(obs)


@pytest.mark.parametrize("shared", [False, True])
def test_aux_loss_reaches_the_actor_only(shared):
    sac = SAC(9, 4, config=SACConfig(aux=True, aux_coef_short=1.0, aux_coef_long=1.0,
                                     aux_shared_trunk=shared), seed=0)
    from sacfolio.agents.buffers import ReplayBuffer

    buf = ReplayBuffer(9, 4, 64, aux_shape=sac.aux_shape)
    rng = np.random.default_rng(0)
    for _ in range(64):
        buf.add(rng.standard_normal(9), rng.uniform(-1, 1, 4), 0.0, rng.standard_normal(9), False,
                rng.normal(0, 0.05, (2, 3)))
    losses = sac.losses(buf.sample(64, torch.Generator().manual_seed(0)))
    aux = losses["losses/aux"]
    params = [*sac.actor.parameters(), *sac.critic.parameters()]
    grads = torch.autograd.grad(aux, params, allow_unused=True)
    named = [n for n, _ in sac.actor.named_parameters()] + [f"critic.{n}" for n, _ in sac.critic.named_parameters()]
    reached = {n for n, g in zip(named, grads) if g is not None and g.abs().sum() > 0}
    assert {"aux.heads.0.weight", "aux.heads.1.weight"} <= reached
    # By default the heads learn from detached features and cannot move the policy's trunk.
    assert ("trunk.0.weight" in reached) == shared
    assert not any(n.startswith(("critic.", "mean_head", "log_std_head")) for n in reached)


# ------------------------------------------------------------------ the disabled-loss failure
def _aux_run(coef_short: float, coef_long: float, steps: int = 700):
    panel = drift_market(drifts=(0.01, -0.01, 0.0), volatility=0.02, n_weeks=120, seed=0)
    env = PortfolioEnv.from_panel(panel, config=EnvConfig(episode_length=26))
    cfg = SACConfig(aux=True, aux_coef_short=coef_short, aux_coef_long=coef_long, warmup_steps=50,
                    batch_size=32, buffer_size=1000, reward_scale=100.0)
    health = HealthConfig(every=200, never_changed_after=200, policy="warn")
    result = train_sac(env, config=cfg, total_steps=steps, seed=0, progress=False, health=health,
                       aux_returns=panel.simple_returns())
    obs = np.stack([env.core.observation_at(t, np.eye(4)[t % 4]) for t in range(5, 110, 3)])
    return result, obs


def _never_changed(result) -> set[str]:
    return {f["tensor"] for f in result.health["findings"] if f["kind"] == "never_changed"}


def test_aux_heads_with_disabled_loss_are_flagged_never_changed():
    result, _ = _aux_run(0.0, 0.0)
    assert result.health["status"] == "critical"
    assert _never_changed(result) == {f"actor.aux.heads.{h}.{p}" for h in (0, 1) for p in ("weight", "bias")}
    one_off, _ = _aux_run(0.01, 0.0, steps=400)
    assert _never_changed(one_off) == {"actor.aux.heads.1.weight", "actor.aux.heads.1.bias"}


def test_trained_aux_heads_pass_validation():
    result, obs = _aux_run(0.01, 0.01)
    assert result.health["status"] in ("ok", "warn") and not _never_changed(result)
    pred = result.learner.predict_aux(obs)
    assert np.isfinite(pred).all() and np.abs(pred).max() <= 1.0
    assert validate_aux(result.learner.predict_aux, obs) == []
