"""Target weights for a request: the served model's, or the static fallback's with the reason."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from sacfolio.broker.rules import PortfolioRules
from sacfolio.broker.targets import equal_weights
from sacfolio.exceptions import ConfigError, ServiceRequestError
from sacfolio.serve.market import MarketData
from sacfolio.serve.model_cache import ModelCache, ServingModel

__all__ = ["CASH", "Decision", "static_weights", "parse_current_weights", "decide", "model_decision"]

CASH = "CASH"
_SUM_TOLERANCE = 1e-6


@dataclass(frozen=True, kw_only=True)
class Decision:
    """Target weights and where they came from.

    Attributes
    ----------
    weights : dict of str to float
        By symbol, CASH last; non-negative, summing to 1.
    version : str or None
        Model version (None for the fallback).
    as_of : date
        Date of the data row the decision used.
    source : "model" or "fallback"
    reason : str or None
        Why the fallback was served.
    aux : dict or None
        Auxiliary return predictions when asked for and the model has aux heads:
        horizon label (``"1w"``, ``"4w"``) -> symbol -> predicted simple return.
    advisors : dict or None
        A universal model's advisor mixture of this decision (advisor -> weight, sum 1).
    """

    weights: dict[str, float]
    version: str | None
    as_of: date
    source: str
    reason: str | None
    aux: dict[str, dict[str, float]] | None = None
    advisors: dict[str, float] | None = None


def static_weights(configured: Mapping[str, float] | None, symbols: Sequence[str],
                   available: np.ndarray, rules: PortfolioRules = PortfolioRules()) -> np.ndarray:
    """The configured fallback as a vector in ``symbols`` order plus CASH, or the broker's
    :func:`~sacfolio.broker.targets.equal_weights` under ``rules`` over the ``available`` stocks.

    Raises
    ------
    ConfigError
        A configured symbol is not in the data.
    """
    if configured is None:
        return equal_weights(available, rules)
    unknown = sorted(set(configured) - set(symbols) - {CASH})
    if unknown:
        raise ConfigError(f"fallback_weights name symbols {unknown} that are not in the data "
                          f"(symbols: {list(symbols)} and {CASH})")
    return np.array([float(configured.get(s, 0.0)) for s in [*symbols, CASH]])


def parse_current_weights(value: Mapping[str, float] | Sequence[float] | None,
                          symbols: Sequence[str]) -> np.ndarray | None:
    """Validate a portfolio's current weights.

    Parameters
    ----------
    value : mapping or sequence or None
        By symbol (symbols left out hold 0) or a list of ``N + 1`` numbers in
        ``symbols`` order then CASH.
    symbols : sequence of str

    Returns
    -------
    ndarray float64, shape (N + 1,) or None

    Raises
    ------
    ServiceRequestError
        422: unknown symbols, wrong length, NaN/inf, negative, or not summing to 1.
    """
    if value is None:
        return None
    names = [*symbols, CASH]
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ServiceRequestError(f"current_weights has unknown symbols {unknown}; the model "
                                      f"trades {list(symbols)} and {CASH}")
        w = np.array([float(value.get(s, 0.0)) for s in names])
    else:
        if len(value) != len(names):
            raise ServiceRequestError(f"current_weights has {len(value)} numbers; expected "
                                      f"{len(names)}: {', '.join(names)} (CASH last)")
        w = np.array([float(v) for v in value])
    bad = [names[i] for i in np.flatnonzero(~np.isfinite(w))]
    if bad:
        raise ServiceRequestError(f"current_weights of {bad} are not finite numbers")
    neg = {names[i]: float(w[i]) for i in np.flatnonzero(w < 0)}
    if neg:
        raise ServiceRequestError(f"current_weights must be >= 0 (long only), got {neg}")
    total = float(w.sum())
    if not math.isclose(total, 1.0, rel_tol=0.0, abs_tol=_SUM_TOLERANCE):
        raise ServiceRequestError(f"current_weights must sum to 1 incl. {CASH} (±{_SUM_TOLERANCE:g}), "
                                  f"they sum to {total:.9g}")
    return w


def _as_dict(names: Sequence[str], w: np.ndarray) -> dict[str, float]:
    return dict(zip(names, (float(x) for x in w)))


def decide(cache: ModelCache, name: str, *, as_of: date | None,
           current_weights: Mapping[str, float] | Sequence[float] | None,
           fallback: Mapping[str, float] | None, with_aux: bool = False,
           symbols: Sequence[str] | None = None) -> Decision:
    """Target weights of model ``name`` at ``as_of`` (point in time) for a portfolio.

    With ``with_aux`` the model's aux return predictions for the same state come too.
    ``symbols`` trades only those symbols of the data (a universe change: universal
    models only, which also report their advisor mixture).

    The served version decides when one is loaded (:func:`model_decision`); otherwise the
    static fallback is returned with the reason. The request is validated the same way
    in both cases.

    Raises
    ------
    ServiceRequestError
        422 for a date outside the data or invalid current weights.
    """
    serving = cache.serving(name)
    if serving is not None:
        return model_decision(serving, as_of=as_of, current_weights=current_weights, with_aux=with_aux,
                              symbols=symbols)
    data = cache.data.current
    panel = data.panel
    t, universe, _, row_date = _validated(data, None, as_of, current_weights, symbols)
    reason = cache.slots[name].fallback_reason(name, cache.registry.root)
    rules = cache.slots[name].rules or PortfolioRules()  # the last served version's rules
    target = static_weights(fallback, universe, panel.available[t][[panel.symbols.index(s) for s in universe]],
                            rules)
    return Decision(weights=_as_dict([*universe, CASH], target), version=None, as_of=row_date,
                    source="fallback", reason=reason)


def model_decision(serving: ServingModel, *, as_of: date | None,
                   current_weights: Mapping[str, float] | Sequence[float] | None, with_aux: bool = False,
                   symbols: Sequence[str] | None = None) -> Decision:
    """The decision of the loaded version ``serving`` (:func:`decide` without the fallback).

    A pure function of ``serving`` and the arguments: the same request always gets the
    same decision from the same ``ServingModel``, which is what lets the API cache it.

    Raises
    ------
    ServiceRequestError
        422 for a date outside the data or invalid current weights.
    """
    panel = serving.data.panel
    t, universe, w, row_date = _validated(serving.data, serving, as_of, current_weights, symbols)
    names = [*universe, CASH]
    bundle = serving.bundle
    mixture = None
    if hasattr(bundle, "decide_at"):  # a universal model: any universe of the data, and its advisor mixture
        core = serving.core if symbols is None else bundle.universe_core(panel, universe, t)
        target, mixture = bundle.decide_at(core, t, w)
    else:
        target = bundle.target_weights(serving.core, t, w)
    aux = None
    if with_aux and bundle.has_aux:
        current = w if w is not None else np.eye(len(names))[-1]
        pred = bundle.predict_aux(serving.core.observation_at(t, current)[None, :])[0]  # (H, N)
        aux = {f"{h}w": {s: float(v) for s, v in zip(panel.symbols, row)}
               for h, row in zip(bundle.aux_horizons, pred)}
    advisors = None if mixture is None else _as_dict(bundle.spec.advisors, mixture)
    return Decision(weights=_as_dict(names, target), version=serving.version, as_of=row_date,
                    source="model", reason=None, aux=aux, advisors=advisors)


def _validated(data: MarketData, serving: ServingModel | None, as_of: date | None,
               current_weights: Mapping[str, float] | Sequence[float] | None,
               symbols: Sequence[str] | None) -> tuple[int, tuple[str, ...], np.ndarray | None, date]:
    """(row, universe, current weights, row date) of a request, validated in this order."""
    t = data.row_for(as_of)
    universe = _universe(serving, data.panel, symbols)
    w = parse_current_weights(current_weights, universe)
    return t, universe, w, data.panel.dates[t].astype("datetime64[D]").astype(date)


def _universe(serving, panel, symbols: Sequence[str] | None) -> tuple[str, ...]:
    """The symbols a decision trades: the data's, or the requested ones (universal models only).

    Raises
    ------
    ServiceRequestError
        422: symbols for a fixed-universe model, unknown or repeated symbols, or too many.
    """
    if symbols is None:
        return tuple(panel.symbols)
    if serving is not None and not hasattr(serving.bundle, "universe_core"):
        raise ServiceRequestError(f"model {serving.name} trades a fixed universe {list(panel.symbols)}; "
                                  "only universal models (universal_s<N>) take symbols")
    unknown = sorted(set(symbols) - set(panel.symbols))
    if unknown or len(set(symbols)) != len(symbols) or len(symbols) < 2:
        raise ServiceRequestError(f"symbols must be 2 or more distinct symbols of the data; unknown: {unknown}, "
                                  f"the data has {list(panel.symbols)}")
    if serving is not None and len(symbols) > serving.bundle.spec.max_symbols:
        raise ServiceRequestError(f"{len(symbols)} symbols do not fit in the model's "
                                  f"{serving.bundle.spec.max_symbols} slots")
    return tuple(symbols)
