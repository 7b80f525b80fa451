"""Walk-forward next-week return forecasts (LSTM or PatchTST) and their quality per year.

For every calendar year Y of the panel, one model is trained on the samples whose
decision date lies in the ``train_years`` years before Y *and* whose target (the
following week's return) is dated before 1 January Y, so nothing of Y reaches the
model. It then predicts every week of Y. A sample is one stock at one decision row
t: the input is its last ``lookback`` weekly log returns (closes t-L..t), the target
its next log return ``log(close[t+1] / close[t])``. One model serves all stocks
(channel independence). The forecast at row t therefore uses closes up to t and a
model fitted on data before t's year: it is point in time.

Each year's predictions are cached under ``cache_dir`` as ``.npz`` arrays with a
``.json`` sidecar, keyed by model, settings, year and a hash of exactly the data the
year depends on; files are written to a temporary name and renamed, so a crash
leaves either a whole entry or none, and a damaged entry is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from scipy.stats import rankdata

from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError, DataWarning
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.forecast_models import LSTMForecaster, PatchTSTForecaster

__all__ = [
    "ForecastConfig",
    "ForecastResult",
    "YearFit",
    "YearQuality",
    "format_quality_table",
    "forecast_features",
    "forecast_quality",
    "walk_forward_forecasts",
    "walk_forward_rows",
    "weekly_log_returns",
]

ForecasterName = Literal["lstm", "patchtst"]
_MODELS: tuple[str, ...] = ("lstm", "patchtst")
_CLIP = 5.0
"""Standardized inputs and targets are clipped to +-5 training stds (fat-tailed weeks)."""
_CACHE_FORMAT = 1


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
        if self.model not in _MODELS:
            raise ConfigError(f"forecaster model={self.model!r} is unknown; choose from {list(_MODELS)}.")
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


class YearFit(NamedTuple):
    """What the model of one forecast year was trained on.

    Attributes
    ----------
    year : int
    train_rows : ndarray int, shape (S,)
        Decision row t of each training sample (input closes t-L..t, target close t+1).
    train_symbols : ndarray int, shape (S,)
        Stock index of each training sample.
    predict_rows : ndarray int, shape (P,)
        Rows of the panel dated in ``year``.
    final_loss : float
        Mean training loss (standardized MSE) of the last epoch; NaN when not trained.
    cached : bool
        True when the predictions came from the cache.
    """

    year: int
    train_rows: np.ndarray
    train_symbols: np.ndarray
    predict_rows: np.ndarray
    final_loss: float
    cached: bool


@dataclass(frozen=True, eq=False)
class ForecastResult:
    """Walk-forward forecasts of next week's log return.

    Attributes
    ----------
    values : ndarray float64, shape (T, N)
        Forecast at decision row t of ``log(close[t+1] / close[t])``; 0 where invalid.
    valid : ndarray bool, shape (T, N)
        True where a model and a full input window existed.
    fits : tuple of YearFit
        One per forecast year, in order.
    config : ForecastConfig
    """

    values: np.ndarray
    valid: np.ndarray
    fits: tuple[YearFit, ...]
    config: ForecastConfig
    skipped_years: tuple[int, ...] = field(default=())


# ----------------------------------------------------------------------------- helpers
def weekly_log_returns(panel: MarketPanel) -> np.ndarray:
    """Log returns ``log(close[t] / close[t-1])``, shape (T, N); NaN where undefined."""
    with np.errstate(invalid="ignore", divide="ignore"):
        log_close = np.log(panel.close)
    out = np.full(panel.close.shape, np.nan)
    out[1:] = log_close[1:] - log_close[:-1]
    return out


def _years(dates: np.ndarray) -> np.ndarray:
    return dates.astype("datetime64[Y]").astype(np.int64) + 1970


def _year_start(year: int) -> np.datetime64:
    return np.datetime64(f"{year:04d}-01-01", "D")


def walk_forward_rows(dates: np.ndarray, year: int, *, train_years: int) -> tuple[np.ndarray, np.ndarray]:
    """Decision rows that train and are predicted by the model of ``year``.

    Parameters
    ----------
    dates : ndarray datetime64[D], shape (T,)
    year : int
    train_years : int

    Returns
    -------
    train_rows : ndarray int
        Rows t with ``year - train_years <= year(dates[t])`` and ``dates[t+1] < year-01-01``:
        the target of every sample is observed before the forecast year.
    predict_rows : ndarray int
        Rows dated in ``year``.
    """
    dates = np.asarray(dates).astype("datetime64[D]")
    start, lo = _year_start(year), _year_start(year - train_years)
    rows = np.arange(len(dates) - 1)
    train = rows[(dates[:-1] >= lo) & (dates[1:] < start)]
    predict = np.flatnonzero(_years(dates) == year)
    return train, predict


def _windows(returns: np.ndarray, lookback: int) -> np.ndarray:
    """Windows of the last ``lookback`` returns ending at each row, shape (T, N, L); NaN-padded."""
    T, N = returns.shape
    out = np.full((T, N, lookback), np.nan)
    if T >= lookback:
        out[lookback - 1:] = sliding_window_view(returns, lookback, axis=0)
    return out


def _data_hash(panel: MarketPanel, lo: int, hi: int) -> str:
    h = hashlib.sha256()
    h.update("\x1f".join(panel.symbols).encode())
    h.update(panel.dates[lo:hi].astype(np.int64).tobytes())
    h.update(np.where(panel.available[lo:hi], panel.close[lo:hi], 0.0).tobytes())
    h.update(panel.available[lo:hi].tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------- cache
class _Cache:
    """Year entries ``<key>.npz`` (arrays) + ``<key>.json`` (settings, checksum of the npz)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)

    def path(self, model: str, year: int, key: str) -> Path:
        assert self.root is not None
        return self.root / f"forecast-{model}-{year}-{key[:20]}"

    def load(self, stem: Path, key: str) -> dict[str, np.ndarray] | None:
        meta_path, arr_path = stem.with_suffix(".json"), stem.with_suffix(".npz")
        if not (meta_path.exists() and arr_path.exists()):
            return None
        try:
            meta = json.loads(meta_path.read_text())
            blob = arr_path.read_bytes()
            if meta.get("key") != key or meta.get("npz_sha256") != hashlib.sha256(blob).hexdigest():
                raise ValueError("key or checksum mismatch")
            with np.load(arr_path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, KeyError) as exc:
            warnings.warn(f"forecast cache entry {stem} is damaged ({exc}); recomputing it",
                          DataWarning, stacklevel=3)
            return None

    def store(self, stem: Path, key: str, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        fd, tmp = tempfile.mkstemp(dir=stem.parent, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            digest = hashlib.sha256(Path(tmp).read_bytes()).hexdigest()
            os.replace(tmp, stem.with_suffix(".npz"))
            fd, tmp = tempfile.mkstemp(dir=stem.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w") as fh:
                json.dump({**meta, "key": key, "npz_sha256": digest}, fh, indent=1)
            os.replace(tmp, stem.with_suffix(".json"))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


# ---------------------------------------------------------------------------- training
def _fit_predict(config: ForecastConfig, year: int, x_train: np.ndarray, y_train: np.ndarray,
                 x_pred: np.ndarray) -> tuple[np.ndarray, float]:
    """Train a fresh network on (x_train (S, L), y_train (S,)); predict x_pred (P, L) -> (P,)."""
    scale = float(np.std(y_train)) or 1.0
    xs = torch.from_numpy(np.clip(x_train / scale, -_CLIP, _CLIP)).float()
    ys = torch.from_numpy(np.clip(y_train / scale, -_CLIP, _CLIP)).float()
    xp = torch.from_numpy(np.clip(x_pred / scale, -_CLIP, _CLIP)).float()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed + year)
        net = config.build_network()
        opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        gen = torch.Generator().manual_seed(config.seed + year)
        net.train()
        last = float("nan")
        for _ in range(config.epochs):
            order = torch.randperm(len(xs), generator=gen)
            total = torch.zeros(())
            for b in range(0, len(xs), config.batch_size):
                idx = order[b:b + config.batch_size]
                loss = torch.mean((net(xs[idx]) - ys[idx]) ** 2)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach() * len(idx)
            last = float(total) / len(xs)
        net.eval()
        with torch.no_grad():
            pred = net(xp).double().numpy() * scale if len(xp) else np.zeros(0)
    return pred, last


def walk_forward_forecasts(
    panel: MarketPanel,
    config: ForecastConfig | None = None,
    *,
    years: Sequence[int] | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> ForecastResult:
    """Forecast each stock's next-week log return, year by year, without look-ahead.

    Parameters
    ----------
    panel : MarketPanel
        Weekly closes, shape (T, N).
    config : ForecastConfig, optional
        Model and training settings; default ``ForecastConfig()`` (LSTM).
    years : sequence of int, optional
        Years to forecast; default every year of the panel. A year with fewer than
        ``config.min_train_samples`` training samples is skipped (reported in
        ``skipped_years`` and by a :class:`DataWarning`, never silently).
    cache_dir : path, optional
        Directory of cached year entries; ``None`` disables caching.
    progress : bool
        Show a progress bar over the years.

    Returns
    -------
    ForecastResult
        ``values`` and ``valid`` of shape (T, N).
    """
    config = ForecastConfig() if config is None else config
    cache = _Cache(None if cache_dir is None else Path(cache_dir))
    returns = weekly_log_returns(panel)
    windows = _windows(returns, config.lookback)                     # (T, N, L)
    ok_input = np.isfinite(windows).all(axis=2)                     # (T, N)
    target = np.full_like(returns, np.nan)
    target[:-1] = returns[1:]
    all_years = np.unique(_years(panel.dates))
    todo = [int(y) for y in (all_years if years is None else years)]
    T, N = returns.shape
    values, valid = np.zeros((T, N)), np.zeros((T, N), dtype=bool)
    fits: list[YearFit] = []
    skipped: list[int] = []
    settings = config.to_dict()

    from rich.progress import Progress

    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task(f"{config.model} walk-forward", total=len(todo))
        for year in todo:
            bar.update(task, description=f"{config.model} forecasts {year}")
            train_rows, predict_rows = walk_forward_rows(panel.dates, year, train_years=config.train_years)
            t_idx, n_idx = np.nonzero(ok_input[train_rows] & np.isfinite(target[train_rows]))
            t_idx = train_rows[t_idx]
            if len(t_idx) < config.min_train_samples or len(predict_rows) == 0:
                skipped.append(year)
                bar.advance(task)
                continue
            p_t, p_n = np.nonzero(ok_input[predict_rows])
            p_t = predict_rows[p_t]
            lo = max(0, int(train_rows[0]) - config.lookback)
            hi = int(predict_rows[-1]) + 1
            key = hashlib.sha256(json.dumps(
                {"format": _CACHE_FORMAT, "settings": settings, "year": year,
                 "data": _data_hash(panel, lo, hi), "rows": [lo, hi]},
                sort_keys=True).encode()).hexdigest()
            stem = cache.path(config.model, year, key) if cache.root is not None else None
            entry = cache.load(stem, key) if stem is not None else None
            if entry is not None and entry["pred"].shape == (len(p_t),):
                pred, loss, cached = entry["pred"], float(entry["loss"]), True
            else:
                pred, loss = _fit_predict(config, year, windows[t_idx, n_idx], target[t_idx, n_idx],
                                          windows[p_t, p_n])
                cached = False
                if stem is not None:
                    cache.store(stem, key, {"model": config.model, "year": year, "settings": settings,
                                            "n_train": int(len(t_idx)), "n_pred": int(len(p_t))},
                                {"pred": pred, "loss": np.float64(loss)})
            values[p_t, p_n] = pred
            valid[p_t, p_n] = True
            fits.append(YearFit(year, t_idx, n_idx, predict_rows, loss, cached))
            bar.advance(task)
    if skipped:
        warnings.warn(f"{config.model} forecasts skipped {len(skipped)} year(s) with fewer than "
                      f"{config.min_train_samples} training samples or no dates: {skipped}; their "
                      "forecasts are neutral (0) and marked invalid", DataWarning, stacklevel=2)
    values.flags.writeable = False
    valid.flags.writeable = False
    return ForecastResult(values=values, valid=valid, fits=tuple(fits), config=config,
                          skipped_years=tuple(skipped))


def forecast_features(panel: MarketPanel, result: ForecastResult) -> FeatureSet:
    """The forecast as a one-feature block named ``"forecast"``, shape (T, N, 1)."""
    return FeatureSet(values=result.values[:, :, None], names=("forecast",), dates=panel.dates,
                      symbols=panel.symbols, valid=result.valid[:, :, None])


# ----------------------------------------------------------------------------- quality
class YearQuality(NamedTuple):
    """Out-of-sample quality of one year's forecasts (weekly decision rows of that year).

    ``ic`` is the mean over weeks of the Spearman rank correlation across stocks
    between forecast and realized next-week return; ``hit_rate`` the share of
    (week, stock) cells whose forecast sign matches the realized sign; ``r2_oos``
    is ``1 - SSE(forecast) / SSE(zero forecast)`` (> 0: beats predicting zero).
    The ``*_momentum`` fields score the naive momentum forecast (mean log return of
    the past ``lookback`` weeks) on the same cells.
    """

    year: int
    n_weeks: int
    n_obs: int
    ic: float
    ic_momentum: float
    hit_rate: float
    hit_rate_momentum: float
    r2_oos: float
    r2_oos_momentum: float


def _mean_rank_ic(pred: np.ndarray, real: np.ndarray, mask: np.ndarray) -> float:
    """Mean over rows (with >= 3 cells) of the Spearman correlation of pred and real, (W, N).

    Ranks are average ranks (ties share their mean rank); a row where either side is
    constant has IC 0.
    """
    ics = []
    for i in range(pred.shape[0]):  # one row per week
        m = mask[i]
        if m.sum() < 3:
            continue
        a, b = rankdata(pred[i, m]), rankdata(real[i, m])
        a, b = a - a.mean(), b - b.mean()
        denom = np.sqrt((a * a).sum() * (b * b).sum())
        ics.append(float((a * b).sum() / denom) if denom > 0 else 0.0)
    return float(np.mean(ics)) if ics else float("nan")


def forecast_quality(panel: MarketPanel, result: ForecastResult) -> list[YearQuality]:
    """Per-year rank IC, hit rate and out-of-sample R^2 of the forecasts vs momentum and zero.

    Parameters
    ----------
    panel : MarketPanel
        The panel the forecasts were made on, shape (T, N).
    result : ForecastResult

    Returns
    -------
    list of YearQuality
        One per forecast year with at least one scored cell, in order.
    """
    returns = weekly_log_returns(panel)
    real = np.full_like(returns, np.nan)
    real[:-1] = returns[1:]
    lookback = result.config.lookback
    momentum = np.nan_to_num(_windows(returns, lookback).mean(axis=2))
    out = []
    for fit in result.fits:
        rows = fit.predict_rows
        mask = result.valid[rows] & np.isfinite(real[rows])
        if not mask.any():
            continue
        p, m, y = result.values[rows], momentum[rows], np.where(mask, real[rows], 0.0)
        sse_zero = float((y[mask] ** 2).sum())
        out.append(YearQuality(
            year=fit.year,
            n_weeks=int(mask.any(axis=1).sum()),
            n_obs=int(mask.sum()),
            ic=_mean_rank_ic(p, y, mask),
            ic_momentum=_mean_rank_ic(m, y, mask),
            hit_rate=float((np.sign(p[mask]) == np.sign(y[mask])).mean()),
            hit_rate_momentum=float((np.sign(m[mask]) == np.sign(y[mask])).mean()),
            r2_oos=1.0 - float(((y - p)[mask] ** 2).sum()) / sse_zero if sse_zero > 0 else float("nan"),
            r2_oos_momentum=(1.0 - float(((y - m)[mask] ** 2).sum()) / sse_zero
                             if sse_zero > 0 else float("nan")),
        ))
    return out


def format_quality_table(rows: Sequence[YearQuality], *, title: str = "") -> str:
    """A plain-text table of :func:`forecast_quality` rows with a mean row at the bottom."""
    head = f"{'year':>6} {'weeks':>5} {'IC':>7} {'IC mom':>7} {'hit':>6} {'hit mom':>7} {'R2oos':>8} {'R2 mom':>8}"
    lines = ([title] if title else []) + [head]
    for q in rows:
        lines.append(f"{q.year:>6} {q.n_weeks:>5} {q.ic:>7.3f} {q.ic_momentum:>7.3f} {q.hit_rate:>6.3f} "
                     f"{q.hit_rate_momentum:>7.3f} {q.r2_oos:>8.4f} {q.r2_oos_momentum:>8.4f}")
    if rows:
        mean = lambda f: float(np.nanmean([getattr(q, f) for q in rows]))  # noqa: E731
        lines.append(f"{'mean':>6} {sum(q.n_weeks for q in rows):>5} {mean('ic'):>7.3f} "
                     f"{mean('ic_momentum'):>7.3f} {mean('hit_rate'):>6.3f} "
                     f"{mean('hit_rate_momentum'):>7.3f} {mean('r2_oos'):>8.4f} "
                     f"{mean('r2_oos_momentum'):>8.4f}")
    return "\n".join(lines)
