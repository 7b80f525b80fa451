"""Issue 3's acceptance: on a market where news carries information, the agent that sees
the signals beats the same agent without them, out of sample.

The factor market plants an information coefficient of 0.3 between a week's news
sentiment and the next week's idiosyncratic return; news and fundamentals are written
to disk and read back through the real loaders. Measured (seed 0, 2008-2009 folds,
3,000 + 1,500 steps): Sharpe 0.75 / CAGR 10.9% with signals, 0.06 / -0.2% without,
1/N 0.43 / 5.8%. The test requires a Sharpe margin of 0.3. It pins aux heads off:
with them on (the portfolio default) the same run gives 0.65 with signals vs 0.56
without; the aux loss shapes the trunk of the signal-less agent too and narrows the gap.
"""

import pytest

from sacfolio.agents.config import SACConfig
from sacfolio.data.synthetic import FactorMarketConfig, factor_market
from sacfolio.evaluate.metrics import summarize
from sacfolio.evaluate.walkforward import WalkForwardConfig
from sacfolio.workflows.walkforward import run_walk_forward
from sacfolio.features.variants import FeatureSources


@pytest.mark.slow
def test_agent_with_informative_signals_beats_the_same_agent_without_them(tmp_path) -> None:
    market = factor_market(FactorMarketConfig(n_stocks=10, n_weeks=520, ic_sentiment=0.3,
                                              ic_fundamental=0.0, seed=0), out_dir=tmp_path)
    config = WalkForwardConfig(years=(2008, 2009), train_steps=3000, fold_steps=1500,
                               baselines=("equal_weight",), variant="sac_lstm")
    sharpe = {}
    for label, sources in [
        ("with", FeatureSources(news=str(market.news_path), fundamentals=str(market.fundamentals_dir))),
        ("without", FeatureSources()),
    ]:
        result, _ = run_walk_forward(market.panel, config=config, sources=sources,
                                     sac_config=SACConfig(reward_scale=100.0, aux=False),
                                     cache_dir=tmp_path / "cache", progress=False)
        sharpe[label] = summarize(result.combined("sac")).sharpe
        sharpe["1/N"] = summarize(result.combined("equal_weight")).sharpe
    assert sharpe["with"] - sharpe["without"] > 0.3, sharpe
    assert sharpe["with"] > sharpe["1/N"], sharpe
