"""Symbol slots: a fixed number of places for stocks, so one model serves any universe.

A universal model has ``MAX_SYMBOLS`` slots (:class:`SlotSpec`; the model's name and
``config.json`` carry the number, e.g. ``universal_s32``). A market of ``n <= MAX_SYMBOLS``
symbols fills slots ``0 .. n - 1`` in its own order; the others are padding. A slot
is *live* at row t only when its symbol trades at t (a real price at or before t,
never back-filled); padded and dead slots read ``symbol_id = padding_id``, their
actions are no-ops and their weight is exactly 0.

The observation of a decision is the seed's ``Dict`` (:func:`observation_keys`):

``market_features`` (N, F)
    The scaled per-stock features of the row (0 on dead slots).
``context_features`` (N, 5)
    :data:`CONTEXT_FEATURES` of each live slot: its current weight, the CASH weight,
    its listing age, the live share of the slots and its room under the cap.
``symbol_id`` (N,)
    Vocabulary index of the symbol (training symbols ``0 .. V - 1``), ``unknown_id = V + 1``
    for a symbol never seen in training, ``padding_id = V`` on padded or dead slots.
``advisor_weights`` (K, N + 1)
    The zoo's portfolios at the row (:mod:`sacfolio.strategies.zoo`, computed from the
    raw price windows ``[N, T, F_raw]`` known at the row), CASH last; absent when K = 0.

Training stores it flat (:class:`SlotLayout`: the keys above in that order,
``symbol_id`` as float32), the networks unflatten it.

The action has ``N + 1 + K`` entries: a score per slot, CASH's, and K mixture logits
(:func:`slot_action_to_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from sacfolio.broker.projection import feasible_rows, project_weights, weight_bounds
from sacfolio.env.actions import action_to_weights, residual_point
from sacfolio.env.config import EnvConfig
from sacfolio.exceptions import ConfigError, LayoutMismatchError

__all__ = ["CONTEXT_FEATURES", "SlotLayout", "SlotSpec", "fuse", "fused_target", "mixture_weights",
           "observation_keys", "slot_action_to_weights", "slot_observation", "split_action"]

CONTEXT_FEATURES = ("weight", "cash_weight", "listing_age", "live_share", "cap_room")
"""Per-slot context: current drifted weight, CASH weight, min(bars listed, 260) / 260,
live slots / MAX_SYMBOLS, max_weight - weight (all 0 on dead slots)."""

@dataclass(frozen=True, kw_only=True)
class SlotSpec:
    """The slots of a universal model: how many, which symbols it knows, which advisors.

    Attributes
    ----------
    max_symbols : int
        MAX_SYMBOLS, the number of slots (>= 2). Another value is another model.
    vocabulary : tuple of str
        Symbols seen in training, in id order; ``padding_id = len(vocabulary)`` and
        ``unknown_id = len(vocabulary) + 1`` (one shared id for unseen symbols).
    advisors : tuple of str
        Zoo advisors fused by the policy (:data:`sacfolio.strategies.zoo.ADVISORS`
        names, K of them); empty: no strategy superposition.
    """

    max_symbols: int = 32
    vocabulary: tuple[str, ...] = ()
    advisors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        m = self.max_symbols
        if isinstance(m, bool) or not isinstance(m, int) or m < 2:
            raise ConfigError(f"SlotSpec.max_symbols={m!r} must be a whole number >= 2.")
        object.__setattr__(self, "vocabulary", tuple(str(s) for s in self.vocabulary))
        object.__setattr__(self, "advisors", tuple(str(a) for a in self.advisors))
        for name in ("vocabulary", "advisors"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ConfigError(f"SlotSpec.{name} repeats {sorted({v for v in values if values.count(v) > 1})}.")

    @property
    def padding_id(self) -> int:
        return len(self.vocabulary)

    @property
    def unknown_id(self) -> int:
        return len(self.vocabulary) + 1

    @property
    def n_ids(self) -> int:
        """Rows of the symbol embedding: the vocabulary, padding, unknown."""
        return len(self.vocabulary) + 2

    @property
    def n_advisors(self) -> int:
        return len(self.advisors)

    def model_name(self, variant: str = "universal") -> str:
        """The registry name of a model with these slots, e.g. ``universal_s32``."""
        return f"{variant}_s{self.max_symbols}"

    def symbol_ids(self, symbols: tuple[str, ...] | list[str]) -> np.ndarray:
        """Vocabulary ids of ``symbols`` (``unknown_id`` for unseen ones), int64 of shape (n,).

        Raises
        ------
        LayoutMismatchError
            More symbols than slots.
        """
        if len(symbols) > self.max_symbols:
            raise LayoutMismatchError(f"{len(symbols)} symbols do not fit in {self.max_symbols} slots; "
                                      f"trade at most {self.max_symbols} or train a universal_s<more> model")
        index = {s: i for i, s in enumerate(self.vocabulary)}
        return np.array([index.get(str(s), self.unknown_id) for s in symbols], dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"max_symbols": self.max_symbols, "vocabulary": list(self.vocabulary),
                "advisors": list(self.advisors), "padding_id": self.padding_id, "unknown_id": self.unknown_id,
                "context_features": list(CONTEXT_FEATURES)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SlotSpec":
        return cls(max_symbols=int(data["max_symbols"]), vocabulary=tuple(data.get("vocabulary", ())),
                   advisors=tuple(data.get("advisors", ())))


@dataclass(frozen=True, kw_only=True)
class SlotLayout:
    """Sizes and flat offsets of the slot observation (see the module docstring).

    Attributes
    ----------
    max_symbols : int
        N, the slots.
    n_features : int
        F, market features per slot.
    n_advisors : int
        K, advisor portfolios (0: none).
    """

    max_symbols: int
    n_features: int
    n_advisors: int = 0

    @classmethod
    def of(cls, spec: SlotSpec, n_features: int) -> "SlotLayout":
        return cls(max_symbols=spec.max_symbols, n_features=int(n_features), n_advisors=spec.n_advisors)

    @property
    def sizes(self) -> dict[str, int]:
        """Flat length of each key, in storage order."""
        n = self.max_symbols
        return {"market_features": n * self.n_features, "context_features": n * len(CONTEXT_FEATURES),
                "symbol_id": n, "advisor_weights": self.n_advisors * (n + 1)}

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        n = self.max_symbols
        return {"market_features": (n, self.n_features), "context_features": (n, len(CONTEXT_FEATURES)),
                "symbol_id": (n,), "advisor_weights": (self.n_advisors, n + 1)}

    @property
    def slices(self) -> dict[str, slice]:
        out, at = {}, 0
        for key, size in self.sizes.items():
            out[key], at = slice(at, at + size), at + size
        return out

    @property
    def obs_dim(self) -> int:
        return sum(self.sizes.values())

    @property
    def act_dim(self) -> int:
        """A score per slot, CASH's, then K mixture logits."""
        return self.max_symbols + 1 + self.n_advisors

    def unflatten(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """The Dict observation of flat observations (..., obs_dim); ``symbol_id`` as int64."""
        flat = np.asarray(flat)
        lead = flat.shape[:-1]
        out = {k: flat[..., s].reshape(lead + self.shapes[k]) for k, s in self.slices.items()
               if k in observation_keys(self.n_advisors)}
        out["symbol_id"] = np.rint(out["symbol_id"]).astype(np.int64)
        return out

    def flatten(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Inverse of :meth:`unflatten` (float32)."""
        parts = [np.asarray(obs[k], dtype=np.float32) for k in observation_keys(self.n_advisors)]
        lead = parts[0].shape[:-2]
        return np.concatenate([p.reshape(lead + (-1,)) for p in parts], axis=-1)

    def to_dict(self) -> dict[str, Any]:
        return {"max_symbols": self.max_symbols, "n_features": self.n_features, "n_advisors": self.n_advisors,
                "obs_dim": self.obs_dim, "act_dim": self.act_dim,
                "order": list(observation_keys(self.n_advisors))}


def observation_keys(n_advisors: int) -> tuple[str, ...]:
    """The Dict observation's keys in storage order."""
    keys = ("market_features", "context_features", "symbol_id")
    return keys + (("advisor_weights",) if n_advisors else ())


def slot_observation(layout: SlotLayout, spec: SlotSpec, *, market: np.ndarray, live: np.ndarray,
                     ids: np.ndarray, age: np.ndarray, weights: np.ndarray, max_weight: float,
                     advisors: np.ndarray | None) -> np.ndarray:
    """Flat slot observations of B portfolios on n <= N symbols (slots ``n ..`` padded).

    Parameters
    ----------
    market : ndarray, shape (B, n, F)
        Scaled features of the rows.
    live : ndarray bool, shape (B, n)
    ids : ndarray int, shape (n,)
        :meth:`SlotSpec.symbol_ids` of the symbols.
    age : ndarray, shape (B, n)
        Listing age in [0, 1].
    weights : ndarray, shape (B, n + 1)
        Current weights, CASH last.
    advisors : ndarray, shape (B, K, n + 1), or None when K = 0

    Returns
    -------
    ndarray float32, shape (B, obs_dim)
    """
    B, n = live.shape
    N, K = layout.max_symbols, layout.n_advisors
    if n > N:
        raise LayoutMismatchError(f"{n} symbols do not fit in {N} slots")
    out = np.zeros((B, layout.obs_dim), dtype=np.float32)
    s = layout.slices
    on = live.astype(np.float32)
    out[:, s["market_features"]].reshape(B, N, layout.n_features)[:, :n] = market * on[..., None]
    ctx = np.zeros((B, n, len(CONTEXT_FEATURES)), dtype=np.float32)
    ctx[..., 0] = weights[:, :n]
    ctx[..., 1] = weights[:, -1:]
    ctx[..., 2] = age
    ctx[..., 3] = (on.sum(axis=1, keepdims=True) / N)
    ctx[..., 4] = max_weight - weights[:, :n]
    out[:, s["context_features"]].reshape(B, N, len(CONTEXT_FEATURES))[:, :n] = ctx * on[..., None]
    sid = out[:, s["symbol_id"]]
    sid[:] = spec.padding_id
    sid[:, :n] = np.where(live, ids[None, :], spec.padding_id)
    if K:
        adv = out[:, s["advisor_weights"]].reshape(B, K, N + 1)
        adv[:, :, :n] = advisors[:, :, :n]
        adv[:, :, N] = advisors[:, :, n]
    return out


def split_action(action: np.ndarray, n_symbols: int, layout: SlotLayout) -> tuple[np.ndarray, np.ndarray]:
    """A slot action (B, N + 1 + K) as the market's (B, n + 1) (stocks, CASH) and the mixture logits (B, K).

    Scores of padded slots ``n .. N - 1`` are dropped: they are no-ops.
    """
    a = np.asarray(action, dtype=np.float64)
    if a.shape[-1] != layout.act_dim:
        raise ValueError(f"action has {a.shape[-1]} entries; the slots need {layout.act_dim}")
    N = layout.max_symbols
    market = np.concatenate((a[..., :n_symbols], a[..., N:N + 1]), axis=-1)
    return market, a[..., N + 1:]


def mixture_weights(logits: np.ndarray, scale: float) -> np.ndarray:
    """Softmax of ``scale * clip(logits, -1, 1)`` over the K advisors, shape (B, K)."""
    z = np.clip(np.asarray(logits, dtype=np.float64), -1.0, 1.0) * scale
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def fuse(mixture: np.ndarray, advisors: np.ndarray) -> np.ndarray:
    """The fused portfolio ``sum_k mixture_k * advisors_k``: (B, K) x (B, K, M) -> (B, M).

    A convex mixture of feasible portfolios is feasible; a one-hot mixture returns
    that advisor's weights bit for bit (1 * w + 0 * v == w).
    """
    return np.einsum("bk,bkm->bm", mixture, advisors)


def slot_action_to_weights(action: np.ndarray, advisors: np.ndarray | None, available: np.ndarray,
                           config: EnvConfig, layout: SlotLayout, *, benchmark: np.ndarray | None = None
                           ) -> tuple[np.ndarray, np.ndarray | None]:
    """Feasible target weights (B, n + 1) of slot actions, and the mixture (B, K) or None.

    With advisors (K > 0) the target is the fused portfolio tilted by the slot scores:
    ``residual_point(scores, fuse(mixture, advisors), open, config.tilt)`` projected
    onto the rules (kept bit for bit when already feasible, so a zero tilt of a
    one-hot mixture trades that advisor exactly). Without advisors the market part of
    the action goes through the env's own action mode (:func:`action_to_weights`).

    Parameters
    ----------
    action : ndarray, shape (B, N + 1 + K)
    advisors : ndarray, shape (B, K, n + 1), or None
    available : ndarray bool, shape (B, n)
    benchmark : ndarray, shape (B, n + 1), optional
        K = 0 with the residual mode: the benchmark of the rows.
    """
    available = np.asarray(available, dtype=bool)
    market, logits = split_action(action, available.shape[-1], layout)
    if layout.n_advisors == 0:
        return action_to_weights(market, config, available, benchmark), None
    mixture = mixture_weights(logits, config.logit_scale)
    return fused_target(mixture, market, advisors, available, config), mixture


def fused_target(mixture: np.ndarray, scores: np.ndarray, advisors: np.ndarray, available: np.ndarray,
                 config: EnvConfig) -> np.ndarray:
    """``fuse(mixture, advisors)`` tilted by ``scores`` (B, n + 1) and projected onto the rules.

    The policy's portfolio: the fused advisor portfolio plus the learned residual
    ``config.tilt * tilt(scores)`` (:func:`~sacfolio.env.actions.residual_point`), kept bit
    for bit when feasible (a one-hot mixture with zero scores is that advisor exactly).
    """
    available = np.asarray(available, dtype=bool)
    point = residual_point(scores, fuse(mixture, advisors), available.astype(np.float64), config.tilt)
    lo, hi = weight_bounds(available, config.rules)
    keep = feasible_rows(point, lo, hi)
    if keep.all():
        return point
    return np.where(keep[..., None], point, project_weights(point, config.rules, available))
