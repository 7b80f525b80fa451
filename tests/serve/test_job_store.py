"""The SQLite job store: one active job per model and mode, FIFO claims, interrupted jobs failed."""

from __future__ import annotations

import pytest

from sacfolio.serve.jobs import JobStore


def test_active_jobs_are_not_duplicated_and_claims_are_first_in_first_out(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    a, created_a = store.submit("sac_price", "full", {"steps": 1})
    b, created_b = store.submit("sac_price", "finetune", {"steps": 2})
    again, created_again = store.submit("sac_price", "full", {"steps": 3})
    assert created_a and created_b and not created_again and again.id == a.id
    assert again.params == {"steps": 1}
    assert store.claim_next().id == a.id
    assert store.submit("sac_price", "full", {})[0].id == a.id  # running counts as active
    assert store.claim_next().id == b.id
    assert store.claim_next() is None
    store.progress(a.id, 1.7, "line\n" * 2000)
    got = store.get(a.id)
    assert got.progress == 1.0 and len(got.log_tail) <= 4000
    assert store.succeed(a.id, version="v1", promoted=True, decision={"cagr": float("nan")}, log_tail="ok")
    assert store.get(a.id).decision == {"cagr": None}
    fresh, created = store.submit("sac_price", "full", {})
    assert created and fresh.id != a.id


def test_a_new_store_on_the_same_file_fails_jobs_left_running(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path)
    job, _ = store.submit("sac_price", "full", {})
    store.claim_next()
    store.set_pid(job.id, 4242)
    reopened = JobStore(path)
    assert reopened.fail_interrupted() == [job.id]
    failed = reopened.get(job.id)
    assert failed.state == "failed" and "worker pid 4242" in failed.error
    # the worker of the cut-off job can no longer overwrite the verdict
    assert not reopened.succeed(job.id, version="v", promoted=True, decision={}, log_tail="")
    assert reopened.get(job.id).state == "failed"


def test_a_corrupt_store_is_moved_aside_never_overwritten(tmp_path, caplog):
    path = tmp_path / "jobs.sqlite3"
    garbage = b"this is not SQLite\x00" * 100
    path.write_bytes(garbage)
    with caplog.at_level("ERROR", logger="sacfolio.serve.jobs"):
        store = JobStore(path)
    assert store.moved_aside is not None and store.moved_aside.read_bytes() == garbage
    assert "moved it aside" in caplog.text and str(store.moved_aside) in caplog.text
    job, created = store.submit("sac_price", "full", {"steps": 1})  # a fresh, working store
    assert created and store.get(job.id).state == "queued"
    path.write_bytes(garbage)
    with pytest.raises(Exception, match="not a database"):
        JobStore(path, recover_corrupt=False)  # a worker never moves the service's store
    assert path.read_bytes() == garbage
