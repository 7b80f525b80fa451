"""Peak memory (RSS) of the demo on a short configuration, phase by phase, and what holds it.

Two measurements, each in fresh processes:

1. **imports**: the resident memory a fresh interpreter holds after importing, one after
   another, the heavy libraries the demo loads (numpy, pandas, scipy, torch, ...) and
   then ``sacfolio.cli``; then ``sacfolio.cli`` alone and a training worker's modules
   alone: what every process of the demo pays before it computes anything.
2. **the demo**: ``sacfolio demo`` with few steps as a child process. A sampler reads the
   memory of the demo and of every process it starts (``/proc/<pid>/task/*/children``)
   every ``--interval`` seconds from ``/proc/<pid>/smaps_rollup``: RSS, and PSS (shared
   pages split between the processes that map them, so PSS adds up across processes
   where RSS counts a shared library once per process). Each sample belongs to the
   phase the demo last announced on stdout.

Figures: the peak RSS of the main process (``ru_maxrss`` of the demo, what
``/usr/bin/time`` reports), of the largest worker, and the peak of the PSS summed over
all the demo's processes at once. Target: peak RSS <= 500 MiB.

    .venv/bin/python benchmarks/bench_memory.py [--start 2012-01-01] [--steps 200] [--seeds 2] [--executor process]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

IMPORTS = ("numpy", "pandas", "scipy.stats", "torch", "gymnasium", "matplotlib.pyplot", "plotly.graph_objects",
           "torch.utils.tensorboard", "sacfolio.cli")
_PROBE = """
import importlib, sys
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
print(f"python {rss():.1f}")
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ImportError:
        print(f"{name} -")
        continue
    print(f"{name} {rss():.1f}")
"""


def _mib(kib: int) -> float:
    return kib / 1024


def import_costs(python: str, names: tuple[str, ...]) -> list[tuple[str, float | None]]:
    """RSS (MiB) of a fresh interpreter after importing each of ``names`` in turn (None: not installed)."""
    done = subprocess.run([python, "-c", _PROBE, *names], capture_output=True, text=True, check=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    rows = []
    for line in done.stdout.splitlines():
        name, value = line.rsplit(" ", 1)
        rows.append((name, None if value == "-" else float(value)))
    return rows


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return out


def _memory(pid: int) -> tuple[int, int] | None:
    """(RSS, PSS) in KiB of one process, None once it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            text = fh.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    values = {}
    for line in text.splitlines()[1:]:
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss"):
            values[key] = int(rest.split()[0])
    return (values["Rss"], values["Pss"]) if len(values) == 2 else None


@dataclass
class Phase:
    """Peaks seen while the demo was in one phase (KiB)."""

    name: str
    start: float
    main_rss: int = 0
    worker_rss: int = 0
    tree_pss: int = 0
    processes: int = 0
    samples: int = 0


@dataclass
class DemoRun:
    phases: list[Phase] = field(default_factory=list)
    maxrss_main: int = 0
    maxrss_children: int = 0
    wall: float = 0.0
    returncode: int = 0
    tail: str = ""


def run_demo(args: argparse.Namespace, workdir: Path) -> DemoRun:
    """Run the short demo in ``workdir`` and sample its processes' memory until it exits."""
    exe = str(Path(sys.executable).with_name("sacfolio"))
    cmd = [exe, "demo", "--start", args.start, "--steps", str(args.steps), "--fold-steps", str(args.fold_steps), "--seeds",
           str(args.seeds), "--eval-years", args.eval_years, "--executor", args.executor, "--workers",
           str(args.workers), "--variant", args.variant, "--no-progress", "--no-resume",
           "--out", str(workdir / "out"), "--home", str(workdir / "home")]
    run = DemoRun(phases=[Phase("start-up and imports", 0.0)])
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.strip() and not line.startswith((" ", "│", "┃", "┏", "┡", "└", "╭", "╰", "|")):
                run.phases.append(Phase(line.strip()[:70], time.perf_counter() - start))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while proc.poll() is None:
        phase = run.phases[-1]
        pids = _descendants(proc.pid)
        seen = [(pid, m) for pid in pids if (m := _memory(pid)) is not None]
        if seen:
            phase.samples += 1
            phase.processes = max(phase.processes, len(seen))
            phase.tree_pss = max(phase.tree_pss, sum(m[1] for _, m in seen))
            for pid, (rss, _) in seen:
                if pid == proc.pid:
                    phase.main_rss = max(phase.main_rss, rss)
                else:
                    phase.worker_rss = max(phase.worker_rss, rss)
        time.sleep(args.interval)
    reader.join(timeout=5)
    run.wall = time.perf_counter() - start
    run.returncode = proc.returncode
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the demo and what it waited for
    run.maxrss_children = usage.ru_maxrss
    run.maxrss_main = max((p.main_rss for p in run.phases), default=0)
    run.tail = "\n".join(lines[-15:])
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="SAC steps of the first fold")
    parser.add_argument("--fold-steps", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--eval-years", default="2022")
    parser.add_argument("--start", default="2012-01-01",
                        help="first date of data (fewer years: fewer walk-forward LSTM forecast fits)")
    parser.add_argument("--executor", default="process", help="as the demo's --executor (its default: process)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--variant", default="sac_lstm")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between memory samples")
    parser.add_argument("--skip-imports", action="store_true")
    args = parser.parse_args()

    if not args.skip_imports:
        print("RSS of a fresh interpreter after each import (MiB):")
        prev = None
        for name, rss in import_costs(sys.executable, IMPORTS):
            if rss is None:
                print(f"  {name:<28}{'not installed':>12}")
                continue
            print(f"  {name:<28}{rss:>8.0f}{'' if prev is None else f'  (+{rss - prev:.0f})':>10}")
            prev = rss
        for name, what in (("sacfolio.cli", "the CLI (the demo's main process)"),
                           ("sacfolio.workflows.walkforward", "a training worker's code")):
            rss = import_costs(sys.executable, (name,))[-1][1]
            print(f"  {name} alone, {what}: {rss:.0f} MiB")

    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        run = run_demo(args, Path(tmp))
    if run.returncode != 0:
        print(run.tail)
        raise SystemExit(f"the demo failed with exit code {run.returncode}")
    print(f"\nsacfolio demo --start {args.start} --steps {args.steps} --fold-steps {args.fold_steps} --seeds {args.seeds} "
          f"--eval-years {args.eval_years} --executor {args.executor} --workers {args.workers} "
          f"--variant {args.variant}: {run.wall:.0f} s")
    print(f"{'from s':>6}  {'phase: the last line the demo printed':<64}{'main RSS':>9}{'worker RSS':>11}"
          f"{'all PSS':>9}{'procs':>6}   (MiB)")
    for p in run.phases:
        if p.samples:
            print(f"{p.start:>6.0f}  {p.name[:64]:<64}{_mib(p.main_rss):>9.0f}{_mib(p.worker_rss):>11.0f}"
                  f"{_mib(p.tree_pss):>9.0f}{p.processes:>6}")
    worker = max((p.worker_rss for p in run.phases), default=0)
    tree = max((p.tree_pss for p in run.phases), default=0)
    print(f"peak RSS of the demo (short run): main {_mib(run.maxrss_children):.0f} MiB (ru_maxrss), largest "
          f"worker {_mib(worker):.0f} MiB, all processes at once {_mib(tree):.0f} MiB PSS (target <= 500 MiB)")


if __name__ == "__main__":
    main()
