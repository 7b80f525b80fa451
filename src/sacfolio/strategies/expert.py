"""Allocating capital across K strategies from their past returns: the meta-controller's baselines.

Each allocator is online: called at bar t with the strategies' returns of that bar (the
return of holding their previous targets from t - 1 to t, known at t), it returns the
weights (K,) on the simplex held from t to t + 1. None of them sees a later return.

* :class:`StaticWeights`: fixed weights from a config file (the fallback of paper trading);
  :class:`EqualWeights`: 1/K;
* :class:`BestRecentSharpe`: every ``every`` bars, all capital to the strategy with the best
  Sharpe ratio over the last ``lookback`` bars (FinRL's ensemble rule: switch to the agent
  with the best recent validation Sharpe);
* :class:`ExponentiatedGradient` (Helmbold, Schapire, Singer & Warmuth 1998):
  ``w <- w * exp(eta * x / (w . x))`` with gross returns ``x = 1 + r``;
* :class:`AdaHedge` (de Rooij, van Erven, Grünwald & Koolen 2014, "Follow the leader if
  you can, hedge if you must", JMLR 15): Hedge on the losses ``-r`` with the learning rate
  ``eta_t = ln K / Delta_{t-1}`` set from the cumulative mixability gap; regret against
  the best strategy ``<= 2 sqrt(L* (T - L*) ln K / T) + (16/3) ln K + 2`` for losses in
  [0, 1] (their Theorem 8), with no tuning and no knowledge of the loss range.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping, Protocol, Sequence

import numpy as np

from sacfolio.exceptions import ConfigError

__all__ = ["DEFAULT_STATIC_WEIGHTS", "AdaHedge", "BestRecentSharpe", "EqualWeights", "ExponentiatedGradient",
           "OnlineAllocator", "StaticWeights", "load_static_weights"]

DEFAULT_STATIC_WEIGHTS: Mapping[str, float] = {
    "momentum": 0.15, "mean_reversion": 0.10, "ma_crossover": 0.15, "breakout": 0.10, "vol_target": 0.10,
    "rsi": 0.05, "bollinger": 0.05, "min_variance": 0.15, "risk_parity": 0.15}
"""Static weights used when no config file gives others: a hand-set mix of the zoo."""


class OnlineAllocator(Protocol):
    """``allocator(state, returns) -> weights``; ``name`` labels it in reports."""

    name: str

    def __call__(self, state: np.ndarray, returns: np.ndarray) -> np.ndarray: ...


def load_static_weights(path: str | Path | None, strategies: Sequence[str]) -> np.ndarray:
    """Weights (K,) in ``strategies`` order from a YAML/JSON file ``{strategies: {name: weight}}``
    (or the bare mapping); default :data:`DEFAULT_STATIC_WEIGHTS` of the strategies it names
    (equal weights if it names none). Missing strategies get 0; the weights are normalized
    to sum to 1."""
    if path is None:
        table: Mapping = {k: v for k, v in DEFAULT_STATIC_WEIGHTS.items() if k in strategies}
        table = table or {k: 1.0 for k in strategies}
    else:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                doc = yaml.safe_load(text)
            else:
                doc = json.loads(text)
        except Exception as exc:  # OSError, JSON or YAML errors: each is the finding
            raise ConfigError(f"cannot read the static weights file {path}: {exc}") from exc
        table = doc.get("strategies", doc) if isinstance(doc, dict) else None
        if not isinstance(table, dict):
            raise ConfigError(f"{path} must hold {{strategies: {{name: weight, ...}}}}")
    unknown = sorted(set(table) - set(strategies))
    if unknown:
        raise ConfigError(f"static weights name unknown strategies {unknown}; the strategies are "
                          f"{', '.join(strategies)}")
    w = np.array([float(table.get(name, 0.0)) for name in strategies])
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ConfigError(f"static weights must be finite, >= 0 and not all 0, got {dict(table)}")
    return w / w.sum()


class StaticWeights:
    """The same weights every bar."""

    name = "static"

    def __init__(self, weights: np.ndarray) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or not np.isfinite(w).all() or (w < 0).any() or abs(w.sum() - 1.0) > 1e-9:
            raise ConfigError(f"static weights must be >= 0 and sum to 1, got {w}")
        self.weights = w

    def __call__(self, state: np.ndarray, returns: np.ndarray) -> np.ndarray:
        return self.weights.copy()


class EqualWeights(StaticWeights):
    name = "equal"

    def __init__(self, k: int) -> None:
        super().__init__(np.full(int(k), 1.0 / int(k)))


class BestRecentSharpe:
    """All capital to the best Sharpe ratio of the last ``lookback`` bars, re-chosen every ``every`` bars."""

    name = "best_sharpe"

    def __init__(self, k: int, *, lookback: int = 156, every: int = 78) -> None:
        if lookback < 2 or every < 1:
            raise ConfigError(f"BestRecentSharpe needs lookback >= 2 and every >= 1, got {lookback}, {every}")
        self.lookback, self.every = int(lookback), int(every)
        self.history: list[np.ndarray] = []
        self.weights = np.full(int(k), 1.0 / int(k))
        self.t = 0

    def __call__(self, state: np.ndarray, returns: np.ndarray) -> np.ndarray:
        self.history = (self.history + [np.asarray(returns, dtype=np.float64)])[-self.lookback:]
        if self.t % self.every == 0 and len(self.history) >= 2:
            r = np.stack(self.history)
            sharpe = r.mean(axis=0) / np.maximum(r.std(axis=0), 1e-12)
            self.weights = np.eye(len(sharpe))[int(np.argmax(sharpe))]
        self.t += 1
        return self.weights.copy()


class ExponentiatedGradient:
    """EG(eta) on the strategies' gross returns."""

    name = "exp_gradient"

    def __init__(self, k: int, *, eta: float = 0.05) -> None:
        if not eta > 0:
            raise ConfigError(f"ExponentiatedGradient.eta={eta} must be > 0")
        self.eta = float(eta)
        self.weights = np.full(int(k), 1.0 / int(k))

    def __call__(self, state: np.ndarray, returns: np.ndarray) -> np.ndarray:
        x = 1.0 + np.asarray(returns, dtype=np.float64)
        w = self.weights * np.exp(self.eta * x / (self.weights @ x))
        self.weights = w / w.sum()
        return self.weights.copy()


class AdaHedge:
    """AdaHedge on the losses ``-returns`` (module docstring)."""

    name = "adahedge"

    def __init__(self, k: int) -> None:
        self.k = int(k)
        self.losses = np.zeros(self.k)
        self.gap = 0.0  # Delta: cumulative mixability gap
        self.weights = np.full(self.k, 1.0 / self.k)

    def _weights(self) -> np.ndarray:
        if self.gap <= 0.0:  # eta = inf: follow the leader(s)
            leaders = self.losses == self.losses.min()
            return leaders / leaders.sum()
        eta = math.log(self.k) / self.gap
        w = np.exp(-eta * (self.losses - self.losses.min()))
        return w / w.sum()

    def update(self, loss: np.ndarray) -> None:
        """Book one round of losses (K,) against the current weights."""
        w = self.weights
        hedge = float(w @ loss)
        if self.gap <= 0.0:
            mix = float(loss[w > 0].min())
        else:
            eta = math.log(self.k) / self.gap
            low = float(loss.min())
            mix = low - math.log(float(w @ np.exp(-eta * (loss - low)))) / eta
        self.gap += max(hedge - mix, 0.0)
        self.losses += loss
        self.weights = self._weights()

    def __call__(self, state: np.ndarray, returns: np.ndarray) -> np.ndarray:
        self.update(-np.asarray(returns, dtype=np.float64))
        return self.weights.copy()
