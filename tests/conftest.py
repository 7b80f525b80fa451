"""Test-wide settings: one torch thread (faster on 2 cores, and deterministic)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def recent_sample():
    """The embedded S&P 500 sample from 2016 on (~350 weeks x 20 stocks): small enough to
    train a few hundred steps on, real enough to have gaps and regime changes."""
    from sacfolio.data import load_sp500_sample

    return load_sp500_sample(start="2016-01-01")


@pytest.fixture(scope="session")
def ray_session():
    """One real Ray head for the whole session, on 127.0.0.1 with 2 CPUs and no dashboard,
    shut down at the end. Ray is not skipped when missing: CI installs ``sacfolio[ray]``."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    yield ray
    ray.shutdown()
