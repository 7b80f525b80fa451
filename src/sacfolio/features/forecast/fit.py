"""Walk-forward next-week return forecasts (LSTM or PatchTST), one model per calendar year.

For every calendar year Y of the panel, one model is trained on the samples whose
decision date lies in the ``train_years`` years before Y *and* whose target (the
following week's return) is dated before 1 January Y, so nothing of Y reaches the
model (:func:`sacfolio.data.splits.year_split` with ``test_by="decision_year"``). It
then predicts every week of Y. One model serves all stocks (channel independence).
The forecast at row t therefore uses closes up to t and a model fitted on data
before t's year: it is point in time. Years are cached (:mod:`.cache`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from sacfolio.data.panel import MarketPanel
from sacfolio.data.splits import calendar_years, year_split
from sacfolio.exceptions import DataWarning
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.forecast.cache import ForecastCache, entry_key
from sacfolio.features.forecast.config import ForecastConfig
from sacfolio.features.forecast.samples import ForecastSamples, forecast_samples

__all__ = ["CLIP", "ForecastResult", "YearFit", "fit_predict", "forecast_features", "walk_forward_forecasts"]

CLIP = 5.0
"""Standardized inputs and targets are clipped to +-5 training stds (fat-tailed weeks)."""


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


def fit_predict(config: ForecastConfig, year: int, x_train: np.ndarray, y_train: np.ndarray,
                 x_pred: np.ndarray) -> tuple[np.ndarray, float]:
    """Train a fresh network on (x_train (S, L), y_train (S,)); predict x_pred (P, L) -> (P,)."""
    scale = float(np.std(y_train)) or 1.0
    xs = torch.from_numpy(np.clip(x_train / scale, -CLIP, CLIP)).float()
    ys = torch.from_numpy(np.clip(y_train / scale, -CLIP, CLIP)).float()
    xp = torch.from_numpy(np.clip(x_pred / scale, -CLIP, CLIP)).float()
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
    cache = ForecastCache(None if cache_dir is None else Path(cache_dir))
    samples = forecast_samples(panel, config.lookback)
    all_years = np.unique(calendar_years(panel.dates))
    todo = [int(y) for y in (all_years if years is None else years)]
    T, N = samples.returns.shape
    values, valid = np.zeros((T, N)), np.zeros((T, N), dtype=bool)
    fits: list[YearFit] = []
    skipped: list[int] = []
    settings = config.to_dict()

    from rich.progress import Progress

    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task(f"{config.model} walk-forward", total=len(todo))
        for year in todo:
            bar.update(task, description=f"{config.model} forecasts {year}")
            fit = _forecast_year(panel, config, settings, cache, samples, year, values, valid)
            if fit is None:
                skipped.append(year)
            else:
                fits.append(fit)
            bar.advance(task)
    if skipped:
        warnings.warn(f"{config.model} forecasts skipped {len(skipped)} year(s) with fewer than "
                      f"{config.min_train_samples} training samples or no dates: {skipped}; their "
                      "forecasts are neutral (0) and marked invalid", DataWarning, stacklevel=2)
    values.flags.writeable = False
    valid.flags.writeable = False
    return ForecastResult(values=values, valid=valid, fits=tuple(fits), config=config,
                          skipped_years=tuple(skipped))


def _forecast_year(panel: MarketPanel, config: ForecastConfig, settings: dict, cache: ForecastCache,
                   samples: ForecastSamples, year: int, values: np.ndarray,
                   valid: np.ndarray) -> YearFit | None:
    """Fit (or read from the cache) the model of ``year`` and write its forecasts into
    ``values``/``valid``; None when the year has too few training samples or no dates."""
    split = year_split(panel.dates, year, test_by="decision_year", train_years=config.train_years)
    train_rows, predict_rows = split.train_rows, split.test_rows
    ok_input, target, windows = samples.ok_input, samples.target, samples.windows
    t_idx, n_idx = np.nonzero(ok_input[train_rows] & np.isfinite(target[train_rows]))
    t_idx = train_rows[t_idx]
    if len(t_idx) < config.min_train_samples or len(predict_rows) == 0:
        return None
    p_t, p_n = np.nonzero(ok_input[predict_rows])
    p_t = predict_rows[p_t]
    lo = max(0, int(train_rows[0]) - config.lookback)
    hi = int(predict_rows[-1]) + 1
    key = entry_key(settings, year, panel, lo, hi)
    stem = cache.path(config.model, year, key) if cache.root is not None else None
    entry = cache.load(stem, key) if stem is not None else None
    if entry is not None and entry["pred"].shape == (len(p_t),):
        pred, loss, cached = entry["pred"], float(entry["loss"]), True
    else:
        pred, loss = fit_predict(config, year, windows[t_idx, n_idx], target[t_idx, n_idx],
                                 windows[p_t, p_n])
        cached = False
        if stem is not None:
            cache.store(stem, key, {"model": config.model, "year": year, "settings": settings,
                                    "n_train": int(len(t_idx)), "n_pred": int(len(p_t))},
                        {"pred": pred, "loss": np.float64(loss)})
    values[p_t, p_n] = pred
    valid[p_t, p_n] = True
    return YearFit(year, t_idx, n_idx, predict_rows, loss, cached)


def forecast_features(panel: MarketPanel, result: ForecastResult) -> FeatureSet:
    """The forecast as a one-feature block named ``"forecast"``, shape (T, N, 1)."""
    return FeatureSet(values=result.values[:, :, None], names=("forecast",), dates=panel.dates,
                      symbols=panel.symbols, valid=result.valid[:, :, None])
