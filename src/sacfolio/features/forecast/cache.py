"""The forecast cache: one entry per (model, settings, year, data), written atomically.

Each year's predictions are stored under the cache folder as ``.npz`` arrays with a
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
from pathlib import Path

import numpy as np

from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import DataWarning

__all__ = ["CACHE_FORMAT", "ForecastCache", "data_hash", "entry_key"]

CACHE_FORMAT = 1
"""Version of the entry layout; part of every key."""


def data_hash(panel: MarketPanel, lo: int, hi: int) -> str:
    """SHA-256 of the symbols, dates, closes and availability of rows ``lo:hi``."""
    h = hashlib.sha256()
    h.update("\x1f".join(panel.symbols).encode())
    h.update(panel.dates[lo:hi].astype(np.int64).tobytes())
    h.update(np.where(panel.available[lo:hi], panel.close[lo:hi], 0.0).tobytes())
    h.update(panel.available[lo:hi].tobytes())
    return h.hexdigest()


class ForecastCache:
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
                          DataWarning, stacklevel=4)
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


def entry_key(settings: dict, year: int, panel: MarketPanel, lo: int, hi: int) -> str:
    """Cache key of ``year``'s forecasts: settings, year and the data of rows ``lo:hi``."""
    return hashlib.sha256(json.dumps(
        {"format": CACHE_FORMAT, "settings": settings, "year": year,
         "data": data_hash(panel, lo, hi), "rows": [lo, hi]},
        sort_keys=True).encode()).hexdigest()
