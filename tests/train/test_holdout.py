"""The holdout check: a model trades its tilt only when the tilt ranked returns out of sample."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.stats import spearmanr

from sacfolio.data.known_markets import known_market
from sacfolio.env.config import EnvConfig
from sacfolio.exceptions import ConfigError, EvaluationWindowError
from sacfolio.model.bundle import ModelBundle
from sacfolio.model.files import bundle_documents, load_bundle, member_file
from sacfolio.agents.config import SACConfig
from sacfolio.train.holdout import _rank_ic, ensemble_check, holdout_check, holdout_decision, pooled_record
from sacfolio.train.portfolio import PORTFOLIO_SAC, ensemble_model, train_model

RESIDUAL = EnvConfig.from_dict({"action_mode": "residual", "tilt": 1.0, "reward": "excess_log_return"})
SMALL = dataclasses.replace(PORTFOLIO_SAC, network="cross_sectional", gamma=0.0, hidden_sizes=(32, 32),
                            holdout_weeks=80)


@pytest.fixture(scope="module")
def trained():
    """One small model per market (8 stocks), trained on weeks 0-239 with weeks 160-239 held out."""
    out = {}
    for name, strength in (("ar1", 0.3), ("null", None)):
        market = known_market(name, strength=strength, seed=0, n_stocks=8, n_weeks=300)
        out[name] = (market.panel, train_model(market.panel, train_stop=240, env_config=RESIDUAL,
                                               sac_config=SMALL, steps=700, seed=0, progress=False))
    return out


def test_the_check_passes_a_learned_signal_and_holds_a_fitted_noise_at_the_benchmark(trained):
    """Measured: the AR(1) 0.3 model's holdout rank IC 0.115 (t = 2.85); the null model's 0.009 (t = 0.24)."""
    panel, model = trained["ar1"]
    check = model.bundle.holdout[0]
    assert check["trades"] and check["t"] >= 2.0 and check["ic"] > 0.05 and check["weeks"] == 80
    assert check["window"] == [str(panel.dates[160]), str(panel.dates[240])]
    assert model.bundle.train_window[1] == str(panel.dates[240])  # trained on over the whole window after
    assert model.sac_config.holdout_weeks == 80
    null_panel, null = trained["null"]
    assert not null.bundle.holdout[0]["trades"]
    core = null.bundle.core(null_panel)
    for t in (241, 260, 290):  # held at the benchmark: the zero action, bit for bit
        np.testing.assert_array_equal(null.bundle.target_weights(core, t, core.benchmark[t].copy()),
                                      core.benchmark[t])


def test_the_check_travels_with_the_model_files_and_each_ensemble_member_keeps_its_own(trained):
    panel, signal = trained["ar1"]
    closed = dataclasses.replace(signal.bundle, holdout=({**signal.bundle.holdout[0], "trades": False},))
    for bundle in (signal.bundle, ModelBundle.ensemble([signal.bundle, closed])):
        documents = bundle_documents(bundle)
        tensors = {member_file(k, "actor.pt"): b.actor.state_dict() for k, b in enumerate(bundle.members())}
        loaded = load_bundle(tensors, documents, version="v1")
        assert loaded.holdout == bundle.holdout
        assert [m.trades_tilt() for m in loaded.members()] == [c["trades"] for c in bundle.holdout]
    ensemble = ModelBundle.ensemble([signal.bundle, closed])
    core = signal.bundle.core(panel)
    obs = core.observation_at(250, core.benchmark[250])[None, :]
    half = 0.5 * (signal.bundle.policy_target(obs, panel.available[250], core.benchmark[250])
                  + core.benchmark[250])
    np.testing.assert_allclose(ensemble.policy_target(obs, panel.available[250], core.benchmark[250]), half,
                               rtol=0, atol=1e-15)


def test_a_warm_start_checks_only_the_weeks_after_its_parent_and_pools_its_record(trained):
    panel, parent = trained["ar1"]
    child = train_model(panel, train_stop=290, env_config=RESIDUAL, sac_config=SMALL, steps=80, seed=1, init=parent,
                        progress=False)
    check, before = child.bundle.holdout[0], parent.bundle.holdout[0]
    assert check["window"] == [str(panel.dates[240]), str(panel.dates[290])] and check["weeks"] == 50
    assert check["record"]["weeks"] == 130 and check["record"]["since"] == str(panel.dates[160])
    assert check["trades"] == (check["record"]["t"] >= 2.0)
    assert before["record"]["weeks"] == 80 and before["record"]["t"] == pytest.approx(before["t"])


def test_the_check_ranks_the_tilt_the_policy_asks_for_not_the_weights_the_caps_tie(trained):
    """Each week's IC is the rank IC of the policy's stock actions against next week's returns,
    walked as a backtest walks (the weights it trades are part of the state). A policy that
    asks for a strong tilt has most of its stocks tied at the cap or the floor by the
    projection, so the traded tilt (weights less the benchmark) ranks differently."""
    panel, model = trained["ar1"]
    bundle = model.bundle
    strong = dataclasses.replace(bundle, policy=lambda obs: np.tanh(20.0 * bundle.policy(obs)))
    strong_check = holdout_check(strong, panel, start=240, stop=299, min_t=2.0)
    core = strong.core(panel)
    obs = core.reset(np.array([240]), np.array([299]))
    asked, traded, ties = [], [], 0
    for t in range(240, 299):
        action = strong.policy(obs)[0, :-1]
        obs, _, _, info = core.step_weights(strong.policy_target(obs, panel.available[t], core.benchmark[t]))
        tilt = info["weights"][0, :-1] - core.benchmark[t, :-1]
        asked.append(spearmanr(action, core.returns[t + 1]).statistic)
        traded.append(spearmanr(tilt, core.returns[t + 1]).statistic)
        ties += len(tilt) - len(np.unique(tilt))
    assert strong_check["weeks"] == 59 and strong_check["ic"] == pytest.approx(np.mean(asked), abs=1e-12)
    assert ties > 59 and abs(np.mean(traded) - np.mean(asked)) > 1e-3


def test_pooling_two_checks_gives_the_statistics_of_their_weeks_together():
    ics = np.random.default_rng(3).normal(0.04, 0.2, 130)

    def check(x, since):
        return {"weeks": len(x), "ic": x.mean(), "sd": x.std(ddof=1), "t": 0.0, "window": [since, ""]}

    record = pooled_record(pooled_record(None, check(ics[:80], "a")), check(ics[80:], "b"))
    assert record["weeks"] == 130 and record["since"] == "a"
    assert record["ic"] == pytest.approx(ics.mean(), abs=1e-14)
    assert record["sd"] == pytest.approx(ics.std(ddof=1), abs=1e-12)
    assert record["t"] == pytest.approx(ics.mean() / ics.std(ddof=1) * np.sqrt(130), abs=1e-10)


@pytest.mark.parametrize(("t", "weeks", "gate", "scaled"), [
    (2.5, 52, 1.0, 1.0), (2.0, 52, 1.0, 1.0), (1.5, 52, 0.0, 0.75), (0.3, 52, 0.0, 0.15), (0.0, 52, 0.0, 0.0),
    (-1.2, 52, 0.0, 0.0), (3.0, 1, 0.0, 0.0)])
def test_gate_trades_all_or_nothing_and_scaled_sizing_trades_t_over_min_t_of_the_tilt(t, weeks, gate, scaled):
    record = {"t": t, "weeks": weeks}
    for sizing, scale in (("gate", gate), ("scaled", scaled)):
        decision = holdout_decision(record, min_t=2.0, sizing=sizing)
        assert decision == {"trades": scale > 0, "scale": pytest.approx(scale, abs=1e-15)}
    with pytest.raises(ConfigError, match="choose from"):
        holdout_decision(record, min_t=2.0, sizing="soft")


def test_scaled_sizing_changes_what_is_traded_not_what_is_learned(trained):
    """The null model's record (t 0.24) holds the benchmark under the gate; scaled, the same
    training trades 12% of the tilt: its stock weights sit 12% of the way from the benchmark
    to the full tilt's, while the projection's bounds do not bind (a small kappa)."""
    panel, gated = trained["null"]
    scaled = train_model(panel, train_stop=240, env_config=RESIDUAL, progress=False, steps=700, seed=0,
                         sac_config=dataclasses.replace(SMALL, holdout_sizing="scaled"))
    for a, b in zip(scaled.bundle.actor.state_dict().values(), gated.bundle.actor.state_dict().values()):
        assert (a == b).all()
    check, record = scaled.bundle.holdout[0], scaled.bundle.holdout[0]["record"]
    assert not gated.bundle.holdout[0]["trades"] and 0 < record["t"] < 2.0
    assert check["trades"] and check["sizing"] == "scaled" and check["scale"] == pytest.approx(record["t"] / 2.0)
    assert scaled.bundle.tilt_scale() == check["scale"] and scaled.sac_config.to_dict()["holdout_sizing"] == "scaled"
    small = dataclasses.replace(RESIDUAL, tilt=0.001)
    part, whole = (dataclasses.replace(scaled.bundle, env_config=small, holdout=(c,))
                   for c in (check, {**check, "scale": 1.0}))
    core = part.core(panel)
    for t in (241, 260, 290):
        bench = core.benchmark[t]
        moved, full = (b.target_weights(core, t, bench.copy()) - bench for b in (part, whole))
        assert np.abs(full).max() > 1e-6
        np.testing.assert_allclose(moved, check["scale"] * full, atol=1e-12)
    loaded = load_bundle({member_file(0, "actor.pt"): scaled.bundle.actor.state_dict()},
                         bundle_documents(scaled.bundle), version="v1")
    assert loaded.tilt_scale() == check["scale"]  # the share travels with the model files


def test_scaled_sizing_needs_a_positive_min_t_and_the_default_config_reads_as_before():
    with pytest.raises(ConfigError, match="must be positive"):
        SACConfig(holdout_sizing="scaled", holdout_min_t=0.0)
    with pytest.raises(ConfigError, match="gate, scaled"):
        SACConfig(holdout_sizing="soft")
    assert "holdout_sizing" not in SACConfig().to_dict()  # config.json of older models reads the same
    assert SACConfig.from_dict(SACConfig(holdout_sizing="scaled").to_dict()).holdout_sizing == "scaled"


def test_rank_ic_is_spearman_with_ties_and_none_when_flat():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, 30).astype(float), rng.normal(size=30)
    assert _rank_ic(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert _rank_ic(np.zeros(5), y[:5]) is None


def test_settings_it_cannot_check_are_refused(trained):
    panel, model = trained["ar1"]
    with pytest.raises(ConfigError, match="residual action mode"):
        train_model(panel, train_stop=240, env_config=EnvConfig(), sac_config=SMALL, steps=10, seed=0,
                    progress=False)
    with pytest.raises(EvaluationWindowError, match="keep at least a year"):
        train_model(panel, train_stop=240, env_config=RESIDUAL, sac_config=dataclasses.replace(
            SMALL, holdout_weeks=200), steps=10, seed=0, progress=False)
    with pytest.raises(ConfigError, match="residual"):
        holdout_check(dataclasses.replace(model.bundle, env_config=EnvConfig()), panel, start=200, stop=240,
                      min_t=2.0)


def test_the_pass_before_the_check_and_the_refit_log_to_separate_tensorboard_runs(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    market = known_market("ar1", strength=0.3, seed=1, n_stocks=8, n_weeks=300)
    config = dataclasses.replace(SMALL, warmup_steps=20, batch_size=16)
    train_model(market.panel, train_stop=240, env_config=RESIDUAL, sac_config=config, steps=400, seed=0,
                progress=False, log_dir=tmp_path)
    steps = {}
    for run in ("before_holdout", "."):
        events = EventAccumulator(str(tmp_path / run))
        events.Reload()
        steps[run] = [e.step for e in events.Scalars("charts/episode_return")]
    # each pass on its own curve from step 0: the first 400 steps, then the refit's 100
    assert max(steps["before_holdout"]) > 300 and 0 < max(steps["."]) <= 100


def test_a_finetune_too_short_for_a_first_pass_checks_its_parent_on_the_weeks_it_never_saw(trained):
    from sacfolio.workflows.procedures import finetune_model

    panel, parent = trained["ar1"]
    fine = finetune_model(parent, panel, stop=290, weeks=26, lr=None, description="finetune", steps=60, seed=2,
                          progress=False)
    check = fine.bundle.holdout[0]
    # the parent (trained to row 240) on rows 240..289, none of which it saw; then 60 steps on the 26 weeks
    assert check["checked"] == "parent" and check["weeks"] == 50
    assert check["window"] == [str(panel.dates[240]), str(panel.dates[290])]
    again = holdout_check(dataclasses.replace(parent.bundle, holdout=()), panel, start=240, stop=290, min_t=2.0)
    assert (check["ic"], check["t"]) == (again["ic"], again["t"])
    assert check["record"]["weeks"] == 130 and check["trades"] == (check["record"]["t"] >= 2.0)
    assert fine.train_result.n_steps == 60 and fine.bundle.train_window == (str(panel.dates[264]),
                                                                             str(panel.dates[290]))


@pytest.fixture(scope="module")
def pairs(trained):
    """Each market's model and a second seed's, trained alike: a seed ensemble of two."""
    return {name: (panel, [model, train_model(panel, train_stop=240, env_config=RESIDUAL, sac_config=SMALL,
                                              steps=700, seed=1, progress=False)])
            for name, (panel, model) in trained.items()}


def test_an_ensemble_mixing_actions_is_checked_on_its_mean_action_which_decides_for_every_member(pairs):
    """Measured: AR(1) 0.3 members t 2.85 and 2.22, their mean action 2.84; null -0.22: holds."""
    for name, trades in (("ar1", True), ("null", False)):
        panel, models = pairs[name]
        assert all(m.checked.train_window[1] == str(panel.dates[160]) for m in models)  # the first passes
        model = ensemble_model(models, mix="actions", panel=panel)
        checks, mixed = model.bundle.holdout, model.bundle.holdout[0]["ensemble"]
        again = holdout_check(ModelBundle.ensemble([m.checked for m in models], mix="actions"), panel,
                              start=160, stop=240, min_t=2.0)
        assert (mixed["ic"], mixed["t"], mixed["weeks"]) == (again["ic"], again["t"], 80)
        assert mixed["window"] == models[0].bundle.holdout[0]["window"] and mixed["record"]["weeks"] == 80
        assert mixed["trades"] is trades and [c["trades"] for c in checks] == [trades, trades]
        assert [c["member_trades"] for c in checks] == [m.bundle.holdout[0]["trades"] for m in models]
        assert [{k: c[k] for k in ("ic", "t")} for c in checks] == [
            {k: m.bundle.holdout[0][k] for k in ("ic", "t")} for m in models]  # each keeps its own figures
        # a portfolio of portfolios keeps the members' own checks: each trades or holds its part
        by_weights = ensemble_model(models, mix="weights", panel=panel)
        assert by_weights.bundle.holdout == tuple(m.bundle.holdout[0] for m in models)


def test_the_mean_actions_decision_overrules_the_members_own_both_ways(pairs):
    panel, models = pairs["ar1"]
    checked = ModelBundle.ensemble([m.checked for m in models], mix="actions")
    own = [m.bundle.holdout[0] for m in models]
    core = models[0].bundle.core(panel)
    obs = core.observation_at(250, core.benchmark[250])[None, :]
    for forced, min_t in ((False, 2.0), (True, 50.0)):  # members that held alone; a bar no check reaches
        checks = ensemble_check(checked, [{**c, "trades": forced, "min_t": min_t} for c in own], panel)
        assert [c["member_trades"] for c in checks] == [forced, forced]
        bundle = ModelBundle.ensemble([dataclasses.replace(m.bundle, holdout=(c,)) for m, c in zip(models, checks)],
                                      mix="actions")
        target = bundle.policy_target(obs, panel.available[250], core.benchmark[250])
        if min_t == 2.0:  # the mean passed: both members trade, though each held alone
            assert all(c["trades"] for c in checks)
            assert np.abs(target - core.benchmark[250]).max() > 1e-3
        else:
            assert not any(c["trades"] for c in checks)
            np.testing.assert_array_equal(target[0], core.benchmark[250])
    with pytest.raises(EvaluationWindowError, match="different weeks"):
        ensemble_check(checked, [own[0], {**own[1], "window": [str(panel.dates[100]), str(panel.dates[180])]}], panel)
    with pytest.raises(ConfigError, match="mixing actions"):
        ensemble_check(ModelBundle.ensemble([m.checked for m in models]), own, panel)


def test_scaled_sizing_of_an_ensemble_plays_the_share_of_the_mean_action_its_check_earned(pairs):
    """A bar of 4 that the mean action's t (2.84) is short of: scaled, every member plays 71% of its
    action, so the ensemble trades 71% of the mean action; each member's own figure is kept."""
    panel, models = pairs["ar1"]
    checked = ModelBundle.ensemble([m.checked for m in models], mix="actions")
    own = [{**m.bundle.holdout[0], "min_t": 4.0, "sizing": "scaled"} for m in models]
    checks = ensemble_check(checked, own, panel)
    mixed = checks[0]["ensemble"]
    assert mixed["sizing"] == "scaled" and 2.0 < mixed["record"]["t"] < 4.0
    assert all(c["trades"] and c["scale"] == pytest.approx(mixed["record"]["t"] / 4.0) for c in checks)
    assert [c["member_scale"] for c in checks] == [float(c["trades"]) for c in own]  # their checks said gate
    bundle = ModelBundle.ensemble([dataclasses.replace(m.bundle, holdout=(c,)) for m, c in zip(models, checks)],
                                  mix="actions")
    core = models[0].bundle.core(panel)
    obs = core.observation_at(250, core.benchmark[250])[None, :]
    full = np.mean([m.bundle.policy(obs) for m in models], axis=0)
    np.testing.assert_allclose(np.mean(bundle.member_actions(obs), axis=0), checks[0]["scale"] * full, atol=1e-12)


def test_the_ensembles_check_travels_with_the_files_and_a_finetune_pools_its_record(pairs):
    panel, models = pairs["ar1"]
    model = ensemble_model(models, mix="actions", panel=panel)
    documents = bundle_documents(model.bundle)
    tensors = {member_file(k, "actor.pt"): b.actor.state_dict() for k, b in enumerate(model.bundle.members())}
    loaded = load_bundle(tensors, documents, version="v1")
    assert loaded.holdout == model.bundle.holdout and loaded.ensemble_mix == "actions"
    child = train_model(panel, train_stop=290, env_config=RESIDUAL, sac_config=SMALL, steps=80, seed=1, init=model,
                        progress=False)
    mixed = child.bundle.holdout[0]["ensemble"]
    assert mixed["window"] == [str(panel.dates[240]), str(panel.dates[290])] and mixed["weeks"] == 50
    assert mixed["record"]["weeks"] == 130 and mixed["record"]["since"] == str(panel.dates[160])
    assert [c["trades"] for c in child.bundle.holdout] == [mixed["record"]["t"] >= 2.0] * 2
