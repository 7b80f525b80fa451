"""Where a portfolio's orders go when they go to the simulated broker: the instrument file,
the leverage of the book and the account it trades in.

:class:`BrokerVenue` is a setting of :class:`~sacfolio.broker.rules.PortfolioRules`
(``rules.broker``), so every env, backtest and baseline that trades under the rules trades
through the same broker. ``rules.broker = None`` (the default) is the equity configuration:
no spread, no leverage, ``cost_bps`` on drifted turnover (:func:`~sacfolio.broker.costs.rebalance`),
bit for bit the results from before the broker existed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from sacfolio.broker.account import AccountConfig
from sacfolio.broker.instruments import InstrumentSet, load_instruments
from sacfolio.broker.simulator import Broker
from sacfolio.exceptions import ConfigError

__all__ = ["BrokerVenue"]

_KEYS = ("instruments", "leverage", "balance", "home_currency", "hour")


@dataclass(frozen=True, kw_only=True)
class BrokerVenue:
    """The broker a book trades through.

    Attributes
    ----------
    instruments : str
        An instrument file (``.json`` / ``.yaml``, OANDA v20 fields) or the name of a shipped
        one (``sp500_cfd_example.json``: the embedded sample's stocks as share CFDs).
        Every symbol of the panel must be an instrument of the file.
    leverage : float, default 1.0
        Exposure per unit of stock weight: the book holds ``leverage * w`` of NAV in each
        stock (the cash floor and the cap apply to ``w``). Orders the margin cannot carry
        are refused, and the account is closed out at the margin closeout level.
    balance : float, default 1e6
        Opening balance in the home currency (units are rounded to each instrument's
        precision, so a tiny balance would round orders away).
    home_currency : str, default "USD"
    hour : int, default 21
        UTC hour of the decision close that selects ``typicalSpreadPips`` (21: the US close).
    aliases : tuple of (symbol, instrument) pairs
        Symbols that trade as another instrument of the file: the universal model's
        universe-change check renames a stock to one it never saw, and the renamed stock
        still trades as the instrument it is. Empty by default.
    """

    instruments: str
    leverage: float = 1.0
    balance: float = 1_000_000.0
    home_currency: str = "USD"
    hour: int = 21
    aliases: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        pairs = tuple(self.aliases.items()) if isinstance(self.aliases, Mapping) else tuple(self.aliases)
        if not all(isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs):
            raise ConfigError(f"broker aliases={self.aliases!r} must map symbols to instrument names")
        object.__setattr__(self, "aliases", tuple((str(a), str(b)) for a, b in pairs))
        if not isinstance(self.instruments, str) or not self.instruments:
            raise ConfigError(f"broker instruments={self.instruments!r} must name an instrument file")
        for name, lo in (("leverage", 0.0), ("balance", 0.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= lo:
                raise ConfigError(f"broker {name}={value!r} must be a finite number > {lo:g}")
            object.__setattr__(self, name, float(value))
        if self.leverage > 50.0:
            raise ConfigError(f"broker leverage={self.leverage} is above 50:1, the most any instrument file allows")
        if isinstance(self.hour, bool) or not isinstance(self.hour, int) or not 0 <= self.hour <= 23:
            raise ConfigError(f"broker hour={self.hour!r} must be a UTC hour 0..23")
        AccountConfig(home_currency=self.home_currency)  # validates the code
        load_instruments(self.instruments)  # a missing or invalid file fails here, before any work

    def account(self) -> AccountConfig:
        """The account: leverage capped at this venue's, home currency."""
        return AccountConfig(home_currency=self.home_currency, max_leverage=max(1.0, self.leverage))

    def broker_for(self, symbols: Sequence[str]) -> Broker:
        """The :class:`Broker` over ``symbols``' instruments, in that order.

        Raises
        ------
        DataError
            The instrument file is missing or invalid.
        ConfigError
            A symbol is not in the file.
        """
        alias = dict(self.aliases)
        chosen: InstrumentSet = load_instruments(self.instruments).select([alias.get(s, s) for s in symbols])
        if alias:  # each alias trades as its instrument, under its own name
            chosen = InstrumentSet(tuple(replace(i, name=str(s)) for i, s in zip(chosen.instruments, symbols)),
                                   source=chosen.source)
        return Broker(chosen, self.account())

    def with_aliases(self, aliases: Mapping[str, str]) -> "BrokerVenue":
        """This venue with ``aliases`` (symbol -> instrument) added."""
        return replace(self, aliases=tuple({**dict(self.aliases), **dict(aliases)}.items()))

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in _KEYS}
        if self.aliases:  # left out when empty: the settings of every earlier run read the same
            out["aliases"] = dict(self.aliases)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BrokerVenue":
        unknown = sorted(set(data) - set(_KEYS) - {"aliases"})
        if unknown:
            raise ConfigError(f"unknown broker setting(s) {unknown}; the settings are {', '.join(_KEYS)}")
        return cls(**dict(data))
