"""Errors of the paper-trading loop, each one a user can act on."""

from __future__ import annotations

from sacfolio.exceptions import BarSourceError, SacfolioError

__all__ = ["BarSourceError", "LedgerError"]


class LedgerError(SacfolioError):
    """The paper ledger cannot be used: corrupt (moved aside), foreign, or from other settings."""


