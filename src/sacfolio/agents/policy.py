"""A numpy copy of the deterministic policy, for backtests and serving.

Backtests and the API only need ``tanh(mean(obs))``. At batch 1 a 64x64 actor is
a few µs of arithmetic and ~1 µs of numpy dispatch per operation, so a call runs
exactly the nine operations of the plain expression (``dot``, ``add``, ``maximum``
per layer, ``tanh``) into buffers kept per thread and input shape, allocating only
the returned array (``benchmarks/bench_policy.py`` measures batch 1 and 64 beside
the plain expression and the torch actor).
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Mapping

import numpy as np

from sacfolio.agents.networks import GaussianActor
from sacfolio.exceptions import CorruptArtifactError

__all__ = ["NumpyPolicy"]

_Layer = tuple[np.ndarray, np.ndarray, np.ndarray]
_ZERO = np.zeros((), dtype=np.float32)  # a 0-d array: np.maximum takes it faster than a scalar
_ZERO.flags.writeable = False
_dot, _add, _maximum, _tanh = np.dot, np.add, np.maximum, np.tanh  # one global lookup per call each
_MAX_ROWS = 4096
"""Largest batch whose layer buffers are kept between calls (bigger ones allocate per call)."""
_MAX_SHAPES = 8
"""Input shapes whose buffers one thread keeps (the dictionary starts over past this)."""


class NumpyPolicy:
    """Deterministic SAC policy ``obs -> tanh(mean)`` as plain numpy matmuls.

    Parameters
    ----------
    weights : sequence of ndarray, shapes (in_l, out_l)
        Hidden layers (ReLU after each) followed by the mean head, input layer first.
    biases : sequence of ndarray, shapes (out_l,)
    """

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        if len(weights) != len(biases) or len(weights) < 1:
            raise CorruptArtifactError(f"NumpyPolicy needs as many biases as weights (>= 1), "
                                       f"got {len(weights)} weights and {len(biases)} biases.")
        self.weights = [np.ascontiguousarray(w, dtype=np.float32) for w in weights]
        self.biases = [np.ascontiguousarray(b, dtype=np.float32) for b in biases]
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            if w.ndim != 2 or b.shape != (w.shape[1],):
                raise CorruptArtifactError(f"layer {i}: weight {w.shape} and bias {b.shape} do not fit.")
            if i and w.shape[0] != self.weights[i - 1].shape[1]:
                raise CorruptArtifactError(f"layer {i} expects {w.shape[0]} inputs but layer {i - 1} "
                                           f"gives {self.weights[i - 1].shape[1]}.")
        self._obs_dim = self.weights[0].shape[0]
        self._local = threading.local()  # per thread: {input shape: buffers of every layer}

    @property
    def obs_dim(self) -> int:
        return self._obs_dim

    @property
    def act_dim(self) -> int:
        return self.weights[-1].shape[1]

    @classmethod
    def from_actor(cls, actor: GaussianActor) -> "NumpyPolicy":
        """Copy the trunk and mean head of a trained actor (the log-std head is not needed)."""
        layers = actor.linears()[:-1]  # trunk..., mean head
        # copies, never views: a view would follow the actor's later training, and point at
        # freed memory once torch moves the parameters (e.g. to shared memory for a worker)
        return cls([l.weight.detach().cpu().numpy().T.copy() for l in layers],
                   [l.bias.detach().cpu().numpy().copy() for l in layers])

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic actions.

        Parameters
        ----------
        obs : ndarray, shape (B, obs_dim) or (obs_dim,)

        Returns
        -------
        ndarray float32, shape (B, act_dim) or (act_dim,), in [-1, 1]
            A new array on every call.
        """
        x = obs if type(obs) is np.ndarray and obs.dtype == np.float32 else np.asarray(obs, dtype=np.float32)
        try:
            hidden, head = self._local.plans[x.shape]
        except (AttributeError, KeyError):
            hidden, head = self._plan(x.shape)
        # relu(x @ w + b) layer by layer with the same numpy operations as the plain
        # expression, into buffers kept per thread and input shape: bit-identical to it,
        # and no allocation but the returned array
        for w, b, h in hidden:
            _dot(x, w, out=h)
            _add(h, b, out=h)
            _maximum(h, _ZERO, out=h)
            x = h
        w, b, h = head
        _dot(x, w, out=h)
        _add(h, b, out=h)
        return _tanh(h)

    def _plan(self, shape: tuple[int, ...]) -> tuple[list[_Layer], _Layer]:
        """``(weight, bias, output buffer)`` of every layer for inputs of ``shape``, kept for
        this thread when the batch has at most :data:`_MAX_ROWS` rows."""
        if not shape or shape[-1] != self._obs_dim:
            raise ValueError(f"observation has {shape[-1] if shape else 0} features, "
                             f"the policy expects {self._obs_dim}")
        lead = shape[:-1]
        layers = [(w, b, np.empty(lead + (w.shape[1],), dtype=np.float32))
                  for w, b in zip(self.weights, self.biases)]
        plan = layers[:-1], layers[-1]
        if math.prod(lead) <= _MAX_ROWS:
            plans = getattr(self._local, "plans", None)
            if plans is None or len(plans) >= _MAX_SHAPES:
                plans = self._local.plans = {}
            plans[shape] = plan
        return plan

    def __getstate__(self) -> dict[str, object]:
        """Pickle the weights only: the per-thread buffers are rebuilt on first use."""
        return {"weights": self.weights, "biases": self.biases}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["weights"], state["biases"])  # type: ignore[misc, arg-type]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays by name (``layer<i>.weight`` (in, out), ``layer<i>.bias``), safe to store."""
        out = {}
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            out[f"layer{i}.weight"], out[f"layer{i}.bias"] = w.copy(), b.copy()
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "NumpyPolicy":
        """Inverse of :meth:`to_arrays`."""
        n = sum(1 for k in arrays if k.endswith(".weight"))
        try:
            return cls([arrays[f"layer{i}.weight"] for i in range(n)],
                       [arrays[f"layer{i}.bias"] for i in range(n)])
        except KeyError as exc:
            raise CorruptArtifactError(f"policy arrays lack {exc.args[0]!r}; found {sorted(arrays)}.") from exc

    def save(self, path: str | Path) -> None:
        """Write the arrays to an ``.npz`` file (no pickle)."""
        np.savez(path, **self.to_arrays())

    @classmethod
    def load(cls, path: str | Path) -> "NumpyPolicy":
        """Read a policy written by :meth:`save` (``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as data:
            return cls.from_arrays({k: data[k] for k in data.files})
