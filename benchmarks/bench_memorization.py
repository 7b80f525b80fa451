"""Why the signal learner gets feature noise: a return regressor memorizes weeks, noise stops it.

On the planted AR(1) market (:mod:`sacfolio.data.known_markets`) the predictable part of a
stock's weekly return is about 1% of its variance. This study fits the per-stock regression
the SAC critic has to learn (next week's return, demeaned across stocks, on the stock's
standardized price features, demeaned across stocks; sac_price's features) on each fold's
training weeks only, trades its forecasts through the known policy's linear program
(:class:`~sacfolio.strategies.known.KnownModel` given the forecasts instead of the true
means), and prints the share of the true policy's expected edge over 1/N, net of costs, that
it earns in the test year, with the mean cross-sectional correlation of forecast and truth:

- least squares, six coefficients: the ceiling a learner of this data can reach;
- the same small MLP (64, 64), Adam 1e-3, 64 weeks a batch, after a number of updates, with
  and without N(0, sigma^2) noise on its standardized inputs (``SACConfig.feature_noise``).

The SAC learner replays its ~470 training weeks for 6,000 updates of 64: each week ~800
times. A regressor trained that long fits the weeks' draws, not the signal.

    python benchmarks/bench_memorization.py                       # draws 1, 5, 6, test year 2010
    python benchmarks/bench_memorization.py --draws 5,6,7,8 --updates 100,1000,6000 --noise 0,1
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from sacfolio.broker.rules import PortfolioRules
from sacfolio.data.known_markets import known_market
from sacfolio.evaluate.backtest import backtest_strategy
from sacfolio.evaluate.folds import Fold, yearly_folds
from sacfolio.features.price import price_features
from sacfolio.strategies.known import KnownModel
from sacfolio.strategies.simple import EqualWeight

RULES = PortfolioRules()


def _demeaned(x: np.ndarray) -> np.ndarray:
    """``x`` less its mean across stocks (axis 1)."""
    return x - x.mean(axis=1, keepdims=True)


def _inputs(panel, fold: Fold) -> tuple[np.ndarray, np.ndarray, float]:
    """(features (T, N, F) standardized on rows < train_stop and demeaned across stocks,
    next week's simple returns (T, N) demeaned across stocks (0 in the last row), the mean
    weekly stock return of the training weeks: the market level a forecast of relative
    returns is traded on, as CASH earns 0)."""
    x = np.nan_to_num(price_features(panel).values)
    seen = x[:fold.train_stop].reshape(-1, x.shape[2])
    z = (x - seen.mean(0)) / (seen.std(0) + 1e-12)
    r = np.zeros(panel.close.shape)
    r[:-1] = panel.close[1:] / panel.close[:-1] - 1.0
    return _demeaned(z), _demeaned(r), float(r[fold.train_start:fold.train_stop - 1].mean())


def least_squares(z: np.ndarray, r: np.ndarray, fold: Fold, **_) -> np.ndarray:
    rows = slice(fold.train_start, fold.train_stop - 1)   # the last training return ends at train_stop
    beta = np.linalg.lstsq(z[rows].reshape(-1, z.shape[2]), r[rows].reshape(-1), rcond=None)[0]
    return z @ beta


def mlp(z: np.ndarray, r: np.ndarray, fold: Fold, *, updates: int, noise: float, seed: int = 0) -> np.ndarray:
    torch.manual_seed(seed)
    x, y = torch.tensor(z, dtype=torch.float32), torch.tensor(r * 100.0, dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Linear(z.shape[2], 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                              torch.nn.ReLU(), torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    rows, rng = np.arange(fold.train_start, fold.train_stop - 1), np.random.default_rng(seed)
    for _ in range(updates):
        b = torch.from_numpy(rng.choice(rows, 64))
        inputs = x[b] + noise * torch.randn_like(x[b])
        loss = (net(inputs).squeeze(-1) - y[b]).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return net(x).squeeze(-1).double().numpy() / 100.0


def share(panel, mu: np.ndarray, forecast: np.ndarray, fold: Fold) -> tuple[float, float]:
    """(the forecast policy's expected edge over 1/N as a share of the true policy's, the
    mean cross-sectional correlation of forecast and true mean over the test weeks)."""
    test = slice(fold.test_start, fold.test_stop)
    base = backtest_strategy(panel, EqualWeight(panel, RULES), fold, RULES)
    edges = []
    for means in (forecast, mu):
        r = backtest_strategy(panel, KnownModel(panel, means, RULES), fold, RULES)
        edges.append(float((((r.weights - base.weights)[:, :-1] * mu[test]).sum(1) - (r.costs - base.costs)).mean()))
    corr = np.mean([np.corrcoef(forecast[t], mu[t])[0, 1] for t in range(fold.test_start, fold.test_stop)])
    return edges[0] / edges[1], float(corr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--draws", default="1,5,6", help="comma list of AR(1) market draws")
    p.add_argument("--strength", type=float, default=0.1)
    p.add_argument("--year", type=int, default=2010, help="test year (trained on every week before it)")
    p.add_argument("--updates", default="100,300,1000,6000", help="comma list of MLP updates")
    p.add_argument("--noise", default="0,0.5,1", help="comma list of input noise sigmas")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    draws = [int(d) for d in a.draws.split(",")]
    learners = [("least squares", least_squares, {})] + [
        (f"mlp {u:>5} upd, sigma {s:g}", mlp, {"updates": u, "noise": s})
        for s in (float(x) for x in a.noise.split(",")) for u in (int(x) for x in a.updates.split(","))]
    markets = [known_market("ar1", strength=a.strength, seed=d) for d in draws]
    print(f"AR(1) {a.strength}, test year {a.year}: share of the true policy's expected edge over 1/N "
          f"(net of costs) / corr(forecast, true mean)")
    print(f"{'learner':28}" + "".join(f"  draw {d:<12}" for d in draws) + "  mean share")
    for label, fit, kw in learners:
        cells = []
        for m in markets:
            fold = yearly_folds(m.panel.dates, [a.year])[0]
            z, r, level = _inputs(m.panel, fold)
            cells.append(share(m.panel, m.expected_returns(), level + fit(z, r, fold, **kw), fold))
        print(f"{label:28}" + "".join(f"  {s:6.1%} / {c:4.2f}  " for s, c in cells)
              + f"  {np.mean([s for s, _ in cells]):6.1%}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
