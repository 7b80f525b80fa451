"""Checks of learner config fields, shared by every learner config.

Each check raises a :class:`~sacfolio.exceptions.ConfigError` that names the field
and the value it got, so a wrong setting reads as what to change.
"""

from __future__ import annotations

import math

from sacfolio.exceptions import ConfigError

__all__ = ["check_bool", "check_hidden_sizes", "check_int", "check_log_std_bounds", "check_nonnegative",
           "check_positive", "check_range", "is_int"]


def is_int(value: object) -> bool:
    """True for an ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_positive(name: str, value: float) -> None:
    """``value`` must be a finite number > 0."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}.")


def check_nonnegative(name: str, value: float) -> None:
    """``value`` must be a finite number >= 0."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}.")


def check_range(name: str, value: float, lo: float, hi: float, *, low_open: bool = False) -> None:
    """``value`` must be a finite number in ``[lo, hi]`` (``(lo, hi]`` with ``low_open``)."""
    ok = isinstance(value, (int, float)) and math.isfinite(value) and value <= hi
    ok = ok and (value > lo if low_open else value >= lo)
    if not ok:
        bracket = "(" if low_open else "["
        raise ConfigError(f"{name} must be in {bracket}{lo}, {hi}], got {value!r}.")


def check_int(name: str, value: object, minimum: int) -> None:
    """``value`` must be an int (not a bool) >= ``minimum``."""
    if not is_int(value) or value < minimum:  # type: ignore[operator]
        raise ConfigError(f"{name} must be an int >= {minimum}, got {value!r}.")


def check_bool(name: str, value: object) -> None:
    """``value`` must be True or False."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r}.")


def check_log_std_bounds(log_std_min: float, log_std_max: float) -> None:
    """The clamp of an actor's log standard deviation: finite, min < max."""
    if not (math.isfinite(log_std_min) and math.isfinite(log_std_max) and log_std_min < log_std_max):
        raise ConfigError(f"need finite log_std_min < log_std_max, got "
                          f"({log_std_min!r}, {log_std_max!r}).")


def check_hidden_sizes(value: object) -> tuple[int, ...]:
    """``value`` as a tuple of layer widths; a ConfigError unless non-empty positive ints."""
    sizes = tuple(value)  # type: ignore[arg-type]
    if not sizes or any(not is_int(h) or h < 1 for h in sizes):
        raise ConfigError(f"hidden_sizes must be a non-empty tuple of positive ints, got {sizes!r}.")
    return sizes
