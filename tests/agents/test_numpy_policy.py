"""NumpyPolicy: the exported deterministic policy matches the torch actor."""

import numpy as np
import pytest
import torch

from sacfolio.agents import GaussianActor, NumpyPolicy
from sacfolio.exceptions import CorruptArtifactError


def _actor() -> GaussianActor:
    return GaussianActor(15, 6, (64, 64), generator=torch.Generator().manual_seed(0))


def test_matches_torch_actor_deterministic_action():
    actor = _actor()
    policy = NumpyPolicy.from_actor(actor)
    obs = np.random.default_rng(0).standard_normal((40, 15)).astype(np.float32) * 3
    want = actor.act(torch.from_numpy(obs), deterministic=True).numpy()
    got = policy(obs)
    assert got.shape == (40, 6) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(policy(obs[0]), want[0], atol=1e-5)
    assert (policy.obs_dim, policy.act_dim) == (15, 6)


def test_the_export_is_a_copy_that_later_training_or_shared_memory_cannot_touch():
    actor = _actor()
    policy = NumpyPolicy.from_actor(actor)
    obs = np.random.default_rng(2).standard_normal((4, 15)).astype(np.float32)
    before = policy(obs).copy()
    with torch.no_grad():
        for p in actor.parameters():
            p.add_(1.0)
    actor.share_memory()  # what sending the actor to a worker process does to its storage
    np.testing.assert_array_equal(policy(obs), before)


def test_arrays_and_npz_round_trip(tmp_path):
    policy = NumpyPolicy.from_actor(_actor())
    obs = np.random.default_rng(1).standard_normal((5, 15))
    again = NumpyPolicy.from_arrays(policy.to_arrays())
    np.testing.assert_array_equal(again(obs), policy(obs))
    policy.save(tmp_path / "policy.npz")
    np.testing.assert_array_equal(NumpyPolicy.load(tmp_path / "policy.npz")(obs), policy(obs))


def test_wrong_inputs_raise():
    policy = NumpyPolicy.from_actor(_actor())
    with pytest.raises(ValueError, match="expects 15"):
        policy(np.zeros((2, 14)))
    arrays = policy.to_arrays()
    del arrays["layer1.bias"]
    with pytest.raises(CorruptArtifactError, match="layer1.bias"):
        NumpyPolicy.from_arrays(arrays)
    arrays = policy.to_arrays()
    arrays["layer1.weight"] = arrays["layer1.weight"][:10]
    with pytest.raises(CorruptArtifactError, match="layer 1"):
        NumpyPolicy.from_arrays(arrays)
