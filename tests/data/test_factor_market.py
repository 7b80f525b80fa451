"""The factor market: planted IC and autocorrelation are realized; its files feed the real loaders."""

from pathlib import Path

import numpy as np
import pytest

from sacfolio.data.fundamentals import load_fundamentals
from sacfolio.data.news import load_daily_sentiment
from sacfolio.data.synthetic import FactorMarketConfig, factor_market
from sacfolio.exceptions import ConfigError
from sacfolio.features.signals import fundamental_features, sentiment_features


def test_seeded_and_planted_statistics_are_realized() -> None:
    cfg = FactorMarketConfig(n_stocks=20, n_weeks=1040, ic_sentiment=0.2, ic_fundamental=0.1, autocorr=0.3, seed=4)
    m, again = factor_market(cfg), factor_market(cfg)
    np.testing.assert_array_equal(m.panel.close, again.panel.close)
    assert not np.array_equal(m.panel.close, factor_market(FactorMarketConfig(seed=5)).panel.close[:, :2])
    u = m.idiosyncratic[1:] / cfg.idio_vol          # rows 1..T-1
    nxt = u[1:].ravel()
    # the sentiment is i.i.d., so its correlation with next week's return is the IC
    assert np.corrcoef(m.sentiment[1:-1].ravel(), nxt)[0, 1] == pytest.approx(0.2, abs=0.03)
    # all three planted coefficients come back from a regression of u[t+1] on the signals
    x = np.column_stack([m.sentiment[1:-1].ravel(), m.fundamental[1:-1].ravel(), u[:-1].ravel()])
    coef = np.linalg.lstsq(x, nxt, rcond=None)[0]
    np.testing.assert_allclose(coef, [0.2, 0.1, 0.3], atol=0.03)
    assert u.std() == pytest.approx(1.0, abs=0.05)


def test_written_news_and_fundamentals_carry_the_signal_through_the_loaders(tmp_path: Path) -> None:
    cfg = FactorMarketConfig(n_stocks=4, n_weeks=80, news_per_week=2, seed=1)
    m = factor_market(cfg, out_dir=tmp_path)
    daily = load_daily_sentiment(m.news_path, symbols=m.panel.symbols)
    sent = sentiment_features(m.panel, daily)
    # two items in the week plus the one stamped after the previous close
    np.testing.assert_allclose(sent.values[1:, :, 1], np.log1p(3.0))
    assert np.corrcoef(sent.values[:, :, 0].ravel(), m.sentiment.ravel())[0, 1] > 0.85
    fund = fundamental_features(m.panel, load_fundamentals(m.fundamentals_dir, symbols=m.panel.symbols))
    ok = fund.valid[:, :, 2]
    assert not ok[:4].any() and ok[4:].all()      # first quarter public 4 weeks after its end
    np.testing.assert_allclose(fund.values[:, :, 2][ok], (0.10 + 0.04 * m.fundamental)[ok], atol=1e-8)
    np.testing.assert_allclose(fund.values[:, :, 3][ok], 0.4)


@pytest.mark.parametrize("kwargs, match", [
    (dict(ic_sentiment=0.6, autocorr=0.8), "must be < 1"),
    (dict(n_stocks=1), "n_stocks=1"),
    (dict(idio_vol=0.0), "idio_vol=0.0"),
    (dict(start="not a date"), "start='not a date'"),
])
def test_invalid_settings_name_the_value(kwargs, match) -> None:
    with pytest.raises(ConfigError, match=match):
        FactorMarketConfig(**kwargs)
