"""Actions to portfolio weights: the env's reading of the actor's output.

An action in [-1, 1]^(N+1) is scaled to logits (``EnvConfig.logit_scale``), the
unavailable stocks are masked out of a softmax, and the broker projects the result
onto the portfolio rules (:func:`~sacfolio.broker.projection.project_weights`). The
broker knows only feasible weights; how an action becomes weights is the env's.
"""

from __future__ import annotations

import numpy as np

from sacfolio.broker.projection import checked_vector, project_weights
from sacfolio.env.config import EnvConfig

__all__ = ["action_to_weights", "masked_softmax"]


def masked_softmax(action: np.ndarray, scale: float, open_mask: np.ndarray) -> np.ndarray:
    """Softmax of ``scale * clip(action, -1, 1)`` over columns where ``open_mask`` (float 0/1) is 1.

    Logits are bounded by ``scale <= 50``, so exp() needs no max-subtraction.

    Parameters
    ----------
    action : ndarray float64, shape (..., N + 1)
    scale : float
    open_mask : ndarray float64, shape (..., N + 1) or broadcastable
        1 for tradable stocks and CASH, 0 for the others.

    Returns
    -------
    ndarray float64, same shape as ``action``; rows sum to 1.
    """
    e = np.multiply(action, scale)
    np.minimum(e, scale, out=e)
    np.maximum(e, -scale, out=e)
    np.exp(e, out=e)
    e *= open_mask
    e /= (e @ np.ones(e.shape[-1]))[..., None]
    return e


def action_to_weights(
    action: np.ndarray,
    config: EnvConfig,
    available: np.ndarray | None = None,
) -> np.ndarray:
    """Map actor outputs to feasible portfolio weights.

    ``logits = config.logit_scale * action`` (actions are clipped to [-1, 1]),
    unavailable stocks get logit -inf, softmax, then :func:`project_weights` onto
    ``config.rules``.

    Parameters
    ----------
    action : array_like of float, shape (..., N + 1)
        Actor output in [-1, 1]; the last entry is the CASH logit.
    config : EnvConfig
        Supplies ``logit_scale`` and the portfolio rules.
    available : array_like of bool, shape (..., N) or (N,), optional
        Tradable stocks (default: all).

    Returns
    -------
    ndarray of float64, shape (..., N + 1)
        Feasible weights, CASH last.
    """
    a, available = checked_vector(action, available, what="action")
    open_mask = np.concatenate(
        (available, np.ones(available.shape[:-1] + (1,), dtype=bool)), axis=-1
    ).astype(np.float64)
    soft = masked_softmax(a, config.logit_scale, open_mask)
    return project_weights(soft, config.rules, available)
