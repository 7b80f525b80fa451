"""FeatureSet: a named block of per-stock state features on the panel's dates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sacfolio.exceptions import DataError

__all__ = ["FeatureSet"]


@dataclass(frozen=True, eq=False)
class FeatureSet:
    """Per-stock features aligned with a :class:`~sacfolio.data.panel.MarketPanel`.

    Attributes
    ----------
    values : ndarray float64, shape (T, N, F)
        Finite feature values; row t uses information up to date t only. Missing
        values are the neutral value 0 and flagged in ``valid``.
    names : tuple of str, length F
        Feature names, e.g. ``("logret_1w", ..., "vol_13w")``; unique.
    dates : ndarray datetime64[D], shape (T,)
    symbols : tuple of str, length N
    valid : ndarray bool, shape (T, N, F), optional
        True where a value was computed from data (False where it is the neutral
        fill). Scalers fit on valid cells only. Default: all True.
    """

    values: np.ndarray
    names: tuple[str, ...]
    dates: np.ndarray
    symbols: tuple[str, ...]
    valid: np.ndarray | None = None

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64)
        names = tuple(str(n) for n in self.names)
        dates = np.asarray(self.dates).astype("datetime64[D]")
        symbols = tuple(str(s) for s in self.symbols)
        shape = (len(dates), len(symbols), len(names))
        if values.shape != shape:
            raise DataError(f"feature values have shape {values.shape}, expected (dates, symbols, "
                            f"names) = {shape}")
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise DataError(f"duplicate feature names {dup}")
        bad = ~np.isfinite(values)
        if bad.any():
            t, n, f = np.argwhere(bad)[0]
            raise DataError(f"feature {names[f]!r} is {float(values[t, n, f])!r} on {dates[t]}; features "
                            "must be finite (fill missing values with the neutral 0)",
                            column=symbols[n], row=int(t))
        valid = np.ones(shape, dtype=bool) if self.valid is None else np.array(self.valid, dtype=bool)
        if valid.shape != shape:
            raise DataError(f"valid mask has shape {valid.shape}, expected {shape}")
        for arr in (values, valid):
            arr.flags.writeable = False
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "valid", valid)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "symbols", symbols)

    @property
    def n_features(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return (f"FeatureSet({len(self.dates)} dates, {len(self.symbols)} symbols, "
                f"features={list(self.names)})")

    @staticmethod
    def concat(*sets: "FeatureSet") -> "FeatureSet":
        """Join feature blocks along the feature axis, in order.

        Raises
        ------
        DataError
            If the blocks' dates or symbols differ, or a name repeats.
        """
        if not sets:
            raise ValueError("concat needs at least one FeatureSet")
        first = sets[0]
        for other in sets[1:]:
            if other.symbols != first.symbols:
                raise DataError(f"feature blocks have different symbols: {list(first.symbols)} "
                                f"vs {list(other.symbols)}")
            if other.dates.shape != first.dates.shape or (other.dates != first.dates).any():
                raise DataError(f"feature blocks have different dates ({len(first.dates)} vs "
                                f"{len(other.dates)} rows, or the same count on other days)")
        return FeatureSet(
            values=np.concatenate([s.values for s in sets], axis=2),
            names=tuple(n for s in sets for n in s.names),
            dates=first.dates,
            symbols=first.symbols,
            valid=np.concatenate([s.valid for s in sets], axis=2),
        )
