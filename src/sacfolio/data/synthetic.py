"""Synthetic markets with known structure, for learning tests and demos.

:func:`drift_market` is the smallest market an agent can be checked on: each asset's
weekly log return is a constant drift plus Gaussian noise, so the best allocation is
known in advance (hold the assets that drift up, avoid those that drift down).

:func:`factor_market` is the market of the signal + forecast state: a one-factor market whose
idiosyncratic returns are predictable, by a tunable amount, from news sentiment, from a
quarterly fundamental and from their own past (autocorrelation). It writes the news
items (JSONL) and Alpha Vantage-shaped fundamentals to disk so the real loaders read
them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError

__all__ = ["DEFAULT_DRIFTS", "FactorMarket", "FactorMarketConfig", "drift_market", "factor_market"]

#: Weekly drifts of the default three-asset market: one up, one down, one flat.
DEFAULT_DRIFTS: tuple[float, ...] = (0.004, -0.004, 0.0)
_DEFAULT_SYMBOLS: tuple[str, ...] = ("UP", "DOWN", "FLAT")
_START_PRICE = 100.0


def drift_market(
    *,
    drifts: Sequence[float] = DEFAULT_DRIFTS,
    volatility: float = 0.01,
    n_weeks: int = 260,
    seed: int = 0,
    start: str = "2000-01-07",
    symbols: Sequence[str] | None = None,
) -> MarketPanel:
    """A market of assets whose weekly log returns are a constant drift plus noise.

    Parameters
    ----------
    drifts : sequence of float, length N >= 2
        Mean weekly log return of each asset.
    volatility : float
        Standard deviation of the weekly log-return noise (same for every asset), >= 0.
    n_weeks : int
        Number of weekly dates T >= 2.
    seed : int
        Seed of the noise; the same seed gives the same panel.
    start : str
        ISO date of the first close. Dates are Fridays: a start that is not a Friday
        moves forward to the next Friday.
    symbols : sequence of str, optional
        Names of the assets. Default: ``("UP", "DOWN", "FLAT")`` for the default
        drifts, ``("S0", ..., "S{N-1}")`` otherwise.

    Returns
    -------
    MarketPanel
        Close prices of shape (T, N), all available, starting at 100 on the first
        date; ``log(close[t] / close[t-1]) = drifts + volatility * z_t`` with
        ``z_t ~ N(0, I)``. ``source`` is ``"synthetic:drift"``.

    Raises
    ------
    ConfigError
        If fewer than 2 drifts are given, a drift or the volatility is not finite,
        the volatility is negative, ``n_weeks < 2``, ``symbols`` does not match
        ``drifts`` in length, or ``start`` is not a date.
    """
    mu = np.asarray(tuple(drifts), dtype=np.float64)
    if mu.ndim != 1 or mu.size < 2:
        raise ConfigError(f"drift_market needs at least 2 drifts, got {tuple(drifts)!r}; "
                          "pass one drift per asset, e.g. drifts=(0.004, -0.004, 0.0).")
    if not np.isfinite(mu).all():
        raise ConfigError(f"drifts must be finite numbers, got {tuple(drifts)!r}.")
    if not (np.isfinite(volatility) and volatility >= 0):
        raise ConfigError(f"volatility must be a finite number >= 0, got {volatility!r}.")
    if int(n_weeks) != n_weeks or n_weeks < 2:
        raise ConfigError(f"n_weeks must be an integer >= 2, got {n_weeks!r}.")
    if symbols is None:
        names = (_DEFAULT_SYMBOLS if tuple(mu) == DEFAULT_DRIFTS
                 else tuple(f"S{i}" for i in range(mu.size)))
    else:
        names = tuple(str(s) for s in symbols)
        if len(names) != mu.size:
            raise ConfigError(f"got {len(names)} symbols {names!r} for {mu.size} drifts; "
                              "pass one symbol per drift.")
    try:
        dates = pd.date_range(pd.Timestamp(start), periods=int(n_weeks), freq="W-FRI")
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"start must be an ISO date such as '2000-01-07', got {start!r}.") from exc

    rng = np.random.default_rng(seed)
    log_returns = mu + volatility * rng.standard_normal((int(n_weeks) - 1, mu.size))
    log_prices = np.vstack([np.zeros((1, mu.size)), np.cumsum(log_returns, axis=0)])
    close = _START_PRICE * np.exp(log_prices)
    return MarketPanel(
        dates=dates.to_numpy().astype("datetime64[D]"),
        symbols=names,
        close=close,
        available=np.ones(close.shape, dtype=bool),
        source="synthetic:drift",
    )


# ------------------------------------------------------------------------ factor market
_HEADLINES: tuple[str, ...] = (
    "{s} shares plunge after disastrous loss and fraud probe",
    "{s} cuts outlook as demand weakens",
    "{s} schedules annual shareholder meeting",
    "{s} reports solid growth and raises dividend",
    "{s} stock soars on record profit and excellent outlook",
)
"""Headlines from very negative to very positive (VADER compound -0.83 .. 0.77)."""
_QUARTER_WEEKS = 13
_REPORT_DELAY_DAYS = 27  # fiscal quarter end (a Friday) -> reportedDate (a Thursday)


@dataclass(frozen=True, kw_only=True)
class FactorMarketConfig:
    """A one-factor weekly market with planted, known predictability.

    Standardized idiosyncratic return of stock i (``u = x / idio_vol``, unit variance)::

        u[t+1] = ic_sentiment * s[t] + ic_fundamental * g[t] + autocorr * u[t] + c * z[t+1]

    with ``s[t]`` the sentiment of the news published in the week ending at t,
    ``g[t]`` the fundamental signal of the latest quarter public at t (both N(0, 1)),
    ``z ~ N(0, 1)`` and ``c = sqrt(1 - ic_sentiment^2 - ic_fundamental^2 - autocorr^2)``,
    so ``u`` has (nearly) unit variance and ``corr(s[t], u[t+1]) = ic_sentiment`` (``s`` is i.i.d.);
    ``ic_fundamental`` and ``autocorr`` are the coefficients of ``g[t]`` and ``u[t]``
    (they equal the correlations when the other one is 0; ``g`` persists a quarter,
    so with both set ``u[t]`` also carries ``g``). Log return: ``beta_i * f[t+1] + x[t+1]``.

    Attributes
    ----------
    n_stocks : int
        Number of stocks N >= 2 (symbols ``S00``, ``S01``, ...).
    n_weeks : int
        Weekly dates T >= 2 (Fridays from ``start``).
    ic_sentiment, ic_fundamental : float
        Information coefficient of each signal about next week's idiosyncratic return.
    autocorr : float
        Lag-one autocorrelation of idiosyncratic returns, in (-1, 1).
    factor_vol, idio_vol : float
        Weekly volatility of the common factor and of idiosyncratic returns (> 0).
    factor_drift : float
        Weekly mean log return of the common factor (default 0; the known-answer
        markets use ~0.0015, about 8% a year, so buying the market pays as it does).
    beta_spread : float
        Factor loadings are drawn uniformly from ``1 +- beta_spread`` (0: every beta is
        1, so with no planted signal every stock has the same expected return).
    news_per_week : int
        News items per stock and week (>= 1), stamped before the Friday close; one more
        item per stock is stamped after each close and carries next week's sentiment.
    seed : int
        Seed of every random draw.
    start : str
        First date (moved to the next Friday).
    """

    n_stocks: int = 10
    n_weeks: int = 520
    ic_sentiment: float = 0.1
    ic_fundamental: float = 0.05
    autocorr: float = 0.0
    factor_vol: float = 0.02
    idio_vol: float = 0.03
    factor_drift: float = 0.0
    beta_spread: float = 0.2
    news_per_week: int = 2
    seed: int = 0
    start: str = "2000-01-07"

    def __post_init__(self) -> None:
        for name, low in (("n_stocks", 2), ("n_weeks", 2), ("news_per_week", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ConfigError(f"factor market {name}={v!r} must be an integer >= {low}.")
        for name in ("ic_sentiment", "ic_fundamental", "autocorr"):
            v = getattr(self, name)
            if not (np.isfinite(v) and -1 < v < 1):
                raise ConfigError(f"factor market {name}={v!r} must be in (-1, 1).")
        explained = self.ic_sentiment ** 2 + self.ic_fundamental ** 2 + self.autocorr ** 2
        if explained >= 1:
            raise ConfigError(f"ic_sentiment^2 + ic_fundamental^2 + autocorr^2 = {explained:.3f} must be "
                              "< 1 (the predictable share of the idiosyncratic variance).")
        for name in ("factor_vol", "idio_vol"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ConfigError(f"factor market {name}={v!r} must be a finite number > 0.")
        if not (np.isfinite(self.factor_drift) and abs(self.factor_drift) < 0.05):
            raise ConfigError(f"factor market factor_drift={self.factor_drift!r} must be a weekly log "
                              "return in (-0.05, 0.05).")
        if not (np.isfinite(self.beta_spread) and 0 <= self.beta_spread < 1):
            raise ConfigError(f"factor market beta_spread={self.beta_spread!r} must be in [0, 1).")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError(f"factor market seed={self.seed!r} must be an integer.")
        try:
            pd.Timestamp(self.start)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"factor market start={self.start!r} must be an ISO date.") from exc


@dataclass(frozen=True, eq=False)
class FactorMarket:
    """A generated factor market and the true signals behind it.

    Attributes
    ----------
    panel : MarketPanel
        Weekly closes, shape (T, N); ``source`` is ``"synthetic:factor"``.
    sentiment : ndarray float64, shape (T, N)
        True sentiment ``s[t]`` revealed by the news of the week ending at t.
    fundamental : ndarray float64, shape (T, N)
        True fundamental signal ``g[t]`` of the latest quarter public at t (0 before
        the first).
    idiosyncratic : ndarray float64, shape (T, N)
        Idiosyncratic log returns ``x[t]`` (row 0 is 0).
    beta : ndarray float64, shape (N,)
        Each stock's loading on the common factor.
    news_path : Path or None
        JSONL news file, when written.
    fundamentals_dir : Path or None
        Folder of Alpha Vantage-shaped responses, when written.
    config : FactorMarketConfig
    """

    panel: MarketPanel
    sentiment: np.ndarray
    fundamental: np.ndarray
    idiosyncratic: np.ndarray
    news_path: Path | None
    fundamentals_dir: Path | None
    config: FactorMarketConfig
    beta: np.ndarray

    def expected_returns(self) -> np.ndarray:
        """The model's conditional mean of next week's simple returns, shape (T, N).

        Row t is ``E[close[t + 1] / close[t] - 1 | everything known at t]`` under the
        generating model: the log return is ``beta * f + idio_vol * (m[t] + c * z)`` with
        ``m[t] = ic_sentiment * s[t] + ic_fundamental * g[t] + autocorr * u[t]`` known at t,
        ``f ~ N(factor_drift, factor_vol^2)`` and ``z ~ N(0, 1)`` independent, so the mean is
        ``exp(beta * drift + beta^2 factor_vol^2 / 2 + idio_vol * m[t] + (idio_vol c)^2 / 2) - 1``.
        The last row (no next week) repeats the one before. A policy that reads this
        knows the market's model: it is the yardstick of what a learner could earn.
        """
        cfg = self.config
        u = self.idiosyncratic / cfg.idio_vol
        m = cfg.ic_sentiment * self.sentiment + cfg.ic_fundamental * self.fundamental + cfg.autocorr * u
        c2 = 1.0 - cfg.ic_sentiment ** 2 - cfg.ic_fundamental ** 2 - cfg.autocorr ** 2
        factor = self.beta * cfg.factor_drift + 0.5 * (self.beta * cfg.factor_vol) ** 2
        mean = np.expm1(factor[None, :] + cfg.idio_vol * m + 0.5 * cfg.idio_vol ** 2 * c2)
        mean[-1] = mean[-2] if len(mean) > 1 else mean[-1]
        return mean


def _headline_level(s: np.ndarray) -> np.ndarray:
    """Headline level 0..4 for sentiment values (quintile-like cut points of N(0, 1))."""
    return np.digitize(s, (-0.84, -0.25, 0.25, 0.84))


def factor_market(config: FactorMarketConfig | None = None, *,
                  out_dir: str | Path | None = None) -> FactorMarket:
    """Generate a factor market with planted sentiment, fundamental and autocorrelation signal.

    Parameters
    ----------
    config : FactorMarketConfig, optional
        Default ``FactorMarketConfig()``.
    out_dir : path, optional
        When given, writes ``news.jsonl`` and ``fundamentals/`` (INCOME_STATEMENT,
        BALANCE_SHEET, EARNINGS and OVERVIEW responses per stock) there.

    Returns
    -------
    FactorMarket
    """
    cfg = FactorMarketConfig() if config is None else config
    rng = np.random.default_rng(cfg.seed)
    T, N = cfg.n_weeks, cfg.n_stocks
    dates = pd.date_range(pd.Timestamp(cfg.start), periods=T, freq="W-FRI")
    symbols = tuple(f"S{i:02d}" for i in range(N))
    beta = rng.uniform(1.0 - cfg.beta_spread, 1.0 + cfg.beta_spread, N)
    factor = cfg.factor_drift + cfg.factor_vol * rng.standard_normal(T)
    sentiment = rng.standard_normal((T, N))
    # Quarters end on every 13th date; each becomes public the Friday 4 weeks later.
    q_rows = np.arange(0, T, _QUARTER_WEEKS)
    q_signal = rng.standard_normal((len(q_rows), N))
    fundamental = np.zeros((T, N))
    for k, r in enumerate(q_rows):
        fundamental[r + 4:] = q_signal[k]  # overwritten by later quarters
    noise = rng.standard_normal((T, N))
    c = np.sqrt(1.0 - cfg.ic_sentiment ** 2 - cfg.ic_fundamental ** 2 - cfg.autocorr ** 2)
    u = np.zeros((T, N))
    for t in range(T - 1):  # AR recursion over time, vectorized over stocks
        u[t + 1] = (cfg.ic_sentiment * sentiment[t] + cfg.ic_fundamental * fundamental[t]
                    + cfg.autocorr * u[t] + c * noise[t + 1])
    idio = cfg.idio_vol * u
    idio[0] = 0.0
    log_ret = beta * factor[:, None] + idio
    log_ret[0] = 0.0
    close = _START_PRICE * np.exp(np.cumsum(log_ret, axis=0))
    panel = MarketPanel(dates=dates.to_numpy().astype("datetime64[D]"), symbols=symbols, close=close,
                        available=np.ones((T, N), dtype=bool), source="synthetic:factor")
    news_path = fund_dir = None
    if out_dir is not None:
        root = Path(out_dir)
        root.mkdir(parents=True, exist_ok=True)
        news_path = _write_news(root / "news.jsonl", dates, symbols, sentiment, cfg, rng)
        fund_dir = _write_fundamentals(root / "fundamentals", dates, symbols, q_rows, q_signal)
    return FactorMarket(panel=panel, sentiment=sentiment, fundamental=fundamental, idiosyncratic=idio,
                        news_path=news_path, fundamentals_dir=fund_dir, config=cfg, beta=beta)


def _write_news(path: Path, dates: pd.DatetimeIndex, symbols: tuple[str, ...], sentiment: np.ndarray,
                cfg: FactorMarketConfig, rng: np.random.Generator) -> Path:
    """News items: ``news_per_week`` per stock in the week before each close, one after it."""
    T, N = sentiment.shape
    level = _headline_level(sentiment)
    days_back = rng.integers(0, 5, (T, N, cfg.news_per_week))         # Mon..Fri of the week
    lines = []
    for t in range(T):
        friday = dates[t]
        for n in range(N):
            for k in range(cfg.news_per_week):
                stamp = (friday - pd.Timedelta(days=int(days_back[t, n, k]))).replace(hour=10)
                lines.append({"created_at": stamp.tz_localize("America/New_York").isoformat(),
                              "symbols": [symbols[n]], "headline": _HEADLINES[level[t, n]].format(s=symbols[n]),
                              "summary": ""})
            if t + 1 < T:  # after the close: next week's news, must not count for week t
                stamp = friday.replace(hour=18)
                lines.append({"created_at": stamp.tz_localize("America/New_York").isoformat(),
                              "symbols": [symbols[n]],
                              "headline": _HEADLINES[level[t + 1, n]].format(s=symbols[n]), "summary": ""})
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def _write_fundamentals(root: Path, dates: pd.DatetimeIndex, symbols: tuple[str, ...],
                        q_rows: np.ndarray, q_signal: np.ndarray) -> Path:
    """INCOME_STATEMENT / BALANCE_SHEET / EARNINGS / OVERVIEW responses; net margin = 0.10 + 0.04 g."""
    root.mkdir(parents=True, exist_ok=True)
    for n, sym in enumerate(symbols):
        income, balance, earnings = [], [], []
        for k, r in enumerate(q_rows[::-1]):  # Alpha Vantage lists the newest quarter first
            kk = len(q_rows) - 1 - k
            fiscal = dates[r].date().isoformat()
            revenue = 1.0e9 * (1.0 + 0.01 * kk)
            g = float(q_signal[kk, n])
            income.append({"fiscalDateEnding": fiscal, "reportedCurrency": "USD",
                           "totalRevenue": str(round(revenue)), "grossProfit": str(round(0.4 * revenue)),
                           "operatingIncome": str(round(0.15 * revenue)),
                           "netIncome": str(round((0.10 + 0.04 * g) * revenue)),
                           "researchAndDevelopment": "None"})
            balance.append({"fiscalDateEnding": fiscal, "reportedCurrency": "USD",
                            "totalShareholderEquity": "5000000000",
                            "shortLongTermDebtTotal": "None" if kk % 2 else "2000000000",
                            "longTermDebt": "1500000000", "shortTermDebt": "500000000"})
            earnings.append({"fiscalDateEnding": fiscal,
                             "reportedDate": (dates[r] + pd.Timedelta(days=_REPORT_DELAY_DAYS)).date().isoformat(),
                             "reportedEPS": "None", "estimatedEPS": "", "surprise": "None",
                             "surprisePercentage": "None"})
        files = {"INCOME_STATEMENT": {"symbol": sym, "annualReports": [], "quarterlyReports": income},
                 "BALANCE_SHEET": {"symbol": sym, "annualReports": [], "quarterlyReports": balance},
                 "EARNINGS": {"symbol": sym, "annualEarnings": [], "quarterlyEarnings": earnings},
                 "OVERVIEW": {"Symbol": sym, "AssetType": "Common Stock", "Name": f"Synthetic {sym}",
                              "Sector": "SYNTHETIC", "ProfitMargin": "None"}}
        for kind, payload in files.items():
            (root / f"{sym}_{kind}.json").write_text(json.dumps(payload, indent=1))
    return root
