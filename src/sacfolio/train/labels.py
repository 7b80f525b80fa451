"""Labels of the auxiliary return heads for a training env: realized future returns per row."""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
import numpy as np

from sacfolio.agents.aux import forward_returns
from sacfolio.exceptions import ConfigError

__all__ = ["aux_target_table", "row_of"]


def aux_target_table(env: gym.Env, config: Any, aux_shape: tuple[int, int] | None,
                     aux_returns: np.ndarray | None = None) -> np.ndarray | None:
    """Labels of the aux heads for every row of the env's data, or None without aux heads.

    The label of a decision at row ``t`` is the realized return of each stock over
    rows ``t+1 .. t+h`` (:func:`~sacfolio.agents.aux.forward_returns`): FUTURE
    returns, used only as training targets, never as observations. Rows after the
    env's training span (``env.unwrapped.span[1]``, when it has one) are never used,
    so labels do not leak the evaluation period; targets that would need them are
    NaN and masked.

    Parameters
    ----------
    env : gymnasium.Env
        Its ``step`` must report the decision row as ``info["t"]``.
    config : SACConfig or PPOConfig
        ``aux_horizons`` gives H.
    aux_shape : tuple of int (H, N) or None
    aux_returns : ndarray, shape (T, N), optional
        Simple returns per row; default ``env.unwrapped.core.returns``.

    Returns
    -------
    ndarray float32, shape (T, H, N), or None

    Raises
    ------
    ConfigError
        No returns available, or their width is not N.
    """
    if aux_shape is None:
        return None
    base = env.unwrapped
    if aux_returns is None:
        aux_returns = getattr(getattr(base, "core", None), "returns", None)
        if aux_returns is None:
            raise ConfigError("aux heads need the per-row returns of the env's data: pass "
                              "aux_returns=panel.simple_returns() (shape (T, N)).")
    returns = np.asarray(aux_returns, dtype=np.float64)
    if returns.ndim != 2 or returns.shape[1] != aux_shape[1]:
        raise ConfigError(f"aux_returns must have shape (T, {aux_shape[1]}) (one column per stock), "
                          f"got {returns.shape}.")
    span = getattr(base, "span", None)
    last_row = returns.shape[0] - 1 if span is None else min(int(span[1]), returns.shape[0] - 1)
    return forward_returns(returns, config.aux_horizons, last_row=last_row)


def row_of(info: Mapping[str, Any]) -> int:
    """The decision row ``info["t"]`` of a step (PortfolioEnv reports it)."""
    try:
        return int(info["t"])
    except (KeyError, TypeError) as exc:
        raise ConfigError("aux heads need the decision row in the step info (info['t'], as PortfolioEnv "
                          "reports it) to look up their return labels.") from exc
