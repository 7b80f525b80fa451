"""The S3 backend against a real S3-compatible server (moto's server mode) on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from _registry_models import evaluate_on, make_artifacts, market

from sacfolio.exceptions import CorruptArtifactError
from sacfolio.registry import GateWindow, Registry, decide_promotion

s3fs = pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")
BUCKET = "sacfolio-models"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch):
    for var, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(var, value)
    for var in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    # moto keeps its state per Python process, across servers: start from an empty account.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=30).close()
    s3fs.S3FileSystem(client_kwargs={"endpoint_url": url}, skip_instance_cache=True).mkdir(BUCKET)
    yield url
    server.stop()


def _registry(url: str) -> Registry:
    return Registry(f"s3://{BUCKET}/registry",
                    storage_options={"client_kwargs": {"endpoint_url": url}, "skip_instance_cache": True})


def test_s3_save_list_load_promote(endpoint: str) -> None:
    registry = _registry(endpoint)
    evaluate = evaluate_on(*market())
    window = GateWindow(start="2021-01-01", end="2022-12-30")
    v1 = registry.save("sac_lstm", make_artifacts(1, favour=3))
    v2 = registry.save("sac_lstm", make_artifacts(2, favour=0), parent=v1)

    # What is on the server, seen by a separate client.
    raw = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint}, skip_instance_cache=True)
    assert sorted(p.rsplit("/", 1)[-1] for p in raw.ls(f"{BUCKET}/registry/sac_lstm/{v2}")) == [
        "actor.pt", "config.json", "critic.pt", "critic_target.pt", "log_alpha.pt", "manifest.json",
        "metadata.json", "scaler.json", "symbol_order.json"]

    other = _registry(endpoint)  # a second process's view: no shared cache
    assert other.names() == ["sac_lstm"] and other.versions("sac_lstm") == [v1, v2]
    loaded = other.load("sac_lstm", v2)
    original = make_artifacts(2, favour=0)
    assert all(torch.equal(loaded.tensors[f][k], t) for f, s in original.tensors.items() for k, t in s.items())
    assert loaded.documents == original.documents and loaded.parent == v1

    first = decide_promotion("sac_lstm", v1, evaluate=evaluate, registry=registry, window=window)
    better = decide_promotion("sac_lstm", v2, evaluate=evaluate, registry=registry, window=window)
    assert first.promoted and better.promoted and better.candidate_cagr > better.current_cagr
    # the pointer's first line is the version; the second names the history entry that set it
    assert raw.cat_file(f"{BUCKET}/registry/sac_lstm/current").decode().splitlines()[0] == v2
    assert other.load("sac_lstm").version == v2
    assert [e["version"] for e in other.history("sac_lstm")] == [v1, v2]
    assert other.rollback("sac_lstm") == v1 and registry.current("sac_lstm") == v1

    key = f"{BUCKET}/registry/sac_lstm/{v2}/actor.pt"
    data = bytearray(raw.cat_file(key))
    data[-20] ^= 0xFF
    raw.pipe_file(key, bytes(data))
    with pytest.raises(CorruptArtifactError, match=f"s3://{key} is corrupt"):
        other.load("sac_lstm", v2)


def test_s3_writer_killed_mid_save_leaves_an_invisible_version_that_gc_removes(
    endpoint: str, spawn_writer, tmp_path: Path
) -> None:
    registry = _registry(endpoint)
    previous = registry.save("m", make_artifacts(1))
    registry.set_current("m", previous)
    ready = tmp_path / "ready"
    proc = spawn_writer(registry.root, "m", 2, "--hang-after", 3, "--ready", ready, "--endpoint", endpoint)
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    partial = [e for e in registry.store.list_dir("m") if e not in ("current", "promotions.jsonl", previous)]
    assert len(partial) == 1 and len(registry.store.list_dir(f"m/{partial[0]}")) == 3
    assert registry.versions("m") == [previous] and registry.load("m").version == previous
    assert registry.gc("m").removed_leftovers == ()  # younger than stale_after: may be a live writer
    stale = Registry(registry.root, storage_options={"client_kwargs": {"endpoint_url": endpoint},
                                                     "skip_instance_cache": True}, stale_after=0)
    assert stale.gc("m").removed_leftovers == (partial[0],)
    assert registry.store.list_dir("m") == sorted(["current", "promotions.jsonl", previous])
