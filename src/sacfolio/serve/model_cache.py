"""The models being served: loaded from the registry's ``current``, hot-reloaded, never lost.

Every model name has a :class:`ModelSlot`. :meth:`ModelCache.refresh` reads the
``current`` pointer and loads a version when the pointer or the data changed. A
version that fails to load leaves the previous one serving and its error in
``/health``; with nothing loaded, inference falls back to static weights. Requests
only read an immutable :class:`ServingModel` (policy and simulator cached per
version and data), so they never wait for a load. Each :class:`ServingModel` also
keeps its answers (:class:`AnswerCache`): a new version or new data is a new
``ServingModel`` with an empty cache, so a promotion invalidates every answer at once.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sacfolio.broker.rules import PortfolioRules
from sacfolio.env.core import PortfolioCore
from sacfolio.exceptions import SacfolioError
from sacfolio.features.variants import variant_of_model
from sacfolio.model import BUNDLE_FILES, ModelBundle, load_bundle
from sacfolio.registry import Registry
from sacfolio.serve.market import DataSource, MarketData

__all__ = ["AnswerCache", "ServingModel", "ModelSlot", "ModelCache"]

logger = logging.getLogger(__name__)

ANSWERS_PER_VERSION = 1024


class AnswerCache:
    """At most ``size`` serialized answers of one :class:`ServingModel` by request key; the least
    recently used goes first. Thread-safe (hits are read on the event loop, misses are
    filled from the thread pool).

    Parameters
    ----------
    size : int
        Most entries kept (>= 1).
    """

    def __init__(self, size: int = ANSWERS_PER_VERSION) -> None:
        if size < 1:
            raise ValueError(f"an answer cache holds at least 1 entry, got size={size}")
        self.size = size
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> bytes | None:
        """The answer stored under ``key`` (now the most recently used), or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: bytes) -> None:
        """Store ``value`` under ``key``, dropping the least recently used entry when full."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)


@dataclass(frozen=True, kw_only=True)
class ServingModel:
    """One loaded version, ready to answer requests.

    Attributes
    ----------
    name, version : str
    bundle : ModelBundle
        Policy (numpy, microseconds per call), aux heads, scaler, layout and rules.
    core : PortfolioCore
        Simulator over ``data.panel`` with this model's scaled features.
    data : MarketData
        The data ``core`` was built from.
    metadata : dict
        The version's ``metadata.json``.
    promoted_at : str or None
        Time of the promotion that made it current (from ``promotions.jsonl``).
    loaded_at : datetime
    answers : AnswerCache
        Serialized answers of this version on this data, by request (filled by the API).
    """

    name: str
    version: str
    bundle: ModelBundle
    core: PortfolioCore
    data: MarketData
    metadata: dict[str, Any]
    promoted_at: str | None
    loaded_at: datetime
    answers: AnswerCache = field(default_factory=AnswerCache, compare=False, repr=False)


@dataclass(kw_only=True)
class ModelSlot:
    """What the service knows about one model name.

    Attributes
    ----------
    serving : ServingModel or None
    current : str or None
        The registry's ``current`` at the last check.
    load_error : str or None
        Why the last load of ``error_version`` failed (None after a good load).
    error_version : str or None
    checked_at : datetime or None
    rules : PortfolioRules or None
        The rules of the last version served under this name: the static fallback
        trades under them (the broker's defaults before any version loaded).
    """

    serving: ServingModel | None = None
    current: str | None = None
    load_error: str | None = None
    error_version: str | None = None
    error_data_token: int | None = None
    checked_at: datetime | None = None
    rules: PortfolioRules | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fallback_reason(self, name: str, root: str) -> str:
        """Why requests for ``name`` get the static weights."""
        if self.load_error:
            return f"model {name} version {self.error_version} failed to load: {self.load_error}"
        return (f"no promoted version of {name} in the registry at {root}; "
                f"train one with POST /train/{name}/full")


def _promoted_at(registry: Registry, name: str, version: str) -> str | None:
    for entry in reversed(registry.history(name)):
        if entry.get("promoted") and entry.get("version") == version:
            return entry.get("time")
    return None


class ModelCache:
    """Loaded models by name, refreshed from a registry.

    Parameters
    ----------
    registry : Registry
    names : list of str
        Model names the service serves.
    data : DataSource
    answers_per_version : int
        Size of each loaded version's :class:`AnswerCache`.
    """

    def __init__(self, registry: Registry, names: list[str], data: DataSource, *,
                 answers_per_version: int = ANSWERS_PER_VERSION) -> None:
        self.registry = registry
        self.names = list(names)
        self.data = data
        if answers_per_version < 1:
            raise ValueError(f"answers_per_version must be >= 1, got {answers_per_version}")
        self.answers_per_version = answers_per_version
        self.slots: dict[str, ModelSlot] = {n: ModelSlot() for n in self.names}

    def serving(self, name: str) -> ServingModel | None:
        """The version answering requests for ``name`` (None: fallback)."""
        return self.slots[name].serving

    def refresh_all(self) -> None:
        """Reload the data if its file changed, then :meth:`refresh` every name."""
        try:
            self.data.refresh()
        except SacfolioError as exc:
            logger.error("price data reload failed, keeping the previous data: %s", exc)
        for name in self.names:
            self.refresh(name)

    def refresh(self, name: str) -> ModelSlot:
        """Load ``name``'s current version if it or the data changed since the last load.

        A failed load is recorded in the slot (message with the exception type) and
        the previous version keeps serving; the same version is not retried until the
        pointer or the data changes.
        """
        slot = self.slots[name]
        with slot.lock:
            slot.checked_at = datetime.now(timezone.utc)
            data = self.data.current
            try:
                current = self.registry.current(name)
            except SacfolioError as exc:
                slot.load_error, slot.error_version = str(exc), "current"
                return slot
            slot.current = current
            if current is None:
                return slot
            serving = slot.serving
            if serving is not None and serving.version == current and serving.data.token == data.token:
                return slot
            if slot.error_version == current and slot.error_data_token == data.token:
                return slot
            try:
                slot.serving = self._load(name, current, data)
            except Exception as exc:  # any failure of a load is reported in /health, never fatal
                slot.load_error = f"{type(exc).__name__}: {exc}"
                slot.error_version, slot.error_data_token = current, data.token
                logger.error("loading %s version %s failed; %s: %s", name, current,
                             "keeping version " + serving.version if serving else "serving the fallback",
                             slot.load_error)
            else:
                slot.rules = slot.serving.bundle.env_config.rules
                slot.load_error = slot.error_version = slot.error_data_token = None
                logger.info("serving %s version %s", name, current)
            return slot

    def _load(self, name: str, version: str, data: MarketData) -> ServingModel:
        artifacts = self.registry.load(name, version, expected_files=BUNDLE_FILES)
        bundle = load_bundle(artifacts.tensors, artifacts.documents, artifacts.metadata, version=version)
        expected = variant_of_model(name) or name
        if bundle.variant != expected:
            raise SacfolioError(f"version {version} holds a {bundle.variant!r} model, not {expected!r}")
        return ServingModel(
            name=name, version=version, bundle=bundle, core=bundle.core(data.panel), data=data,
            metadata=dict(artifacts.metadata), promoted_at=_promoted_at(self.registry, name, version),
            loaded_at=datetime.now(timezone.utc), answers=AnswerCache(self.answers_per_version),
        )


class Reloader:
    """A daemon thread calling :meth:`ModelCache.refresh_all` every ``seconds`` until stopped."""

    def __init__(self, cache: ModelCache, seconds: float) -> None:
        self.cache = cache
        self.seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sacfolio-reloader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            self.cache.refresh_all()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
