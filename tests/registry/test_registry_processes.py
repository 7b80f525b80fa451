"""Real processes: two writers at once, and a writer killed with SIGKILL in the middle of a save."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import torch
from _registry_models import make_artifacts

from sacfolio.registry import Registry


def _wait_for(path: Path, proc, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"writer exited early: {proc.communicate()}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _same_tensors(a, b) -> bool:
    return all(torch.equal(a.tensors[f][k], b.tensors[f][k]) for f in a.tensors for k in a.tensors[f])


def test_two_processes_saving_at_once_both_get_whole_distinct_versions(
    registry: Registry, spawn_writer, tmp_path: Path
) -> None:
    go, log = tmp_path / "go", tmp_path / "writes.log"
    procs = {seed: spawn_writer(registry.root, "m", seed, "--go", go, "--pause", "0.05", "--log", log)
             for seed in (11, 12)}
    time.sleep(0.5)
    go.touch()
    ids = {}
    for seed, proc in procs.items():
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        ids[seed] = out.strip()

    assert ids[11] != ids[12]
    assert registry.versions("m") == sorted(ids.values())
    for seed, version in ids.items():
        loaded = registry.load("m", version)
        assert loaded.metadata["seed"] == seed and _same_tensors(loaded, make_artifacts(seed))
    # The lock serialized the writers: one's file writes all precede the other's.
    spans: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        stamp, pid, _ = line.split()
        spans.setdefault(pid, []).append(float(stamp))
    (a0, a1), (b0, b1) = sorted((min(s), max(s)) for s in spans.values())
    assert len(spans) == 2 and a1 < b0


def test_sigkill_mid_save_keeps_previous_current_and_gc_cleans_up(
    registry: Registry, spawn_writer, tmp_path: Path
) -> None:
    previous = registry.save("m", make_artifacts(1))
    registry.set_current("m", previous)
    ready = tmp_path / "ready"
    proc = spawn_writer(registry.root, "m", 2, "--hang-after", 2, "--ready", ready)
    _wait_for(ready, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    base = Path(registry.root) / "m"
    [leftover] = [p for p in base.iterdir() if p.name.startswith(".tmp-")]
    assert leftover.name.endswith(f"-{proc.pid}")
    assert len(list(leftover.iterdir())) == 2  # killed after its second file: really half-written

    assert registry.versions("m") == [previous]
    assert registry.current("m") == previous
    assert _same_tensors(registry.load("m"), make_artifacts(1))

    report = registry.gc("m", keep=5)
    assert report.removed_leftovers == (leftover.name,) and not leftover.exists()
    # The dead writer's lock went with it: a new save does not wait for it.
    quick = Registry(registry.root, lock_timeout=5)
    assert quick.versions("m")[-1] < quick.save("m", make_artifacts(3))
