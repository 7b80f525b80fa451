"""Where prices come from: the embedded sample, price files and yfinance.

Every source ends in :func:`~sacfolio.data.sources.assemble.panel_from_frames`:
optional resampling to weekly closes, forward-fill of short gaps, a
:class:`~sacfolio.exceptions.DataWarning` about repairs and an optional date window.
"""

from sacfolio.data.sources.files import load_prices
from sacfolio.data.sources.sample import load_sp500_sample
from sacfolio.data.sources.yfinance import load_yfinance

__all__ = ["load_prices", "load_sp500_sample", "load_yfinance"]
