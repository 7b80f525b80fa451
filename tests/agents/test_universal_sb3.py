"""The slot encoder inside Stable-Baselines3: SAC trains on the Dict env and `sacfolio inspect` reads it."""

from __future__ import annotations

import json

import numpy as np
import torch
from stable_baselines3 import SAC
from typer.testing import CliRunner

from sacfolio.agents.universal_sb3 import SlotFeaturesExtractor
from sacfolio.cli import app
from sacfolio.data.panel import MarketPanel
from sacfolio.env.config import TRADING_DEFAULTS, EnvConfig
from sacfolio.env.slot_env import DictSlotEnv, SlotEnv
from sacfolio.env.slots import SlotSpec
from sacfolio.strategies.zoo import ADVISORS


def _panel() -> MarketPanel:
    rng = np.random.default_rng(0)
    symbols = tuple(f"S{i}" for i in range(5))
    close = 50 * np.exp(np.cumsum(rng.normal(0.001, 0.03, (100, 5)), axis=0))
    return MarketPanel(dates=np.datetime64("2012-01-06") + 7 * np.arange(100), symbols=symbols, close=close,
                       available=np.ones((100, 5), dtype=bool))


def test_sb3_sac_trains_with_the_slot_extractor_and_sacfolio_inspect_reads_the_zip(tmp_path) -> None:
    panel = _panel()
    spec = SlotSpec(max_symbols=8, vocabulary=panel.symbols, advisors=ADVISORS[:3])
    env = DictSlotEnv(SlotEnv.from_panel(panel, spec=spec, span=(55, 99),
                                         config=EnvConfig.from_dict({**TRADING_DEFAULTS, "episode_length": 20})))
    model = SAC("MultiInputPolicy", env, learning_starts=150, batch_size=32, buffer_size=1_000, seed=0,
                policy_kwargs={"features_extractor_class": SlotFeaturesExtractor, "net_arch": [32, 32],
                               "features_extractor_kwargs": {"d_model": 8, "n_heads": 2, "ff_dim": 16}})
    model.learn(total_timesteps=200)
    extractor = model.policy.actor.features_extractor
    assert isinstance(extractor, SlotFeaturesExtractor) and extractor.padding_id == spec.padding_id
    assert (extractor.encoder.embedding.weight[spec.padding_id] == 0).all()
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert action.shape == (8 + 1 + 3,) and np.isfinite(action).all()
    with torch.no_grad():  # padded slots cannot move the extracted features
        batch = {k: torch.as_tensor(v)[None] for k, v in obs.items()}
        scrambled = {k: v.clone() for k, v in batch.items()}
        scrambled["market_features"][:, 5:] = 9.0
        assert torch.equal(extractor(batch), extractor(scrambled))
    path = tmp_path / "sb3_universal.zip"
    model.save(path)
    result = CliRunner().invoke(app, ["inspect", str(path), "--json"])
    report = json.loads(result.output)
    assert report["kind"] == "sb3_zip" and report["total_params"] > 0
    assert any("features_extractor.encoder.embedding" in row["name"] for row in report["rows"])
    assert result.exit_code == (1 if report["verdict"] == "unhealthy" else 0)
