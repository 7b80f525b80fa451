"""Wall time and quality of the full walk-forward forecasts on the embedded S&P 500 sample.

For each forecaster (LSTM, PatchTST) trains one model per year 1995-2022 on the five
years before it (20 stocks, weekly, default :class:`ForecastConfig`), without cache,
with one torch thread, and prints the wall time (target: under 3 minutes each) and the
per-year quality table (rank IC, hit rate, out-of-sample R^2 against momentum and zero).

Run:  .venv/bin/python benchmarks/bench_forecast.py [--first 1995] [--last 2022] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import torch

from sacfolio.data import load_sp500_sample
from sacfolio.features.forecast import (
    ForecastConfig,
    forecast_quality,
    format_quality_table,
    walk_forward_forecasts,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=int, default=1995)
    parser.add_argument("--last", type=int, default=2022)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=["lstm", "patchtst"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    panel = load_sp500_sample()
    years = list(range(args.first, args.last + 1))
    print(f"{panel}; years {args.first}-{args.last}; torch threads {torch.get_num_threads()}")
    for model in args.models:
        config = ForecastConfig(model=model, seed=args.seed)
        start = time.perf_counter()
        result = walk_forward_forecasts(panel, config, years=years, cache_dir=None, progress=False)
        wall = time.perf_counter() - start
        print(f"\n{model}: {len(result.fits)} years in {wall:.1f} s "
              f"({wall / max(len(result.fits), 1):.2f} s/year; target < 180 s)")
        print(format_quality_table(forecast_quality(panel, result), title=f"{model} forecast quality"))


if __name__ == "__main__":
    main()
