"""A numpy copy of the deterministic policy, for backtests and serving.

A 64x64 actor costs ~31 µs per call as a torch module and ~6 µs as numpy
matmuls; backtests and the API only need ``tanh(mean(obs))``
(``benchmarks/bench_policy.py`` measures both at batch 1 and 64).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from sacfolio.agents.networks import GaussianActor
from sacfolio.exceptions import CorruptArtifactError

__all__ = ["NumpyPolicy"]


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
        self._hidden = list(zip(self.weights[:-1], self.biases[:-1]))

    @property
    def obs_dim(self) -> int:
        return self.weights[0].shape[0]

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
        """
        x = obs if type(obs) is np.ndarray and obs.dtype == np.float32 else np.asarray(obs, dtype=np.float32)
        if x.shape[-1] != self.obs_dim:
            raise ValueError(f"observation has {x.shape[-1]} features, the policy expects {self.obs_dim}")
        for w, b in self._hidden:         # np.dot + in-place ops: one new array per layer, no temporaries
            x = np.dot(x, w)
            x += b
            np.maximum(x, 0.0, out=x)
        x = np.dot(x, self.weights[-1])
        x += self.biases[-1]
        return np.tanh(x, out=x)

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
