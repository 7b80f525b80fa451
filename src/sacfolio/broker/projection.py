"""Exact Euclidean projection of any weights onto the portfolio rules' feasible set.

The feasible set for N stocks and CASH (last column) is

    C = {w in R^(N+1) : w >= 0, sum(w) = 1, w_cash >= cash_floor,
         w_i <= max_weight for available stocks, w_i = 0 for unavailable ones}.

The Euclidean projection onto a box-constrained simplex {lo <= w <= hi, sum w = 1}
has the closed form ``w_i = clip(y_i - lam, lo_i, hi_i)`` where ``lam`` is the root of
the non-increasing piecewise-linear g(lam) = sum_i clip(y_i - lam, lo_i, hi_i) - 1
(the KKT conditions of min ||w - y||^2; e.g. Helgason, Kennington & Lall 1980,
"A polynomially bounded algorithm for a singly constrained quadratic program").
We find ``lam`` exactly: sort the 2(N+1) breakpoints ``y - hi`` and ``y - lo``,
evaluate g at every breakpoint with a cumulative sum of slopes, and interpolate
linearly on the segment that brackets the root.
"""

from __future__ import annotations

import numpy as np

from sacfolio.broker.rules import PortfolioRules

__all__ = ["FeasibleSet", "checked_vector", "feasible_rows", "project_weights", "weight_bounds"]

FEASIBLE_TOLERANCE = 1e-12
"""How far feasible weights may be from their bounds and their sum from 1 (rounding)."""


def checked_vector(values: np.ndarray, available: np.ndarray | None, *,
                   what: str) -> tuple[np.ndarray, np.ndarray]:
    """``values`` (..., N + 1) as finite float64 and ``available`` (..., N) as bool (default: all).

    Raises
    ------
    ValueError
        A wrong shape, a non-finite entry, or an ``available`` of another width; the
        message names ``what`` ("weights", "action").
    """
    y = np.asarray(values, dtype=np.float64)
    if y.ndim < 1 or y.shape[-1] < 2:
        raise ValueError(f"{what} must have shape (..., N + 1) with N >= 1, got {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError(f"{what} must be finite")
    n = y.shape[-1] - 1
    mask = np.ones(n, dtype=bool) if available is None else np.asarray(available, dtype=bool)
    if mask.shape[-1] != n:
        raise ValueError(f"available has {mask.shape[-1]} symbols, {what} has {n} (+ CASH)")
    return y, mask


def weight_bounds(available: np.ndarray, rules: PortfolioRules) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of every weight, CASH last.

    Parameters
    ----------
    available : ndarray of bool, shape (..., N)
        Tradable stocks.
    rules : PortfolioRules
        Supplies ``cash_floor`` and ``max_weight``.

    Returns
    -------
    lo, hi : ndarray of float64, shape (..., N + 1)
        ``lo`` is 0 for stocks and ``cash_floor`` for CASH; ``hi`` is ``max_weight``
        for available stocks, 0 for unavailable ones and 1 for CASH.
    """
    available = np.asarray(available, dtype=bool)
    shape = available.shape[:-1] + (available.shape[-1] + 1,)
    lo = np.zeros(shape)
    lo[..., -1] = rules.cash_floor
    hi = np.ones(shape)
    hi[..., :-1] = np.where(available, rules.max_weight, 0.0)
    return lo, hi


def feasible_rows(w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Which rows of ``w`` already lie in the feasible set, to the projection's own precision.

    A row is feasible when every weight is within ``[lo - 1e-12, hi + 1e-12]`` and the
    row sums to 1 within 1e-12 (:data:`FEASIBLE_TOLERANCE`): e.g. the constrained equal
    weight of :func:`~sacfolio.broker.targets.equal_weights`, whose CASH can sit an ulp
    below the floor.

    Parameters
    ----------
    w : ndarray float64, shape (..., N + 1)
    lo, hi : ndarray float64, broadcastable to ``w``
        :func:`weight_bounds`.

    Returns
    -------
    ndarray bool, shape ``w.shape[:-1]``
    """
    inside = ((w >= lo - FEASIBLE_TOLERANCE) & (w <= hi + FEASIBLE_TOLERANCE)).all(axis=-1)
    return inside & (np.abs(w.sum(axis=-1) - 1.0) <= FEASIBLE_TOLERANCE)


def _project_box_simplex(y: np.ndarray, bounds: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Exact projection of the rows of ``y`` onto {lo <= w <= hi, sum w = 1}.

    Parameters
    ----------
    y : ndarray float64, shape (B, M)
    bounds : ndarray float64, shape (B, 2M) or (1, 2M)
        ``concatenate((hi, lo), axis=-1)``; requires ``sum(lo) <= 1 <= sum(hi)``.
    target : ndarray float64, shape (B,) or (1,)
        ``1 - sum(hi)``.

    Returns
    -------
    ndarray float64, shape (B, M)
        The projection; its rows sum to 1 up to rounding (~1e-15).

    Notes
    -----
    Every coordinate adds two ramps to g(lam) - sum(hi): ``-(lam - (y_i - hi_i))+``
    (it leaves hi) and ``+(lam - (y_i - lo_i))+`` (it reaches lo). With the 2M
    breakpoints b sorted and e = -1 / +1 their kinds, at any lam in [b_k, b_k+1]
    g(lam) - sum(hi) = lam * S_k - P_k with S = cumsum(e), P = cumsum(e * b).
    """
    B, M = y.shape
    upper, twice_upper, ranks, kind_bits = _tables(M)
    breaks = np.concatenate((y, y), axis=1)
    breaks -= bounds
    # Sort without an argsort: the kind of each breakpoint rides in the least
    # significant mantissa bit (0: leaves hi, 1: reaches lo), moving it by <= 1 ulp.
    bits = breaks.view(np.int64)
    np.bitwise_and(bits, -2, out=bits)
    np.bitwise_or(bits, kind_bits, out=bits)
    breaks.sort(axis=1)
    kinds = (breaks.view(np.int64) & 1).astype(np.float64)
    # cumulative sums as matmuls with a triangle of ones: faster than np.cumsum on short rows
    slope = kinds @ twice_upper  # S = cumsum(2 * kind - 1) = 2 cumsum(kind) - (j + 1)
    slope -= ranks
    kinds *= 2.0
    kinds -= 1.0
    kinds *= breaks  # e * b
    drop = breaks * slope
    drop -= kinds @ upper  # lam * S - P at lam = b: g(b_j) - sum(hi), non-increasing in j
    # last breakpoint with g >= 1: the root lies right of it, where the slope is a negative
    # integer, or is the breakpoint itself (slope 0 and g == 1 there)
    k = np.add.reduce(drop >= target[:, None], axis=1)
    k -= 1
    np.maximum(k, 0, out=k)
    rows = np.arange(B)
    lam = (drop[rows, k] - target) / np.maximum(-slope[rows, k], 1.0)
    lam += breaks[rows, k]
    w = y - lam[:, None]
    np.maximum(w, bounds[:, M:], out=w)
    np.minimum(w, bounds[:, :M], out=w)
    return w


_TABLES: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


def _tables(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Constants for 2m breakpoints, cached per m: ``x @ upper == cumsum(x)``,
    ``2 * upper``, ``arange(1, 2m + 1)`` and the kind bits (m zeros, m ones)."""
    out = _TABLES.get(m)
    if out is None:
        upper = np.triu(np.ones((2 * m, 2 * m)))
        kinds = np.concatenate((np.zeros(m, dtype=np.int64), np.ones(m, dtype=np.int64)))
        out = _TABLES[m] = (upper, 2.0 * upper, np.arange(1.0, 2 * m + 1), kinds)
    return out


def _bounds_table(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(concatenate((hi, lo), -1), 1 - hi.sum(-1))`` for :func:`_project_box_simplex`."""
    lo, hi = np.broadcast_arrays(lo, hi)
    return np.ascontiguousarray(np.concatenate((hi, lo), axis=-1)), 1.0 - hi.sum(axis=-1)


def _fix_sum(w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Put the rounding residual of ``1 - w.sum()`` on the coordinate of each row with most room."""
    residual = 1.0 - w.sum(axis=1)
    room = np.where(residual[:, None] >= 0.0, hi - w, w - lo)
    rows = np.arange(len(w))
    w[rows, np.argmax(room, axis=1)] += residual
    return w


def project_weights(
    w: np.ndarray,
    rules: PortfolioRules,
    available: np.ndarray | None = None,
) -> np.ndarray:
    """Nearest (Euclidean) feasible portfolio to ``w``.

    Parameters
    ----------
    w : array_like of float, shape (..., N + 1)
        Any finite weights; the last column is CASH.
    rules : PortfolioRules
        Supplies ``cash_floor`` (minimum CASH) and ``max_weight`` (per stock).
    available : array_like of bool, shape (..., N) or (N,), optional
        Tradable stocks (default: all). Unavailable stocks get weight 0.

    Returns
    -------
    ndarray of float64, shape (..., N + 1)
        ``argmin ||v - w||`` over v >= 0, sum v = 1, v_cash >= cash_floor,
        v_stock <= max_weight, v = 0 for unavailable stocks; sums to 1 within 1e-12.
    """
    y, available = checked_vector(w, available, what="weights")
    n = y.shape[-1] - 1
    lo, hi = weight_bounds(available, rules)
    lead = np.broadcast_shapes(y.shape, hi.shape)
    flat = np.broadcast_to(y, lead).reshape(-1, n + 1)
    lo = np.broadcast_to(lo, lead).reshape(-1, n + 1)
    hi = np.broadcast_to(hi, lead).reshape(-1, n + 1)
    bounds, target = _bounds_table(lo, hi)
    out = _fix_sum(_project_box_simplex(flat, bounds, target), lo, hi)
    return out.reshape(lead)


def _water_fill(y: np.ndarray, bounds: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                target: np.ndarray | float) -> np.ndarray:
    """:func:`_project_box_simplex` with fewer and cheaper numpy operations, bit for bit.

    Parameters
    ----------
    y : ndarray float64, shape (B, M)
    bounds : ndarray float64, shape (B, 2M)
        ``concatenate((hi, lo), axis=-1)``, C-contiguous.
    lo, hi : ndarray float64, shape (B, M)
    target : float or ndarray float64 of shape (B, 1)
        ``1 - sum(hi)`` (a float when every row has the same bounds).

    Returns
    -------
    ndarray float64, shape (B, M)

    Notes
    -----
    The same breakpoints, sort, cumulative-sum matmul and interpolation as
    :func:`_project_box_simplex`, so every intermediate value is the same; what changes
    is how they are reached: operands of the full shape (a broadcast operand costs
    numpy a buffered loop), the slopes as the cumulative sum of the kinds' signs
    ``e = +-1`` (the same integers as ``2 cumsum(kind) - (j + 1)``), and the bracketing
    breakpoint read with one flat index instead of three fancy indexings.
    """
    B, M = y.shape
    upper = _tables(M)[0]
    start, before, kind_bits = _row_tables(B, M)
    breaks = np.concatenate((y, y), axis=1)
    breaks -= bounds
    bits = breaks.view(np.int64)
    np.bitwise_and(bits, -2, out=bits)  # the kind in the last mantissa bit, as there
    np.bitwise_or(bits, kind_bits, out=bits)
    breaks.sort(axis=1)
    signs = _SIGNS.take(np.bitwise_and(bits, 1))  # e: -1 leaves hi, +1 reaches lo
    slope = signs @ upper  # S = cumsum(e)
    signs *= breaks  # e * b
    drop = breaks * slope
    drop -= signs @ upper  # lam * S - P at lam = b
    at = np.add.reduce(drop >= target, axis=1, keepdims=True)
    at += before
    np.maximum(at, start, out=at)  # flat index of the last breakpoint with g >= 1
    lam = drop.take(at)
    lam -= target
    lam /= np.maximum(-slope.take(at), 1.0)
    lam += breaks.take(at)
    w = y - lam
    np.maximum(w, lo, out=w)
    np.minimum(w, hi, out=w)
    return w


_SIGNS = np.array([-1.0, 1.0])
_ROWS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _row_tables(b: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For b rows of 2m breakpoints: the flat index of each row's first entry (b, 1), that
    less 1, and the kind bits (b, 2m) of :func:`_tables`; cached (read-only)."""
    out = _ROWS.get((b, m))
    if out is None:
        start = np.arange(b, dtype=np.int64)[:, None] * (2 * m)
        out = (start, start - 1, np.ascontiguousarray(np.broadcast_to(_tables(m)[3], (b, 2 * m))))
        for a in out:
            a.flags.writeable = False
        if len(_ROWS) < 64:
            _ROWS[(b, m)] = out
    return out


class FeasibleSet:
    """The feasible sets of every row of a market, tabulated once for batched projections.

    Parameters
    ----------
    available : ndarray of bool, shape (T, N)
        Tradable stocks per row.
    rules : PortfolioRules

    Notes
    -----
    :meth:`project` runs the exact projection without :func:`project_weights`' checks
    or its final rounding fix (rows sum to 1 within ~1e-15): the hot path of the batched
    env and the backtests. The bounds are tabulated per distinct availability pattern
    (a market has few), so a projection gathers rows of a small table, or none when
    every row has the same pattern (:attr:`pattern_of_row`).
    """

    def __init__(self, available: np.ndarray, rules: PortfolioRules) -> None:
        self.rules = rules
        self.lo, self.hi = weight_bounds(available, rules)
        available = np.asarray(available, dtype=bool)
        patterns, pattern_of_row = np.unique(available.reshape(-1, available.shape[-1]), axis=0,
                                             return_inverse=True)
        self.patterns = patterns
        """ndarray bool, shape (P, N): the distinct availability rows."""
        self.pattern_of_row = pattern_of_row.reshape(-1).astype(np.int64)
        """ndarray int64, shape (T,): the pattern of each row."""
        lo, hi = weight_bounds(patterns, rules)
        self._bounds, target = _bounds_table(lo, hi)  # (P, 2(N + 1)), (P,)
        self._target = target[:, None]
        self.one_pattern = len(patterns) == 1
        """True when every row has the same availability: no per-row gathers."""
        self._same = float(target[0]) if self.one_pattern else None
        self._open = np.concatenate((patterns, np.ones((len(patterns), 1), bool)), axis=1).astype(np.float64)
        self._tiled: dict[int, tuple[np.ndarray, ...]] = {}

    def bounds_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | float]:
        """``concatenate((hi, lo), -1)`` (B, 2(N + 1)), ``lo``, ``hi`` (B, N + 1) and
        ``1 - sum(hi)`` ((B, 1), or a float when every row has the same bounds) of ``rows`` (B,)."""
        if self._same is None:
            m, pattern = self._bounds.shape[1] // 2, self.pattern_of_row.take(rows)
            bounds = self._bounds.take(pattern, axis=0)
            return bounds, bounds[:, m:], bounds[:, :m], self._target.take(pattern, axis=0)
        return (*self._tiles(len(rows))[:3], self._same)

    def tradable(self, rows: np.ndarray) -> np.ndarray:
        """1.0 for the tradable stocks and CASH of ``rows`` (B,), else 0.0: shape (B, N + 1)."""
        if self._same is None:
            return self._open.take(self.pattern_of_row.take(rows), axis=0)
        return self._tiles(len(rows))[3]

    def _tiles(self, b: int) -> tuple[np.ndarray, ...]:
        """The one pattern's bounds, lo, hi and tradable mask as (b, ...) arrays: the same
        values as a broadcast row, as full-shape operands (numpy broadcasts in a slower loop)."""
        tiles = self._tiled.get(b)
        if tiles is None:
            m = self._bounds.shape[1] // 2
            bounds = np.repeat(self._bounds, b, axis=0)
            tiles = (bounds, np.ascontiguousarray(bounds[:, m:]), np.ascontiguousarray(bounds[:, :m]),
                     np.repeat(self._open, b, axis=0))
            for a in tiles:
                a.flags.writeable = False
            if len(self._tiled) < 16:
                self._tiled[b] = tiles
        return tiles

    def project(self, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Project ``y`` (B, N + 1) onto the feasible sets of ``rows`` (B,); returns (B, N + 1)."""
        return _water_fill(y, *self.bounds_of(rows))

    def nearest(self, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """:meth:`project`, except that rows of ``y`` already feasible (:func:`feasible_rows`)
        come back bit for bit.

        The projection of a feasible point is the point itself; the water-filling
        returns it only up to ~1e-16, this returns it exactly, so a zero tilt of a
        feasible benchmark is the benchmark. Shapes as in :meth:`project`.
        """
        bounds, lo, hi, target = self.bounds_of(rows)
        out = _water_fill(y, bounds, lo, hi, target)
        keep = feasible_rows(y, lo, hi)
        out[keep] = y[keep]
        return out
