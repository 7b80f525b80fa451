"""Crash consistency of ``current`` and ``promotions.jsonl``: real processes killed with SIGKILL
while promoting, rolling back, saving and collecting garbage, and the half-finished states a
kill can leave.

``SACFOLIO_FAULT_KILLS`` sets how many kills the loop makes (30 here, 100 in ``make faults``).
"""

from __future__ import annotations

import errno
import os
import random
import signal
import time
from pathlib import Path

import pytest
from _registry_models import make_artifacts

from sacfolio.exceptions import RegistryError
from sacfolio.registry import Registry
from sacfolio.registry.history import append_history, read_history
from sacfolio.registry.pointer import last_promoting_entry, read_pointer
from sacfolio.registry.storage import LocalStore

KILLS = int(os.environ.get("SACFOLIO_FAULT_KILLS", "30"))


def _promote_forever(root: str, versions: list[str], seed: int) -> None:
    """The child: promote, roll back, set ``current``, save and gc at random until killed."""
    rng = random.Random(seed)
    registry = Registry(root, lock_timeout=30)
    spare = make_artifacts(4)
    while True:
        op = rng.random()
        try:
            if op < 0.4:
                registry.promote("m", rng.choice(versions), reason="kill loop", action="gate")
            elif op < 0.65:
                registry.rollback("m")
            elif op < 0.8:
                registry.set_current("m", rng.choice(versions))
            elif op < 0.9:
                registry.save("m", spare)
            else:
                registry.gc("m", keep=2)
        except RegistryError:
            pass  # nothing earlier to roll back to


def _kill_one(root: str, versions: list[str], seed: int, rng: random.Random) -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            _promote_forever(root, versions, seed)
        finally:
            os._exit(1)
    time.sleep(rng.uniform(0.005, 0.06))
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def run_kill_loop(root: Path, kills: int) -> dict[str, int]:
    """SIGKILL a promoting process ``kills`` times; after each, ``current`` must equal the
    newest promoting entry of the history. Returns counts of what the kills left."""
    registry = Registry(root, lock_timeout=30)
    versions = [registry.save("m", make_artifacts(seed)) for seed in (1, 2, 3)]
    registry.set_current("m", versions[0], reason="start")
    rng = random.Random(0)
    counts = {"kills": 0, "gaps": 0, "pointer_behind": 0, "torn_lines": 0, "leftovers": 0}
    for i in range(kills):
        _kill_one(str(root), versions, seed=i, rng=rng)
        counts["kills"] += 1
        text = (root / "m" / "promotions.jsonl").read_bytes()
        counts["torn_lines"] += not text.endswith(b"\n")
        history = read_history(registry.store, "m")
        last = last_promoting_entry(history)
        pointer = read_pointer(registry.store, "m")
        counts["pointer_behind"] += pointer is not None and pointer[1] != last["entry"]
        current = Registry(root).current("m")
        counts["gaps"] += current != last["version"]
        assert current in versions and registry.load("m").metadata["seed"] in (1, 2, 3)
        counts["leftovers"] += any(p.name.startswith(".tmp-") for p in (root / "m").iterdir())
    for version in registry.versions("m"):  # every version that counts is whole
        registry.load("m", version)
    registry.gc("m", keep=0)
    assert not [p for p in (root / "m").iterdir() if p.name.startswith(".tmp-")]
    return counts


def test_sigkill_during_promote_rollback_save_and_gc_never_leaves_a_history_gap(tmp_path: Path) -> None:
    started = time.monotonic()
    counts = run_kill_loop(tmp_path / "models", KILLS)
    print(f"kill loop: {counts} in {time.monotonic() - started:.1f} s")
    assert counts["kills"] == KILLS and counts["gaps"] == 0, counts
    assert time.monotonic() - started < 30 + KILLS  # bounded: about 0.1 s a kill


def test_a_writer_killed_after_recording_but_before_pointing_reads_as_recorded(registry: Registry) -> None:
    a, b = (registry.save("m", make_artifacts(s)) for s in (1, 2))
    registry.set_current("m", a)
    # the kill this emulates: the entry is written, the pointer replacement never ran
    append_history(registry.store, "m", {"action": "gate", "version": b, "previous": a, "promoted": True,
                                          "reason": "killed before the pointer"})
    assert read_pointer(registry.store, "m")[0] == a
    assert registry.current("m") == b and registry.resolve("m") == b
    assert registry.rollback("m") == a  # the next writer repairs the pointer along the way
    assert read_pointer(registry.store, "m")[0] == a and registry.current("m") == a


def test_a_torn_last_line_is_not_an_entry_and_the_next_append_removes_it(registry: Registry) -> None:
    a, b = (registry.save("m", make_artifacts(s)) for s in (1, 2))
    registry.set_current("m", a)
    path = Path(registry.root) / "m" / "promotions.jsonl"
    with path.open("ab") as fh:
        fh.write(b'{"time":"2026-12-01T00:00:00Z","entry":"abc","version":"' + b.encode())
    assert registry.current("m") == a and len(registry.history("m")) == 1
    registry.promote("m", b, reason="after the tear")
    assert [e["version"] for e in registry.history("m")] == [a, b] and registry.current("m") == b
    assert path.read_bytes().count(b"\n") == 2


def test_a_pointer_written_by_hand_is_taken_as_it_is(registry: Registry) -> None:
    a, b = (registry.save("m", make_artifacts(s)) for s in (1, 2))
    registry.set_current("m", a)
    (Path(registry.root) / "m" / "current").write_text(b + "\n")
    assert registry.current("m") == b


def test_a_full_disk_during_a_save_keeps_the_previous_version_and_says_so(registry: Registry, monkeypatch) -> None:
    a = registry.save("m", make_artifacts(1))
    registry.set_current("m", a)
    real_write, written = LocalStore.write_file, []

    def write_until_full(self, rel: str, data: bytes) -> None:
        if len(written) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.full(rel))
        written.append(rel)
        real_write(self, rel, data)

    monkeypatch.setattr(LocalStore, "write_file", write_until_full)
    with pytest.raises(RegistryError, match="No space left on device; nothing was saved and the current "
                                            "version is unchanged"):
        registry.save("m", make_artifacts(2))
    monkeypatch.undo()
    assert registry.versions("m") == [a] and registry.current("m") == a
    assert registry.load("m").metadata["seed"] == 1
    assert not [p for p in (Path(registry.root) / "m").iterdir() if p.name.startswith(".tmp-")]
