"""Home-currency conversion as OANDA v20 does it: gains, losses and values at different sides.

An amount in an instrument's quote currency Q becomes home currency H by a factor taken
from a currency pair of the same instrument set (v20 ``HomeConversions``):

* Q = H: factor 1;
* pair ``H_Q`` (e.g. USD_JPY for a JPY amount in a USD account), one Q buys ``1 / price`` H:
  a **gain** is converted at ``1 / ask`` (buying H with Q pays the ask), a **loss** at
  ``1 / bid`` (covering Q with H gets the bid), a **position value** (margin) at ``1 / mid``;
* pair ``Q_H`` (e.g. GBP_USD for a GBP amount in a USD account): gain at ``bid``, loss at
  ``ask``, value at ``mid``.

Both sides go against the account, so a round trip through the conversion never earns.
A quote currency with neither pair in the set is a :class:`ConfigError` naming the pair
to add.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from sacfolio.broker.instruments import InstrumentSet
from sacfolio.broker.quotes import Quotes
from sacfolio.exceptions import ConfigError

__all__ = ["Conversion", "HomeConversion"]

_SAME, _INVERSE, _DIRECT = 0, 1, 2


class Conversion(NamedTuple):
    """Factors quote currency -> home currency, shape like the quotes (..., N).

    Fields
    ------
    gain : ndarray
        For positive amounts (realized gains, financing credits).
    loss : ndarray
        For negative amounts (realized losses, financing charges, commissions).
    value : ndarray
        For position values and margin (mid rates).
    """

    gain: np.ndarray
    loss: np.ndarray
    value: np.ndarray

    def signed(self, amount: np.ndarray) -> np.ndarray:
        """``amount`` (quote currency, same shape) in home currency, each sign at its side."""
        return amount * np.where(amount >= 0.0, self.gain, self.loss)


@dataclass(frozen=True)
class HomeConversion:
    """Which pairs convert each instrument's quote currency into ``home`` (built once).

    A currency with no direct pair goes through one bridge currency C that has pairs with
    both (JPY -> USD -> EUR via USD_JPY and EUR_USD); the factors multiply, a gain at both
    gain sides and a loss at both loss sides.
    """

    instruments: InstrumentSet
    home: str
    legs: tuple[tuple[np.ndarray, np.ndarray], ...] = field(init=False, repr=False, compare=False)
    """(kind, pair index) arrays (N,) of the first and the second conversion step."""

    def __post_init__(self) -> None:
        home = self.home.upper()
        if len(home) != 3 or not home.isalpha():
            raise ConfigError(f"home currency {self.home!r} is not a 3-letter code such as USD or EUR")
        pairs = {(i.base_currency, i.quote_currency): k for k, i in enumerate(self.instruments.instruments)
                 if i.type == "CURRENCY" and i.base_currency}
        currencies = sorted({c for pair in pairs for c in pair})
        legs = []
        for inst in self.instruments.instruments:
            quote = inst.quote_currency
            route = _leg(pairs, quote, home)
            if route is not None:
                legs.append((route, (_SAME, 0)))
                continue
            bridge = next((c for c in currencies if _leg(pairs, quote, c) and _leg(pairs, c, home)), None)
            if bridge is None:
                raise ConfigError(f"{inst.name} is quoted in {quote} but the instruments ({self.instruments.source}) "
                                  f"hold no {home}_{quote} or {quote}_{home} pair (nor two pairs through another "
                                  f"currency) to convert it into {home}; add one of them")
            legs.append((_leg(pairs, quote, bridge), _leg(pairs, bridge, home)))
        object.__setattr__(self, "home", home)
        object.__setattr__(self, "legs", tuple((np.array([leg[j][0] for leg in legs]),
                                                np.array([leg[j][1] for leg in legs])) for j in range(2)))

    def factors(self, quotes: Quotes) -> Conversion:
        """Gain, loss and value factors for the instruments' quote currencies at ``quotes``."""
        (kind, source), (kind2, source2) = self.legs
        first = _factors(quotes, kind, source)
        if not kind2.any():
            return first
        second = _factors(quotes, kind2, source2)
        return Conversion(*(a * b for a, b in zip(first, second)))


def _leg(pairs: dict[tuple[str, str], int], src: str, dst: str) -> tuple[int, int] | None:
    """(kind, pair index) converting ``src`` into ``dst`` in one step, None if no pair."""
    if src == dst:
        return _SAME, 0
    if (dst, src) in pairs:
        return _INVERSE, pairs[(dst, src)]
    if (src, dst) in pairs:
        return _DIRECT, pairs[(src, dst)]
    return None


def _factors(quotes: Quotes, kind: np.ndarray, source: np.ndarray) -> Conversion:
    inverse, direct = np.flatnonzero(kind == _INVERSE), np.flatnonzero(kind == _DIRECT)
    shape = quotes.bid.shape
    gain, loss, value = np.ones(shape), np.ones(shape), np.ones(shape)
    if inverse.size:
        bid, ask = quotes.bid[..., source[inverse]], quotes.ask[..., source[inverse]]
        gain[..., inverse] = 1.0 / ask
        loss[..., inverse] = 1.0 / bid
        value[..., inverse] = 2.0 / (bid + ask)
    if direct.size:
        bid, ask = quotes.bid[..., source[direct]], quotes.ask[..., source[direct]]
        gain[..., direct] = bid
        loss[..., direct] = ask
        value[..., direct] = 0.5 * (bid + ask)
    return Conversion(gain, loss, value)
