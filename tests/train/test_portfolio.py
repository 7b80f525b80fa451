"""train_model: the training sees nothing after its cutoff, and a model applies to new data."""

import numpy as np
import pytest
import torch

from sacfolio.agents.config import SACConfig
from sacfolio.data import MarketPanel
from sacfolio.env.config import EnvConfig
from sacfolio.exceptions import EvaluationWindowError, LayoutMismatchError
from sacfolio.train.portfolio import train_model

SMALL = SACConfig(warmup_steps=50, batch_size=32)


@pytest.fixture(scope="module")
def panel(recent_sample) -> MarketPanel:
    return recent_sample


def _perturb_after(panel: MarketPanel, row: int, seed: int = 1) -> MarketPanel:
    """The same panel with every price after ``row`` replaced by noise."""
    close = panel.close.copy()
    rng = np.random.default_rng(seed)
    close[row + 1:] *= rng.uniform(0.5, 2.0, size=close[row + 1:].shape)
    return MarketPanel(dates=panel.dates, symbols=panel.symbols, close=close,
                       available=panel.available, source="perturbed")


def test_training_is_bit_identical_when_prices_after_the_cutoff_change(panel: MarketPanel) -> None:
    stop = 200
    kwargs = dict(train_stop=stop, sac_config=SMALL, steps=300, seed=3, progress=False)
    a = train_model(panel, **kwargs)
    b = train_model(_perturb_after(panel, stop), **kwargs)
    for name, state in a.learner.state_dicts().items():
        for key, tensor in state.items():
            assert torch.equal(tensor, b.learner.state_dicts()[name][key]), (name, key)
    np.testing.assert_array_equal(a.bundle.scaler.mean_, b.bundle.scaler.mean_)
    assert a.bundle.train_window == (str(panel.dates[0]), str(panel.dates[stop]))


def test_a_trained_model_gives_feasible_weights_at_the_last_row(panel: MarketPanel) -> None:
    model = train_model(panel, train_stop=150, sac_config=SMALL, steps=200, seed=0, progress=False)
    core = model.bundle.core(panel)
    w = model.bundle.target_weights(core, panel.n_dates - 1)
    assert w.shape == (panel.n_symbols + 1,)
    assert abs(w.sum() - 1.0) < 1e-9 and (w >= -1e-12).all()
    assert w[-1] >= 0.02 - 1e-9 and (w[:-1] <= 0.20 + 1e-9).all()


def test_model_refuses_data_with_other_symbols(panel: MarketPanel) -> None:
    model = train_model(panel, train_stop=150, sac_config=SMALL, steps=120, seed=0, progress=False)
    other = MarketPanel(dates=panel.dates, symbols=tuple(reversed(panel.symbols)),
                        close=panel.close[:, ::-1], available=panel.available[:, ::-1])
    with pytest.raises(LayoutMismatchError, match="misaligned"):
        model.bundle.core(other)


def test_a_training_span_shorter_than_an_episode_is_a_clear_error(panel: MarketPanel) -> None:
    with pytest.raises(EvaluationWindowError, match="fewer than one episode"):
        train_model(panel, train_stop=30, env_config=EnvConfig(episode_length=52), steps=10, seed=0,
                    progress=False)
