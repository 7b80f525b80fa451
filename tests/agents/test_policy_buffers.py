"""NumpyPolicy's preallocated layer buffers: bit-identical to the plain expression, never shared."""

import pickle
import threading

import numpy as np
import torch

from sacfolio.agents import GaussianActor, NumpyPolicy
from sacfolio.agents import policy as policy_module


def _policy() -> NumpyPolicy:
    return NumpyPolicy.from_actor(GaussianActor(15, 6, (64, 64), generator=torch.Generator().manual_seed(0)))


def _plain(policy: NumpyPolicy, x: np.ndarray) -> np.ndarray:
    """The deterministic action as the plain numpy expression, a new array per operation."""
    x = np.asarray(x, dtype=np.float32)
    for w, b in zip(policy.weights[:-1], policy.biases[:-1]):
        x = np.maximum(np.dot(x, w) + b, 0.0)
    return np.tanh(np.dot(x, policy.weights[-1]) + policy.biases[-1])


def test_every_shape_is_bit_identical_to_the_plain_expression_on_every_call():
    policy = _policy()
    rng = np.random.default_rng(0)
    # more shapes than one thread keeps, a batch too big to keep, a 3-d batch, float64 input
    shapes = [(15,), (1, 15), (64, 15), *[(b, 15) for b in range(2, 2 + policy_module._MAX_SHAPES)],
              (policy_module._MAX_ROWS + 1, 15), (3, 4, 15)]
    for _ in range(2):  # the second round reuses the buffers of the first
        for shape in shapes:
            obs = rng.standard_normal(shape) * 3
            got = policy(obs.astype(np.float32))
            assert got.shape == shape[:-1] + (6,) and got.dtype == np.float32
            np.testing.assert_array_equal(got, _plain(policy, obs))
            np.testing.assert_array_equal(policy(obs), got)


def test_returned_actions_are_new_arrays_that_later_calls_leave_alone():
    policy = _policy()
    obs = np.random.default_rng(1).standard_normal((2, 15)).astype(np.float32)
    first = policy(obs[0])
    first_copy = first.copy()
    second = policy(obs[1])
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, first_copy)
    assert not np.array_equal(first, second)


def test_threads_calling_one_policy_at_once_get_their_own_answers():
    policy = _policy()
    obs = np.random.default_rng(2).standard_normal((4, 15)).astype(np.float32)
    want = [_plain(policy, o) for o in obs]
    wrong = []
    barrier = threading.Barrier(len(obs))

    def worker(i: int) -> None:
        barrier.wait()
        for _ in range(300):
            if not np.array_equal(policy(obs[i]), want[i]):
                wrong.append(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(obs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_a_pickled_policy_acts_the_same():
    policy = _policy()
    obs = np.random.default_rng(3).standard_normal((3, 15)).astype(np.float32)
    before = policy(obs)
    again = pickle.loads(pickle.dumps(policy))
    np.testing.assert_array_equal(again(obs), before)
    np.testing.assert_array_equal(again(obs[0]), policy(obs[0]))
