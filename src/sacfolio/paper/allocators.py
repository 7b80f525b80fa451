"""Who allocates in a paper session: the promoted meta-controller, or the static weights and why.

The run never stops for a missing or unusable model: no registry entry, no promoted
version, a version that cannot be loaded or was trained for other strategies or another
state all fall back to the static weights of the config file, with the reason recorded
(``source: fallback``) on every bar and shown by the API and the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sacfolio.env.allocation_run import Allocator, AllocationConfig
from sacfolio.exceptions import SacfolioError
from sacfolio.strategies.expert import StaticWeights, load_static_weights

__all__ = ["Selection", "select_allocator"]


@dataclass(frozen=True)
class Selection:
    """The allocator of a session: ``source`` is ``"model"`` or ``"fallback"``; ``reason`` says which
    version, or why the fallback trades; ``fallback`` is the static allocator in either case."""

    allocate: Allocator
    source: str
    reason: str
    fallback: Allocator
    version: str | None = None


def select_allocator(*, home: str | Path | None, model: str, strategies: tuple[str, ...],
                     config: AllocationConfig, static_weights: str | Path | None = None) -> Selection:
    """The promoted version of ``model`` in the registry at ``home`` if usable, else the static weights."""
    static = StaticWeights(load_static_weights(static_weights, strategies))
    where = f"from {static_weights}" if static_weights else "(built-in defaults)"
    if home is None:
        return Selection(static, "fallback", f"no model registry given; static weights {where}", static)
    from sacfolio.registry.registry import Registry
    from sacfolio.workflows.meta_model import load_meta_policy

    try:
        registry = Registry(home)
        if registry.current(model) is None:
            return Selection(static, "fallback", f"no promoted version of {model} in {registry.root}; "
                                                 f"static weights {where}", static)
        meta = load_meta_policy(registry, model)
    except SacfolioError as exc:
        return Selection(static, "fallback", f"{model} could not be loaded ({exc}); static weights {where}", static)
    if meta.strategies != tuple(strategies) or meta.config != config:
        return Selection(static, "fallback", f"{model} version {meta.version} was trained for strategies "
                                             f"{list(meta.strategies)} and settings {meta.config.to_dict()}, "
                                             f"not this session's; static weights {where}", static)
    return Selection(meta.allocator(), "model", f"{model} version {meta.version}", static, meta.version)

