"""The gate on real trained models: out-of-sample evidence only, never a model that did not train."""

import pytest

from sacfolio.agents.config import SACConfig
from sacfolio.evaluate.metrics import cagr
from sacfolio.evaluate.walkforward import backtest_model
from sacfolio.registry import Registry
from sacfolio.train.portfolio import train_model
from sacfolio.workflows.gate import gate_window
from sacfolio.workflows.registration import register_model, train_and_register

SMALL = SACConfig(warmup_steps=50, batch_size=32)


def test_a_one_step_model_is_never_promoted_over_a_trained_one(tmp_path, recent_sample) -> None:
    registry = Registry(tmp_path / "models")
    trained = train_and_register(name="sac_price", mode="full", panel=recent_sample, registry=registry,
                                 steps=150, seed=0, sac_config=SMALL, gate_weeks=52, force_reason="test start")
    one = train_and_register(name="sac_price", mode="full", panel=recent_sample, registry=registry, steps=1,
                             seed=1, sac_config=SMALL, gate_weeks=52)
    assert registry.metadata("sac_price", one.version)["training"]["updates"] == 0
    assert not one.decision.promoted and "training made no updates" in one.decision.reason
    assert registry.current("sac_price") == trained.version
    # and as a first version: kept, never serving
    alone = train_and_register(name="sac_price_alone", mode="full", panel=recent_sample, registry=registry,
                               steps=1, seed=1, sac_config=SMALL, gate_weeks=52)
    assert not alone.decision.promoted and registry.current("sac_price_alone") is None


def test_a_candidate_scored_only_in_sample_is_never_promoted(tmp_path, recent_sample) -> None:
    registry = Registry(tmp_path / "models")
    model = train_model(recent_sample, train_stop=recent_sample.n_dates - 1, sac_config=SMALL, steps=120,
                        seed=0, progress=False)
    # no recorded procedure: the only score is a backtest on weeks it trained on
    version, decision = register_model(model, name="sac_price", registry=registry, panel=recent_sample,
                                       window=gate_window(recent_sample, 52), metadata={})
    assert decision.candidate_in_sample_weeks == 52
    assert not decision.promoted and "no out-of-sample evidence" in decision.reason
    assert registry.current("sac_price") is None and registry.versions("sac_price") == [version]


def test_a_full_model_is_scored_by_its_procedure_refit_before_the_window(tmp_path, recent_sample) -> None:
    registry = Registry(tmp_path / "models")
    out = train_and_register(name="sac_price", mode="full", panel=recent_sample, registry=registry,
                             steps=120, seed=3, sac_config=SMALL, gate_weeks=52)
    d = out.decision
    window = gate_window(recent_sample, 52)
    fold = train_model(recent_sample, train_stop=window.test_start, sac_config=SMALL, steps=120, seed=3,
                       progress=False)
    expected = backtest_model(fold.bundle, recent_sample, window).returns
    assert d.candidate_in_sample_weeks == 0 and "walk-forward" in d.window["description"]
    assert d.candidate_cagr == pytest.approx(cagr(expected), rel=1e-12)
    assert d.baseline_cagr is not None
    assert d.promoted == (d.candidate_cagr > d.baseline_cagr)
