"""Settings of the walk-forward forecaster; every field is part of the cache key."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

from sacfolio.exceptions import ConfigError
from sacfolio.features.forecast.models import LSTMForecaster, PatchTSTForecaster

__all__ = ["FORECASTERS", "ForecastConfig", "ForecasterName"]

ForecasterName = Literal["lstm", "patchtst"]
FORECASTERS: tuple[str, ...] = ("lstm", "patchtst")
"""The forecaster networks :class:`ForecastConfig` can build."""


@dataclass(frozen=True, kw_only=True)
class ForecastConfig:
    """Settings of the walk-forward forecaster (all part of the cache key).

    Attributes
    ----------
    model : {"lstm", "patchtst"}
        Network: a one-layer LSTM or a PatchTST encoder.
    lookback : int
        Weeks of past returns per input window (L).
    train_years : int
        Calendar years before Y whose decision dates give the training samples of Y.
    min_train_samples : int
        A year with fewer training samples gets no forecast (neutral, marked invalid).
    epochs : int
        Passes over the training samples of each year.
    batch_size : int
        Samples per gradient step.
    lr : float
        Adam learning rate.
    weight_decay : float
        Adam (L2) weight decay.
    dropout : float
        Dropout probability inside the network during training.
    hidden : int
        LSTM hidden size (``model="lstm"``).
    d_model, n_heads, n_layers : int
        PatchTST width, heads and encoder layers (``model="patchtst"``).
    patch_len, stride : int
        PatchTST patch length and stride.
    seed : int
        Seed of weight initialization, shuffling and dropout; year Y uses ``seed + Y``.
    """

    model: ForecasterName = "lstm"
    lookback: int = 52
    train_years: int = 5
    min_train_samples: int = 200
    epochs: int = 5
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 1e-5
    dropout: float = 0.1
    hidden: int = 32
    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 2
    patch_len: int = 8
    stride: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.model not in FORECASTERS:
            raise ConfigError(f"forecaster model={self.model!r} is unknown; choose from {list(FORECASTERS)}.")
        for name, low in (("lookback", 2), ("train_years", 1), ("min_train_samples", 1),
                          ("epochs", 1), ("batch_size", 1), ("hidden", 1), ("d_model", 1),
                          ("n_heads", 1), ("n_layers", 1), ("patch_len", 1), ("stride", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"forecast {name}={value!r} must be an integer >= {low}.")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError(f"forecast seed={self.seed!r} must be an integer.")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"forecast lr={self.lr!r} must be a finite number > 0.")
        if not (np.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"forecast weight_decay={self.weight_decay!r} must be >= 0.")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"forecast dropout={self.dropout!r} must be in [0, 1).")
        if self.patch_len > self.lookback:
            raise ConfigError(f"forecast patch_len={self.patch_len} is longer than "
                              f"lookback={self.lookback}; use a shorter patch.")
        if self.d_model % self.n_heads:
            raise ConfigError(f"forecast d_model={self.d_model} must be divisible by "
                              f"n_heads={self.n_heads}.")

    def build_network(self) -> torch.nn.Module:
        """A freshly initialized network (uses torch's global RNG; seed it first)."""
        if self.model == "lstm":
            return LSTMForecaster(hidden=self.hidden, dropout=self.dropout)
        return PatchTSTForecaster(lookback=self.lookback, patch_len=self.patch_len,
                                  stride=self.stride, d_model=self.d_model,
                                  n_heads=self.n_heads, n_layers=self.n_layers,
                                  dropout=self.dropout)

    def to_dict(self) -> dict:
        """JSON-able settings."""
        return asdict(self)
