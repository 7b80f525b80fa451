"""Paired circular block bootstrap of a difference in a performance statistic.

Two strategies backtested over the same weeks share the market's shocks, so their
returns are resampled *together*: every bootstrap sample draws one set of block
start weeks and applies it to both series (Politis & Romano's circular block
bootstrap, blocks wrap around the end). The interval is the percentile interval of
``stat(a*) - stat(b*)`` over the samples; it answers "is the agent's edge over 1/N
more than noise?" and, in the promotion gate, the same for CAGR.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sacfolio.exceptions import ConfigError

__all__ = ["Interval", "block_indices", "paired_block_bootstrap", "verdict"]

Statistic = Callable[[np.ndarray], "float | np.ndarray"]
"""A metric that reduces the last axis: ``(B, S) -> (B,)`` (see :mod:`.metrics`)."""


@dataclass(frozen=True, kw_only=True)
class Interval:
    """Bootstrap interval of ``stat(a) - stat(b)``.

    Attributes
    ----------
    low, high : float
        Percentile bounds at ``level`` (two-sided).
    point : float
        ``stat(a) - stat(b)`` on the original series.
    level : float
        Coverage, e.g. 0.90.
    n_boot : int
        Samples drawn.
    n_valid : int
        Samples whose difference was finite (a flat resample has an undefined Sharpe).
    block : int
        Block length in periods.
    seed : int
        Seed of the draw.
    """

    low: float
    high: float
    point: float
    level: float
    n_boot: int
    n_valid: int
    block: int
    seed: int

    @property
    def excludes_zero(self) -> bool:
        """True when the whole interval lies strictly on one side of 0."""
        return self.low > 0.0 or self.high < 0.0

    def as_dict(self) -> dict[str, float | int | str]:
        """JSON-ready mapping including the :func:`verdict`."""
        return {"low": self.low, "high": self.high, "point": self.point, "level": self.level,
                "n_boot": self.n_boot, "n_valid": self.n_valid, "block": self.block,
                "seed": self.seed, "verdict": verdict(self)}


def verdict(interval: Interval) -> str:
    """Plain-words reading of an interval of ``stat(agent) - stat(baseline)``.

    Returns
    -------
    str
        ``"edge beyond noise"`` when the interval lies above 0, ``"shortfall beyond
        noise"`` when it lies below 0, ``"within noise"`` when it contains 0.
    """
    if interval.low > 0.0:
        return "edge beyond noise"
    if interval.high < 0.0:
        return "shortfall beyond noise"
    return "within noise"


def block_indices(n_periods: int, *, block: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Circular block resampling indices.

    Parameters
    ----------
    n_periods : int
        Length S of the series.
    block : int
        Block length; ``ceil(S / block)`` blocks are drawn and the tail is cut to S.
    n_boot : int
        Number of samples B.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int64, shape (B, S)
        Row b lists the periods of sample b, consecutive inside each block, wrapping
        from S - 1 to 0.
    """
    n_blocks = -(-n_periods // block)
    starts = rng.integers(0, n_periods, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)) % n_periods
    return idx.reshape(n_boot, n_blocks * block)[:, :n_periods]


def paired_block_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    stat: Statistic,
    *,
    block: int = 4,
    n_boot: int = 2000,
    level: float = 0.90,
    seed: int,
) -> Interval:
    """Percentile interval of ``stat(a) - stat(b)`` under a paired circular block bootstrap.

    Parameters
    ----------
    a, b : ndarray, shape (S,)
        Returns of two strategies over the same S periods (e.g. agent and 1/N).
    stat : callable
        Metric reducing the last axis, ``(B, S) -> (B,)``, e.g. :func:`.metrics.sharpe`.
    block : int, default 4
        Block length in periods (4 weeks keeps a month of serial dependence).
    n_boot : int, default 2000
        Bootstrap samples.
    level : float, default 0.90
        Two-sided coverage of the interval.
    seed : int
        Seed of the only random draw.

    Returns
    -------
    Interval

    Raises
    ------
    ValueError
        If ``a`` and ``b`` are not 1-D of the same length, or are shorter than 2 blocks.
    ConfigError
        If ``block``, ``n_boot`` or ``level`` is out of range.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D series of the same length, got shapes {a.shape} and {b.shape}")
    if block < 1:
        raise ConfigError(f"block must be >= 1 period, got {block}")
    if n_boot < 10:
        raise ConfigError(f"n_boot must be >= 10 samples, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise ConfigError(f"level must be in (0, 1), got {level}")
    if len(a) < 2 * block:
        raise ValueError(f"need at least 2 blocks of {block} periods to bootstrap, got {len(a)} periods")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("returns to bootstrap must be finite")

    rng = np.random.default_rng(seed)
    idx = block_indices(len(a), block=block, n_boot=n_boot, rng=rng)
    diffs = np.asarray(stat(a[idx]), dtype=np.float64) - np.asarray(stat(b[idx]), dtype=np.float64)
    point = float(np.asarray(stat(a)) - np.asarray(stat(b)))
    finite = diffs[np.isfinite(diffs)]
    if len(finite) == 0:
        raise ValueError("the statistic is undefined on every bootstrap sample (flat series?)")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return Interval(low=float(low), high=float(high), point=point, level=level, n_boot=n_boot,
                    n_valid=int(len(finite)), block=block, seed=seed)
