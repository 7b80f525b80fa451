"""The report's headline: a block-bootstrap interval of Sharpe(agent) - Sharpe(1/N)."""

from __future__ import annotations

from sacfolio.evaluate.bootstrap import Interval, paired_block_bootstrap, verdict
from sacfolio.evaluate.metrics import sharpe
from sacfolio.evaluate.report.columns import BENCHMARK
from sacfolio.evaluate.results import WalkForwardResult

__all__ = ["edge_summary", "sharpe_edge"]


def sharpe_edge(result: WalkForwardResult, agent: str, seed: int) -> Interval | str:
    """Bootstrap of Sharpe(agent) - Sharpe(1/N), or the reason it was not computed."""
    if agent == BENCHMARK or BENCHMARK not in result.results:
        return f"not computed: the run has no {BENCHMARK!r} baseline to compare {agent!r} with"
    a, b = result.combined(agent).returns, result.combined(BENCHMARK).returns
    try:
        return paired_block_bootstrap(a, b, sharpe, seed=seed)
    except ValueError as err:  # too short, or a flat series with an undefined Sharpe
        return f"not computed: {err}"


def edge_summary(result: WalkForwardResult, *, agent: str = "sac", seed: int = 0) -> str:
    """One line: the bootstrap interval of Sharpe(agent) - Sharpe(1/N) and its verdict."""
    iv = sharpe_edge(result, agent, seed)
    if isinstance(iv, str):
        return f"Sharpe({agent}) - Sharpe({BENCHMARK}): {iv}"
    return (f"Sharpe({agent}) - Sharpe({BENCHMARK}) = {iv.point:+.2f}; {iv.level:.0%} block-bootstrap "
            f"interval [{iv.low:+.2f}, {iv.high:+.2f}]: {verdict(iv)}")
