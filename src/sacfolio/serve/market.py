"""The market data the service decides on: loaded once, reloaded when the file changes."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

from sacfolio.data import MarketPanel, load_prices, load_sp500_sample
from sacfolio.exceptions import ServiceRequestError

__all__ = ["MarketData", "DataSource", "load_panel"]


def load_panel(path: Path | None, start: str | None = None) -> MarketPanel:
    """The embedded S&P 500 sample (``path=None``) or a CSV/Parquet price file."""
    if path is None:
        return load_sp500_sample(start=start)
    return load_prices(path, start=start)


@dataclass(frozen=True, kw_only=True)
class MarketData:
    """One loaded panel and where it came from.

    Attributes
    ----------
    panel : MarketPanel
    token : int
        Increases with every reload; models cache their simulator per token.
    loaded_at : datetime
    mtime : float or None
        Modification time of the file when it was read (None: embedded sample).
    """

    panel: MarketPanel
    token: int
    loaded_at: datetime
    mtime: float | None

    def row_for(self, as_of: date | None) -> int:
        """Row of the last date at or before ``as_of`` (point in time); default the last row.

        A date before the first row, or later than one data interval past the last
        row (the last weekly close still describes the week after it, not a month
        later), is outside the data.

        Raises
        ------
        ServiceRequestError
            422 naming the data's first and last date.
        """
        dates = self.panel.dates
        if as_of is None:
            return len(dates) - 1
        d = np.datetime64(as_of, "D")
        step = dates[-1] - dates[-2] if len(dates) > 1 else np.timedelta64(1, "D")
        if d < dates[0] or d >= dates[-1] + step:
            raise ServiceRequestError(
                f"as_of {as_of.isoformat()} is outside the data ({self.panel.source}: {dates[0]} .. "
                f"{dates[-1]}, one row every {int(step.astype(int))} days); pick a date in that range")
        return int(np.searchsorted(dates, d, side="right")) - 1

    def freshness(self) -> dict[str, object]:
        """Source, first and last date, rows, when loaded and how old the last row is."""
        p = self.panel
        last = p.dates[-1].astype("datetime64[D]").astype(object)
        return {
            "source": p.source, "symbols": list(p.symbols), "first_date": str(p.dates[0]),
            "last_date": str(p.dates[-1]), "n_dates": p.n_dates,
            "loaded_at": self.loaded_at.isoformat(),
            "age_days": (datetime.now(timezone.utc).date() - last).days,
        }


class DataSource:
    """Loads the configured prices and reloads them when the file's mtime changes.

    Parameters
    ----------
    path : Path or None
        Price file; None is the embedded sample, which never changes.
    start : str, optional
        Drop rows before this ISO date.
    """

    def __init__(self, path: Path | None, start: str | None = None) -> None:
        self.path = path
        self.start = start
        self._lock = threading.Lock()
        self._data = self._read(token=1)

    def _mtime(self) -> float | None:
        return None if self.path is None else self.path.stat().st_mtime

    def _read(self, token: int) -> MarketData:
        mtime = self._mtime()
        panel = load_panel(self.path, self.start)
        return MarketData(panel=panel, token=token, loaded_at=datetime.now(timezone.utc), mtime=mtime)

    @property
    def current(self) -> MarketData:
        """The latest successfully loaded data."""
        return self._data

    def refresh(self) -> bool:
        """Reload if the file changed; True when new data is in place.

        A file that fails to load (half-written, invalid) leaves the previous data in
        place; the :class:`~sacfolio.exceptions.DataError` propagates to the caller.
        """
        if self.path is None:
            return False
        with self._lock:
            if self._mtime() == self._data.mtime:
                return False
            self._data = self._read(token=self._data.token + 1)
            return True
