"""Per-feature standardization fitted on the training rows only (saved as scaler.json)."""

from __future__ import annotations

import numpy as np

from sacfolio.exceptions import DataError
from sacfolio.features.blocks import FeatureSet

__all__ = ["FeatureScaler"]

_MIN_STD = 1e-12


class FeatureScaler:
    """Standardize each feature with the mean and std of training rows.

    scikit-learn contract: ``__init__`` stores nothing learned, :meth:`fit` learns
    ``mean_``, ``std_``, ``names_`` and ``stop_``. Only valid cells of rows
    ``< stop`` are used, so nothing at or after ``stop`` leaks into the fit.
    :meth:`transform` maps valid cells to ``(x - mean_) / std_`` and keeps invalid
    (neutral-filled) cells at 0, which after standardization is the mean.
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.names_: tuple[str, ...] | None = None
        self.stop_: int | None = None

    def fit(self, features: FeatureSet, stop: int) -> "FeatureScaler":
        """Learn per-feature mean and std (ddof=0) from valid cells of rows ``[0, stop)``.

        Parameters
        ----------
        features : FeatureSet
            Values of shape (T, N, F).
        stop : int
            First row not used, ``1 <= stop <= T``.

        Returns
        -------
        FeatureScaler
            ``self``, fitted. Features with no valid cell get mean 0 and std 1;
            constant features get std 1.
        """
        T = len(features.dates)
        if not isinstance(stop, (int, np.integer)) or not 1 <= stop <= T:
            raise DataError(f"scaler stop={stop!r} must be a row in [1, {T}] (the first row not fitted)")
        x = features.values[:stop]
        ok = features.valid[:stop]
        count = ok.sum(axis=(0, 1))
        denom = np.maximum(count, 1)
        mean = np.where(ok, x, 0.0).sum(axis=(0, 1)) / denom
        var = np.where(ok, (x - mean) ** 2, 0.0).sum(axis=(0, 1)) / denom
        std = np.sqrt(var)
        self.mean_ = np.where(count > 0, mean, 0.0)
        self.std_ = np.where((count > 0) & (std > _MIN_STD), std, 1.0)
        self.names_ = features.names
        self.stop_ = int(stop)
        return self

    def _check_fitted(self) -> None:
        if self.mean_ is None or self.std_ is None or self.names_ is None:
            raise RuntimeError("FeatureScaler is not fitted: call fit(features, stop) first")

    def transform(self, features: FeatureSet) -> FeatureSet:
        """Standardized copy of ``features`` (same dates, symbols, names and valid mask).

        Raises
        ------
        DataError
            If the feature names differ from those seen in :meth:`fit`.
        """
        self._check_fitted()
        if features.names != self.names_:
            raise DataError(f"features {list(features.names)} do not match the scaler's "
                            f"{list(self.names_)}", fix="Fit the scaler on the same feature layout.")
        scaled = np.where(features.valid, (features.values - self.mean_) / self.std_, 0.0)
        return FeatureSet(values=scaled, names=features.names, dates=features.dates,
                          symbols=features.symbols, valid=features.valid)

    def fit_transform(self, features: FeatureSet, stop: int) -> FeatureSet:
        """:meth:`fit` on rows ``< stop``, then :meth:`transform` all rows."""
        return self.fit(features, stop).transform(features)

    def to_dict(self) -> dict:
        """JSON-able learned state: ``{"names", "mean", "std", "stop"}``."""
        self._check_fitted()
        return {"names": list(self.names_), "mean": [float(v) for v in self.mean_],
                "std": [float(v) for v in self.std_], "stop": self.stop_}

    @classmethod
    def from_dict(cls, state: dict) -> "FeatureScaler":
        """Rebuild a fitted scaler from :meth:`to_dict` output (e.g. a loaded scaler.json)."""
        try:
            names = tuple(str(n) for n in state["names"])
            mean = np.asarray(state["mean"], dtype=np.float64)
            std = np.asarray(state["std"], dtype=np.float64)
            stop = int(state["stop"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"scaler state is malformed ({exc!r}); expected keys names, mean, std, stop") from exc
        if mean.shape != (len(names),) or std.shape != (len(names),):
            raise DataError(f"scaler state has {len(names)} names but mean {mean.shape} and std {std.shape}")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise DataError("scaler state has non-finite means or non-positive stds")
        scaler = cls()
        scaler.mean_, scaler.std_, scaler.names_, scaler.stop_ = mean, std, names, stop
        return scaler
