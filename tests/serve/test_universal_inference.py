"""A universal model trained on the sample's 20 stocks serves other universes through the API."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from sacfolio.broker.rules import PortfolioRules
from sacfolio.env.config import TRADING_DEFAULTS, EnvConfig
from sacfolio.model.files import load_bundle
from sacfolio.registry import Registry
from sacfolio.serve.app import create_app
from sacfolio.serve.settings import ServeSettings
from sacfolio.strategies.zoo import ADVISORS
from sacfolio.train.portfolio import PORTFOLIO_SAC, train_model
from sacfolio.workflows.artifacts import to_artifacts, trained_from_artifacts

NAME = "universal_s32"


@pytest.fixture(scope="module")
def served(recent_sample, tmp_path_factory):
    """A registry with a (briefly) trained universal model, and a price file whose last
    column is a stock the model never saw."""
    panel = recent_sample
    env = EnvConfig.from_dict({**TRADING_DEFAULTS, "episode_length": 20})
    sac = dataclasses.replace(PORTFOLIO_SAC, warmup_steps=16, batch_size=16)
    model = train_model(panel, train_stop=panel.n_dates - 60, variant="universal", env_config=env, sac_config=sac,
                        steps=24, seed=0, progress=False)
    home = tmp_path_factory.mktemp("universal") / "models"
    registry = Registry(home)
    version = registry.save(NAME, to_artifacts(model, metadata={"training": {"mode": "test"}}))
    registry.set_current(NAME, version)
    frame = panel.to_frame().iloc[:, :16].copy()
    frame.columns = [*frame.columns[:15], "NEWCO"]
    prices = home.parent / "prices.csv"
    frame.rename_axis("date").reset_index().to_csv(prices, index=False)
    return model, registry, version, prices, panel


def _check(weights: dict[str, float], symbols: list[str]) -> None:
    rules = PortfolioRules()
    assert list(weights) == [*symbols, "CASH"]
    w = np.array(list(weights.values()))
    assert abs(w.sum() - 1) < 1e-9 and (w >= 0).all()
    assert w[-1] >= rules.cash_floor - 1e-12 and (w[:-1] <= rules.max_weight + 1e-12).all()


def test_a_saved_universal_model_loads_and_decides_as_trained(served) -> None:
    model, registry, version, _, panel = served
    artifacts = registry.load(NAME, version)
    bundle = load_bundle(artifacts.tensors, artifacts.documents, artifacts.metadata)
    t = panel.n_dates - 10
    a, mix_a = model.bundle.decide_at(model.bundle.core(panel), t)
    b, mix_b = bundle.decide_at(bundle.core(panel), t)
    assert np.array_equal(a, b) and np.array_equal(mix_a, mix_b)
    assert artifacts.documents["config.json"]["slots"]["max_symbols"] == 32
    learner = trained_from_artifacts(artifacts).learner  # finetuning restores the critics too
    for name, tensor in model.learner.critic.state_dict().items():
        assert torch.equal(tensor, learner.critic.state_dict()[name])


def test_inference_serves_a_subset_and_an_unseen_symbol_without_retraining(served, tmp_path) -> None:
    _, registry, version, prices, panel = served
    settings = ServeSettings(home=str(registry.root), jobs_db=tmp_path / "jobs.sqlite3", schedule=[],
                             models=[NAME], reports_dir=None, data_path=prices)
    subset = list(panel.symbols[:15])
    with TestClient(create_app(settings)) as client:
        whole = client.post(f"/inference/{NAME}").json()          # the file's 15 known + NEWCO
        assert whole["source"] == "model" and whole["version"] == version, whole
        _check(whole["weights"], [*subset, "NEWCO"])
        part = client.post(f"/inference/{NAME}", json={"symbols": subset[:14] + ["NEWCO"]}).json()
        _check(part["weights"], subset[:14] + ["NEWCO"])
        decision = client.post(f"/decision/{NAME}", json={"symbols": subset[3:]}).json()
        _check(decision["weights"], subset[3:])
        assert list(decision["advisors"]) == list(ADVISORS) and abs(sum(decision["advisors"].values()) - 1) < 1e-9
        bad = client.post(f"/inference/{NAME}", json={"symbols": ["NOPE", "AAPL"]})
        assert bad.status_code == 422 and "NOPE" in bad.json()["detail"]
