"""train_and_register: full and finetune versions, parents, the gate, and round trips."""

import numpy as np
import pytest
import torch

from sacfolio.agents.config import SACConfig
from sacfolio.data import MarketPanel
from sacfolio.exceptions import ModelNotFoundError
from sacfolio.registry import Registry
from sacfolio.workflows.artifacts import bundle_from_artifacts, trained_from_artifacts
from sacfolio.workflows.registration import train_and_register

SMALL = SACConfig(warmup_steps=50, batch_size=32)


@pytest.fixture(scope="module")
def panel(recent_sample) -> MarketPanel:
    return recent_sample


def test_full_then_finetune_gives_a_child_trained_on_the_recent_window(tmp_path, panel) -> None:
    registry = Registry(tmp_path / "models")
    full = train_and_register(name="sac_price", mode="full", panel=panel, registry=registry, steps=200,
                              seed=0, sac_config=SMALL, gate_weeks=52)
    assert full.decision.promoted and registry.current("sac_price") == full.version

    fine = train_and_register(name="sac_price", mode="finetune", panel=panel, registry=registry, steps=150,
                              seed=1, finetune_weeks=26, gate_weeks=52)
    meta = registry.metadata("sac_price", fine.version)
    assert meta["parent"] == full.version
    assert meta["training"]["mode"] == "finetune"
    # Trained on the last 26 weeks only, and starting from its parent's scaler.
    assert fine.model.bundle.train_window == (str(panel.dates[-27]), str(panel.dates[-1]))
    np.testing.assert_array_equal(fine.model.bundle.scaler.mean_, full.model.bundle.scaler.mean_)
    # Both were evaluated on the same 52-week window, and the decision says which won.
    d = fine.decision
    assert d.current == full.version and d.candidate == fine.version
    assert d.promoted == (d.candidate_cagr > d.current_cagr)
    history = registry.history("sac_price")
    assert [h.get("version") for h in history][-1] == fine.version


def test_a_loaded_version_acts_bit_identically(tmp_path, panel) -> None:
    registry = Registry(tmp_path / "models")
    out = train_and_register(name="sac_price", mode="full", panel=panel, registry=registry, steps=150,
                             seed=2, sac_config=SMALL, gate_weeks=52)
    artifacts = registry.load("sac_price")
    loaded = trained_from_artifacts(artifacts)
    obs = torch.randn(16, loaded.learner.obs_dim, generator=torch.Generator().manual_seed(0))
    a = out.model.learner.actor.act(obs, deterministic=True)
    b = loaded.learner.actor.act(obs, deterministic=True)
    assert torch.equal(a, b)
    # serving's bundle (actor only, no critics or optimizers) decides exactly as the trained model
    bundle = bundle_from_artifacts(artifacts)
    assert torch.equal(bundle.actor.act(obs, deterministic=True), a)
    trained = out.model.bundle
    np.testing.assert_array_equal(bundle.target_weights(bundle.core(panel), panel.n_dates - 1),
                                  trained.target_weights(trained.core(panel), panel.n_dates - 1))


def test_finetune_without_a_current_version_and_unknown_names_are_clear_errors(tmp_path, panel) -> None:
    registry = Registry(tmp_path / "models")
    with pytest.raises(ModelNotFoundError, match="no current version"):
        train_and_register(name="sac_price", mode="finetune", panel=panel, registry=registry, steps=10, seed=0)
    with pytest.raises(ModelNotFoundError, match="unknown model"):
        train_and_register(name="sac_nope", mode="full", panel=panel, registry=registry, steps=10, seed=0)


def test_aux_heads_that_learn_pass_the_gate_and_untrained_ones_never_serve(tmp_path, panel) -> None:
    from sacfolio.exceptions import TrainingHealthError

    registry = Registry(tmp_path / "models")
    with_aux = SACConfig(warmup_steps=50, batch_size=32, aux=True, reward_scale=100.0)
    ok = train_and_register(name="sac_price", mode="full", panel=panel, registry=registry, steps=1200,
                            seed=0, sac_config=with_aux, gate_weeks=52)
    # healthy heads pass the health checks; serving also needs it to beat 1/N out of sample
    d = ok.decision
    assert d.health_problems == () and d.promoted == (d.candidate_cagr > d.baseline_cagr)
    assert registry.metadata("sac_price", ok.version)["health"]["status"] == "ok"
    before = registry.current("sac_price")

    # Seed 003: the heads exist but their loss is off, so they never train. The health
    # monitor stops the run (critical: never changed) and nothing new becomes current.
    dead = SACConfig(warmup_steps=50, batch_size=32, aux=True, aux_coef_short=0.0, aux_coef_long=0.0)
    with pytest.raises(TrainingHealthError, match="aux"):
        train_and_register(name="sac_price", mode="full", panel=panel, registry=registry, steps=1200,
                           seed=0, sac_config=dead, gate_weeks=52)
    assert registry.current("sac_price") == before and len(registry.versions("sac_price")) == 1


def test_a_model_of_another_universe_is_refused_before_anything_is_saved(tmp_path, panel) -> None:
    from sacfolio.exceptions import LayoutMismatchError
    from sacfolio.train.portfolio import train_model
    from sacfolio.workflows.gate import gate_window
    from sacfolio.workflows.registration import register_model

    registry = Registry(tmp_path / "models")
    first = train_and_register(name="sac_price", mode="full", panel=panel, registry=registry, steps=60,
                               seed=0, sac_config=SMALL, gate_weeks=52)
    fewer = MarketPanel(dates=panel.dates, symbols=panel.symbols[:10], close=panel.close[:, :10],
                        available=panel.available[:, :10])
    other = train_model(fewer, train_stop=fewer.n_dates - 1, variant="sac_price", sac_config=SMALL, steps=60,
                        seed=0, progress=False)
    with pytest.raises(LayoutMismatchError, match="another name"):
        register_model(other, name="sac_price", registry=registry, panel=fewer, window=gate_window(fewer, 52),
                       metadata={})
    assert registry.versions("sac_price") == [first.version]
    version, decision = register_model(other, name="sac_price_top10", registry=registry, panel=fewer,
                                       window=gate_window(fewer, 52), metadata={})
    # its own name: a first version there (kept, not promoted: no recorded procedure, so in-sample only)
    assert registry.versions("sac_price_top10") == [version] and decision.current is None
    assert "no out-of-sample evidence" in decision.reason
