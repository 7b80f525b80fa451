"""Online portfolio selection (OLPS): UCRP, EG, ONS, OLMAR, PAMR and Anticor, from their papers.

Each algorithm is a pure function of the price relatives ``x_t = close_t / close_{t-1}``
(row 0 and any stock not trading at t - 1 or t: 1) that returns its portfolio over
the stocks at every row, ``b_t`` decided at close t from rows ``<= t`` only, summing
to 1 over the live stocks. The algorithm's state evolves with its own (simplex)
portfolio, as in the papers; :mod:`sacfolio.strategies.olps_baselines` invests it under
the broker's rules. A stock that starts trading enters at ``1 / n_live`` (the others
rescaled), one that stops leaves and its weight is spread pro rata.

Parameters default to the papers' recommendations. The loop runs over time (the
algorithms are sequential); each step is vectorized over stocks.

The library ``universal-portfolios`` 0.4.17 (Marigold, FMIT licence) has these
algorithms but does not fit here: it pins ``pandas<3`` (sacfolio runs pandas 3) and
requires cvxopt, statsmodels, seaborn, yfinance, pandas-datareader and requests.
Run side by side in a separate environment on one market, its EG and PAMR agree with
these to 1e-14, OLMAR to 1e-12 once its warm-up is over, BCRP to 1e-13 in log wealth,
ONS step by step within its QP solver's tolerance (the projection here is exact) and
Anticor to 1e-12 once its departures from the paper (noted there) are copied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sacfolio.broker.rules import PortfolioRules
from sacfolio.exceptions import ConfigError
from sacfolio.strategies.zoo import check_windows
from sacfolio.strategies.zoo_risk import stock_projection

__all__ = ["OLPS", "OlpsConfig", "anticor", "eg", "norm_projection", "olmar", "olps_portfolios", "ons", "pamr",
           "ucrp"]

SIMPLEX = PortfolioRules(cash_floor=0.0, max_weight=1.0)
"""Rules whose stock set is the plain simplex: the algorithms' own portfolios live there."""


@dataclass(frozen=True, kw_only=True)
class OlpsConfig:
    """Parameters of the OLPS algorithms (defaults: the papers' recommended values).

    Attributes
    ----------
    eg_eta : float, default 0.05
        EG learning rate (Helmbold et al. 1998).
    ons_delta, ons_beta, ons_eta : float, default 1/8, 1, 0
        ONS scale, trade-off and mixing with the uniform portfolio (Agarwal et al. 2006).
    olmar_window : int, default 5
        Bars of OLMAR's moving average (Li & Hoi 2012).
    olmar_epsilon : float, default 10
        OLMAR's reversion threshold.
    pamr_epsilon : float, default 0.5
        PAMR's insensitivity (Li et al. 2012).
    anticor_window : int, default 30
        Bars of each of Anticor's two windows (Borodin et al. 2004).
    """

    eg_eta: float = 0.05
    ons_delta: float = 0.125
    ons_beta: float = 1.0
    ons_eta: float = 0.0
    olmar_window: int = 5
    olmar_epsilon: float = 10.0
    pamr_epsilon: float = 0.5
    anticor_window: int = 30

    def __post_init__(self) -> None:
        check_windows(self)
        for name, least in (("eg_eta", 0.0), ("ons_delta", 0.0), ("ons_beta", 0.0), ("olmar_epsilon", 0.0),
                            ("ons_eta", None), ("pamr_epsilon", None)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) \
                    or value < 0 or (least is not None and value <= least):
                kind = "positive" if least is not None else "non-negative"
                raise ConfigError(f"OlpsConfig.{name}={value!r} must be a finite {kind} number")
        if self.ons_eta > 1:
            raise ConfigError(f"OlpsConfig.ons_eta={self.ons_eta} must be in [0, 1]")


def _uniform(live: np.ndarray) -> np.ndarray:
    return live / max(int(live.sum()), 1)


def _admit(b: np.ndarray, now: np.ndarray, before: np.ndarray) -> np.ndarray:
    """``b`` over the stocks live now: newcomers at ``1 / n_live``, the rest rescaled to sum 1."""
    new = now & ~before
    b = np.where(now & ~new, b, 0.0)
    total = b.sum()
    if total <= 0.0:
        return _uniform(now)
    return np.where(new, 1.0 / now.sum(), b * (1.0 - new.sum() / now.sum()) / total)


Step = Callable[[int, np.ndarray], np.ndarray]


def _online(relatives: np.ndarray, live: np.ndarray, step: Step) -> np.ndarray:
    """Run ``step(t, b_{t-1}) -> b_t`` over rows 1..T-1 from the uniform portfolio; (T, N)."""
    out = np.zeros(relatives.shape)
    b = out[0] = _uniform(live[0])
    for t in range(1, len(relatives)):
        b = out[t] = _admit(step(t, b), live[t], live[t - 1])
    return out


def _simplex(b: np.ndarray, live: np.ndarray) -> np.ndarray:
    """Euclidean projection of ``b`` onto the simplex over ``live``."""
    return stock_projection(live[None], SIMPLEX)(b[None])[0]


def ucrp(relatives: np.ndarray, live: np.ndarray, config: OlpsConfig = OlpsConfig()) -> np.ndarray:
    """Uniform constant rebalanced portfolio: ``1 / n_live`` each at every row, shape (T, N)."""
    return live / np.maximum(live.sum(axis=1, keepdims=True), 1)


def eg(relatives: np.ndarray, live: np.ndarray, config: OlpsConfig = OlpsConfig()) -> np.ndarray:
    """Exponentiated gradient, Helmbold, Schapire, Singer & Warmuth (1998), "On-line portfolio
    selection using multiplicative updates", Mathematical Finance 8(4):
    ``b_{t,i} ∝ b_{t-1,i} exp(eta x_{t,i} / (b_{t-1} . x_t))``. Shape (T, N)."""

    def step(t: int, b: np.ndarray) -> np.ndarray:
        x = relatives[t]
        w = b * np.exp(config.eg_eta * x / (b @ x))
        return w / w.sum()

    return _online(relatives, live, step)


def pamr(relatives: np.ndarray, live: np.ndarray, config: OlpsConfig = OlpsConfig()) -> np.ndarray:
    """Passive aggressive mean reversion, Li, Zhao, Hoi & Gopalkrishnan (2012), "PAMR: Passive
    aggressive mean reversion strategy for portfolio selection", Machine Learning 87 (PAMR,
    the variant without slack): with loss ``l = max(0, b . x_t - eps)``, ``tau = l / ||x_t - mean(x_t)||^2`` and
    ``b_t = simplex(b_{t-1} - tau (x_t - mean(x_t)))``. Shape (T, N)."""

    def step(t: int, b: np.ndarray) -> np.ndarray:
        both = live[t] & live[t - 1]
        x = relatives[t]
        centred = np.where(both, x - x[both].mean() if both.any() else 0.0, 0.0)
        norm = centred @ centred
        loss = max(0.0, b @ x - config.pamr_epsilon)
        if norm <= 0.0 or loss <= 0.0:
            return b
        return _simplex(b - loss / norm * centred, live[t])

    return _online(relatives, live, step)


def olmar(relatives: np.ndarray, live: np.ndarray, config: OlpsConfig = OlpsConfig()) -> np.ndarray:
    """On-line moving average reversion, Li & Hoi (2012), "On-line portfolio selection with moving
    average reversion", ICML (OLMAR-1, the simple moving average): the predicted relative is
    ``x~ = MA_w(p) / p_t = (1/w) sum_{i<w} p_{t-i} / p_t``;
    ``lambda = max(0, (eps - b . x~) / ||x~ - mean(x~)||^2)`` and
    ``b_t = simplex(b_{t-1} + lambda (x~ - mean(x~)))``. Before ``w`` rows, ``b`` is kept.
    Shape (T, N)."""
    w = config.olmar_window

    def step(t: int, b: np.ndarray) -> np.ndarray:
        if t < w - 1:
            return b
        back = np.cumprod(relatives[t - w + 2:t + 1][::-1], axis=0)  # p_t / p_{t-i}, i = 1..w-1
        predicted = (1.0 + (1.0 / back).sum(axis=0)) / w
        now = live[t]
        centred = np.where(now, predicted - predicted[now].mean() if now.any() else 0.0, 0.0)
        norm = centred @ centred
        if norm <= 0.0:
            return b
        lam = max(0.0, (config.olmar_epsilon - b @ predicted) / norm)
        return _simplex(b + lam * centred, now)

    return _online(relatives, live, step)


def norm_projection(a: np.ndarray, q: np.ndarray, live: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``argmin_p (p - q)' a (p - q)`` over the simplex on ``live``, by the primal active-set
    method (Nocedal & Wright 2006, "Numerical Optimization", Algorithm 16.3).

    Parameters
    ----------
    a : ndarray float64, shape (N, N)
        Positive definite.
    q : ndarray float64, shape (N,)
    live : ndarray bool, shape (N,)
    start : ndarray float64, shape (N,)
        A feasible point (on the simplex over ``live``).

    Returns
    -------
    ndarray float64, shape (N,)
    """
    p, target = start.copy(), a @ q
    fixed = ~live | (p <= 0.0)  # the working set: weights held at 0
    for _ in range(4 * len(p) + 4):
        free = np.flatnonzero(~fixed)
        sub = a[np.ix_(free, free)]
        u, v = np.linalg.solve(sub, target[free]), np.linalg.solve(sub, np.ones(len(free)))
        nu = (1.0 - u.sum()) / v.sum()
        best = u + nu * v
        moving = best < p[free]
        ratios = np.where(moving, p[free] / np.where(moving, p[free] - best, 1.0), np.inf)
        alpha = min(1.0, ratios.min(initial=np.inf))
        p[free] += alpha * (best - p[free])
        if alpha < 1.0:  # blocked: the first weight to reach 0 joins the working set
            blocking = free[np.argmin(ratios)]
            p[blocking], fixed[blocking] = 0.0, True
            continue
        multipliers = np.where(fixed & live, a @ p - target - nu, np.inf)
        if multipliers.min() >= -1e-12:
            break
        fixed[np.argmin(multipliers)] = False
    return np.clip(p, 0.0, None) / np.clip(p, 0.0, None).sum()


def ons(relatives: np.ndarray, live: np.ndarray, config: OlpsConfig = OlpsConfig()) -> np.ndarray:
    """Online Newton step, Agarwal, Hazan, Kale & Schapire (2006), "Algorithms for portfolio
    management based on the Newton method", ICML: with ``g_s = x_s / (b_s . x_s)``,
    ``A = I + sum g g'`` and ``c = (1 + 1/beta) sum g``, ``b_t`` is the projection of
    ``delta A^{-1} c`` onto the simplex in the norm of ``A`` (:func:`norm_projection`), mixed
    ``(1 - eta) b + eta / n``. Gradients of stocks not trading at t - 1 and t are 0. Shape (T, N)."""
    n = relatives.shape[1]
    a, c = np.eye(n), np.zeros(n)

    def step(t: int, b: np.ndarray) -> np.ndarray:
        nonlocal a, c
        both = live[t] & live[t - 1]
        grad = np.where(both, relatives[t] / (b @ relatives[t]), 0.0)
        a = a + np.outer(grad, grad)
        c = c + (1.0 + 1.0 / config.ons_beta) * grad
        now = live[t]
        p = norm_projection(a, config.ons_delta * np.linalg.solve(a, c), now, _admit(b, now, live[t - 1]))
        return (1.0 - config.ons_eta) * p + config.ons_eta * _uniform(now)

    return _online(relatives, live, step)


def _anticor_claims(lx: np.ndarray, both: np.ndarray, w: int) -> np.ndarray:
    """Claims ``i -> j`` of Anticor from log relatives ``lx`` (2w, N) of the stocks in ``both``."""
    first, second = lx[:w], lx[w:]
    mu2 = second.mean(axis=0)
    d1, d2 = first - first.mean(axis=0), second - mu2
    sd1, sd2 = d1.std(axis=0, ddof=1), d2.std(axis=0, ddof=1)
    scale = np.outer(sd1, sd2)
    cor = np.where(scale > 0.0, d1.T @ d2 / (w - 1) / np.where(scale > 0.0, scale, 1.0), 0.0)
    neg_auto = np.maximum(-np.diag(cor), 0.0)
    pair = both[:, None] & both[None, :] & (mu2[:, None] > mu2[None, :]) & (cor > 0.0)
    return np.where(pair, cor + neg_auto[:, None] + neg_auto[None, :], 0.0)


def anticor(relatives: np.ndarray, live: np.ndarray, config: OlpsConfig = OlpsConfig()) -> np.ndarray:
    """Anticor (single window, ANTICOR_w), Borodin, El-Yaniv & Gogan (2004), "Can we learn to beat
    the best stock", JAIR 21: over the last two windows of ``w`` log relatives, a stock
    ``i`` that beat ``j`` in the recent window and whose earlier returns correlate positively
    with ``j``'s recent ones moves weight to ``j`` in proportion to the claim
    ``Mcor(i, j) + max(-Mcor(i, i), 0) + max(-Mcor(j, j), 0)``. Before ``2w`` rows ``b`` is kept.
    Shape (T, N). (universal-portfolios 0.4.17 departs from the paper: it correlates raw
    relatives, not their logs, uses ``corr(recent_i, earlier_j)`` for ``Mcor(i, j)`` and
    counts row 0 as a return.)"""
    w = config.anticor_window
    log_x = np.log(relatives)

    def step(t: int, b: np.ndarray) -> np.ndarray:
        if t < 2 * w:
            return b
        both = live[t - 2 * w:t + 1].all(axis=0)
        claim = _anticor_claims(log_x[t - 2 * w + 1:t + 1], both, w)
        total = claim.sum(axis=1, keepdims=True)
        transfer = np.where(total > 0.0, b[:, None] * claim / np.where(total > 0.0, total, 1.0), 0.0)
        return np.clip(b + transfer.sum(axis=0) - transfer.sum(axis=1), 0.0, None)

    return _online(relatives, live, step)


OLPS: dict[str, Callable[[np.ndarray, np.ndarray, OlpsConfig], np.ndarray]] = {
    "ucrp": ucrp, "eg": eg, "ons": ons, "olmar": olmar, "pamr": pamr, "anticor": anticor,
}
"""Algorithm name -> ``(relatives (T, N), live (T, N), config) -> portfolios (T, N)``."""


def olps_portfolios(name: str, relatives: np.ndarray, live: np.ndarray,
                    config: OlpsConfig = OlpsConfig()) -> np.ndarray:
    """Portfolio of algorithm ``name`` at every row, shape (T, N), rows summing to 1 over ``live``.

    Raises
    ------
    ConfigError
        ``name`` is not in :data:`OLPS`.
    ValueError
        ``relatives`` is not positive and finite, or the shapes differ.
    """
    if name not in OLPS:
        raise ConfigError(f"unknown online portfolio {name!r}; choose from {list(OLPS)}")
    relatives = np.asarray(relatives, dtype=np.float64)
    live = np.asarray(live, dtype=bool)
    if relatives.ndim != 2 or live.shape != relatives.shape:
        raise ValueError(f"relatives and live must both have shape (T, N), got {relatives.shape} and {live.shape}")
    if not (np.isfinite(relatives).all() and (relatives > 0.0).all()):
        raise ValueError("price relatives must be positive and finite (1 where a stock does not trade)")
    return OLPS[name](relatives, live, config)
