"""The observation layout: what each entry of the flat state means, computed once.

The state at row t is ``features[symbol][feature]`` (symbol-major) followed by the
current weights of the symbols and CASH. The env, the saved model's ``config.json``
and serving all take their sizes from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from sacfolio.exceptions import LayoutMismatchError

__all__ = ["ObservationLayout", "observation_dim"]

ORDER = "features[symbol][feature] then weights[symbols..., CASH]"


def observation_dim(n_symbols: int, n_features: int) -> int:
    """Length of the flat state: ``N * F`` features, then ``N + 1`` weights."""
    return n_symbols * n_features + n_symbols + 1


@dataclass(frozen=True, kw_only=True)
class ObservationLayout:
    """Symbols and feature names of a state, and the sizes they imply.

    Attributes
    ----------
    symbols : tuple of str
        The order of the symbol slots (the action's first N entries; CASH is last).
    features : tuple of str
        Per-symbol feature names, in the order of the feature axis.
    """

    symbols: tuple[str, ...]
    features: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbols", tuple(str(s) for s in self.symbols))
        object.__setattr__(self, "features", tuple(str(f) for f in self.features))

    @property
    def obs_dim(self) -> int:
        return observation_dim(len(self.symbols), len(self.features))

    @property
    def act_dim(self) -> int:
        return len(self.symbols) + 1

    def to_dict(self) -> dict[str, Any]:
        """The ``state_layout`` block of ``config.json``."""
        return {"features": list(self.features), "symbols": list(self.symbols),
                "obs_dim": self.obs_dim, "act_dim": self.act_dim, "order": ORDER}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ObservationLayout":
        """Inverse of :meth:`to_dict`; recorded sizes must agree with the names."""
        layout = cls(symbols=tuple(data["symbols"]), features=tuple(data["features"]))
        for key in ("obs_dim", "act_dim"):
            if key in data and int(data[key]) != getattr(layout, key):
                raise LayoutMismatchError(f"state_layout.{key}={data[key]} does not fit "
                                          f"{len(layout.symbols)} symbols x {len(layout.features)} features "
                                          f"(expected {getattr(layout, key)})")
        return layout
