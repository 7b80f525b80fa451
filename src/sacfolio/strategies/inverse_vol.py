"""Inverse volatility: weights proportional to 1 / trailing volatility, refit on a schedule."""

from __future__ import annotations

import numpy as np

from sacfolio.strategies.refit import FitFailed, FittedStrategy

__all__ = ["InverseVolatility"]


class InverseVolatility(FittedStrategy):
    """Weights proportional to 1 / trailing ``vol_window``-week volatility (sample std)."""

    name = "inverse_volatility"

    def _window(self) -> tuple[int, int]:
        return self.schedule.vol_window, self.schedule.vol_window

    def _fit(self, returns: np.ndarray) -> np.ndarray:
        vol = returns.std(axis=0, ddof=1)
        if (vol <= 0).any():
            raise FitFailed(f"{int((vol <= 0).sum())} symbol(s) have zero volatility")
        inv = 1.0 / vol
        return inv / inv.sum()
