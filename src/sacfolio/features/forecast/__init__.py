"""Walk-forward next-week return forecasts (LSTM or PatchTST) and their quality per year.

:mod:`.config` holds the settings, :mod:`.models` the two networks, :mod:`.samples`
the weekly return windows and targets, :mod:`.fit` the year-by-year training (one
model per calendar year, trained before it), :mod:`.cache` the on-disk year entries
and :mod:`.quality` the out-of-sample scores against momentum and zero.
"""

from sacfolio.features.forecast.config import FORECASTERS, ForecastConfig, ForecasterName
from sacfolio.features.forecast.fit import ForecastResult, YearFit, forecast_features, walk_forward_forecasts
from sacfolio.features.forecast.quality import YearQuality, forecast_quality, format_quality_table
from sacfolio.features.forecast.samples import weekly_log_returns

__all__ = [
    "FORECASTERS",
    "ForecastConfig",
    "ForecastResult",
    "ForecasterName",
    "YearFit",
    "YearQuality",
    "format_quality_table",
    "forecast_features",
    "forecast_quality",
    "walk_forward_forecasts",
    "weekly_log_returns",
]
