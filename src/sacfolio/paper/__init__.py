"""Paper trading: the strategy book bar by bar on a bar source, every step recorded in SQLite.

:class:`~sacfolio.paper.loop.PaperLoop` runs it, :mod:`sacfolio.paper.ledger` stores it,
:func:`~sacfolio.paper.reconcile.reconcile` checks it, and
:func:`~sacfolio.paper.allocators.select_allocator` picks the promoted meta-controller or
the static fallback.
"""
