"""Run every benchmark and print one markdown table: each figure beside its anchor and target.

Each ``benchmarks/bench_*.py`` runs as its own process (one torch/BLAS thread) with the
arguments below; a known benchmark's figures are read from its output, any other
benchmark gets one row with its last output line. The long studies (``bench_learning``,
``bench_forecast``) run only with ``--studies``. This table is the README's benchmark
table.

    .venv/bin/python benchmarks/run_all.py [--quick] [--studies] [--only sac,env] [--timeout 1800]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent


class Row(NamedTuple):
    figure: str
    value: str
    anchor: str
    target: str


class Figure(NamedTuple):
    """One table row read from a benchmark's output: ``value`` formats ``pattern``'s groups."""

    figure: str
    pattern: str
    value: str
    anchor: str
    target: str
    optional: bool = False


class Spec(NamedTuple):
    args: tuple[str, ...]
    quick: tuple[str, ...]
    figures: tuple[Figure, ...]
    study: bool = False


_NUM = r"\s+([\d.,]+)"
_SAC_ANCHOR, _SAC_TARGET = "SBX (SB3's JAX port) 2.13× SB3", "≥ 4× SB3"
_ENSEMBLE_TARGET = "≥ 20× SB3, equal to separate runs to 1e-5"

SPECS: dict[str, Spec] = {
    "bench_sac": Spec(("--steps", "2000", "--repeats", "3"), ("--steps", "600", "--repeats", "1"), (
        Figure("SAC env-steps/s, 1 update/step, no clipping, vs SB3 in the same run (`bench_sac.py`)",
               r"^sacfolio" + _NUM * 4 + r"\s*$", "{3}× SB3 by CPU time ({2}× wall; {1} steps/s CPU)",
               _SAC_ANCHOR, _SAC_TARGET),
        Figure("the same with gradient clipping at 1.0 (the default config)", r"^sacfolio\+clip" + _NUM * 4,
               "{3}× SB3 by CPU time ({2}× wall)", _SAC_ANCHOR, _SAC_TARGET))),
    "bench_ensemble": Spec(("--agents", "16", "--updates", "100", "--repeats", "3"),
                           ("--agents", "16", "--updates", "20", "--repeats", "1"), (
        Figure("agent-updates/s, one SAC (update only, `bench_ensemble.py`)", r"^sacfolio" + _NUM * 2 + r"\s*$",
               "{1}× SB3 ({0}/s)", "—", "—"),
        Figure("agent-updates/s, K = 16 agents as one batched model", r"^batched K=\d+" + _NUM * 2 + r"\s*$",
               "{1}× SB3 ({0}/s)", "stacked-bmm prototype 10.5× SB3 at K = 16", _ENSEMBLE_TARGET),
        Figure("the same, 2 processes at once (wall)", r"^batched K=\d+ x 2 processes" + _NUM * 2,
               "{1}× SB3 ({0}/s)", "prototype 16× at K = 16 × 2 processes", _ENSEMBLE_TARGET, optional=True))),
    "bench_env": Spec(("--seconds", "3"), ("--seconds", "1", "--repeats", "1"), (
        Figure("env-steps/s, batched core, B = 64 (`bench_env.py`)", r"^core, B = 64" + _NUM, "{0}",
               "FinRL's env ≈ 1,900; numpy prototype 1.2M", "≥ 1.9M"),)),
    "bench_policy": Spec((), ("--calls", "2000", "--repeats", "2"), (
        Figure("policy act latency, batch 1 / 64, in process (`bench_policy.py`)", r"^NumpyPolicy" + _NUM * 2,
               "{0} µs / {1} µs", "SB3 `predict` ≈ 190 µs; numpy 64×64 MLP ≈ 6 µs", "≤ 10 µs at batch 1"),
        Figure("the torch actor, same batches", r"^torch actor\.act" + _NUM * 2, "{0} µs / {1} µs", "—", "—"))),
    "bench_api": Spec((), ("--seconds", "1", "--rounds", "2"), (
        Figure("`POST /inference`, 8 connections, `wrk`, beside a bare FastAPI route in the same run (`bench_api.py`)",
               r"^median POST /inference/sac_price\s+(\d+) req/s\s+p50 ([\d.]+) ms\s+p99 ([\d.]+) ms(?s:.*?)"
               r"^inference/bare: req/s ([\d.]+)x \(target >= 0.90\), p99 ([\d.]+)x",
               "{0} req/s, p99 {2} ms: {3}× the bare route's req/s, p99 {4}× its p99",
               "bare FastAPI route, same run", "≥ 90% of bare req/s, p99 ≤ 1.25× bare"),)),
    "bench_learning": Spec(("targets",), ("targets",), (), study=True),
    "bench_forecast": Spec((), ("--first", "2019", "--last", "2020"), (), study=True),
}


def _rows(name: str, figures: tuple[Figure, ...], out: str) -> list[Row]:
    """The figures read from ``out``; without figures, one row with its last line."""
    if not figures:
        lines = [line.strip() for line in out.splitlines() if line.strip()]
        return [Row(f"`{name}` (last line of its output)", lines[-1] if lines else "(no output)", "—", "—")]
    rows = []
    for f in figures:
        match = re.search(f.pattern, out, re.MULTILINE)
        if match is None and not f.optional:
            raise ValueError(f"{name}: no line matches {f.pattern!r}")
        if match is not None:
            rows.append(Row(f.figure, f.value.format(*match.groups()), f.anchor, f.target))
    return rows


def _run(name: str, args: tuple[str, ...], timeout: float) -> tuple[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(HERE / f"{name}.py"), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=HERE.parent)
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return proc.stdout, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not for the README)")
    parser.add_argument("--studies", action="store_true", help="also run the long studies")
    parser.add_argument("--only", default="", help="comma list of names without 'bench_' (default: all)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark")
    parser.add_argument("--log", type=Path, help="also write every benchmark's full output here")
    args = parser.parse_args()
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only.split(",")]
    rows: list[Row] = []
    logs = []
    for name in names:
        spec = SPECS.get(name, Spec((), (), ()))
        if spec.study and not args.studies:
            rows.append(Row(f"`{name}`", "not run (a study; `--studies`)", "—", "—"))
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            out, seconds = _run(name, spec.quick if args.quick else spec.args, args.timeout)
            rows += _rows(name, spec.figures, out)
            logs.append(f"## {name} ({seconds:.0f} s)\n{out}")
        except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
            rows.append(Row(f"`{name}`", f"failed: {exc}", "—", "—"))
    print("| figure | measured | anchor | target |\n| --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row.figure} | {row.value} | {row.anchor} | {row.target} |")
    if args.log:
        args.log.write_text("\n".join(logs))


if __name__ == "__main__":
    main()
