"""Auxiliary return heads: predict each stock's future return from the actor's features.

An earlier agent had such heads but trained them with their loss switched off, so
they kept their initial weights and the service answered zeros for weeks. Here the
heads sit on the actor's hidden features (one ``Linear`` per horizon, so a horizon
whose coefficient is 0 gets no gradient at all and the health monitor names it as
never changed), their loss is a masked MSE, and :func:`validate_aux` is the check
the promotion gate runs before a model may serve.

Why the actor's trunk and not a separate one: the point of an auxiliary loss is to
shape the representation the policy acts on (Jaderberg et al., "Reinforcement
Learning with Unsupervised Auxiliary Tasks", 2016); a separate trunk would be a
forecaster bolted on, costing a second forward per update. With coefficients of
0.01 the aux gradient is a mild regularizer of the trunk, not a competing task.

Look-ahead: the targets are FUTURE returns (rows ``t+1 .. t+h`` for a decision at
row ``t``). They are training labels only, never inputs: the observation at ``t``
is unchanged, and :func:`forward_returns` marks every target that needs a row after
``last_row`` (the end of the training span) as unknown, so no label leaks the
evaluation period.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from sacfolio.exceptions import ConfigError

__all__ = ["AuxObjective", "AuxReturnHeads", "aux_losses", "aux_shape_of", "forward_returns", "validate_aux"]


class AuxReturnHeads(nn.Module):
    """One linear head per horizon on shared features, squashed to ``+-clip``.

    Parameters
    ----------
    in_features : int
        Width of the features the heads read (the actor's last hidden layer).
    n_horizons, n_assets : int
        H horizons, N stocks (CASH has no return to predict).
    clip : float
        Predictions are ``clip * tanh(linear(features))``.
    generator : torch.Generator, optional
        Source of the initial weights (``nn.Linear``'s default U(-1/sqrt(in), 1/sqrt(in))).
    """

    def __init__(self, in_features: int, n_horizons: int, n_assets: int, *, clip: float = 1.0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if n_horizons < 1 or n_assets < 1:
            raise ConfigError(f"aux heads need >= 1 horizon and >= 1 asset, got {n_horizons}, {n_assets}.")
        self.n_horizons, self.n_assets, self.clip = int(n_horizons), int(n_assets), float(clip)
        self.heads = nn.ModuleList(nn.Linear(in_features, n_assets) for _ in range(n_horizons))
        bound = 1.0 / math.sqrt(in_features)
        with torch.no_grad():
            for head in self.heads:
                head.weight.uniform_(-bound, bound, generator=generator)
                head.bias.uniform_(-bound, bound, generator=generator)

    def forward(self, features: torch.Tensor, horizons: Sequence[int] | None = None) -> torch.Tensor:
        """Predicted returns.

        Parameters
        ----------
        features : Tensor, shape (B, in_features)
        horizons : sequence of int, optional
            Indices of the heads to run (all by default).

        Returns
        -------
        Tensor, shape (B, len(horizons), N), in ``[-clip, clip]``.
        """
        which = range(self.n_horizons) if horizons is None else horizons
        out = torch.tanh(torch.stack([self.heads[h](features) for h in which], dim=1))
        return out if self.clip == 1.0 else out * self.clip


def forward_returns(returns: np.ndarray, horizons: Sequence[int], *,
                    last_row: int | None = None) -> np.ndarray:
    """Realized future returns of every row, the labels of the aux heads.

    Parameters
    ----------
    returns : ndarray, shape (T, N)
        Simple returns; row ``t`` is the return from row ``t-1`` to row ``t``
        (:meth:`MarketPanel.simple_returns`, the env's convention).
    horizons : sequence of int
        Horizons ``h >= 1`` in rows.
    last_row : int, optional
        Last row whose return may be used (the end of the training span); default
        ``T - 1``. Targets needing a later row are NaN (masked from the loss).

    Returns
    -------
    ndarray float32, shape (T, H, N)
        ``out[t, k, n] = prod(1 + returns[t+1 .. t+h_k, n]) - 1``, NaN when
        ``t + h_k > last_row`` or any return in the window is not finite.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2:
        raise ConfigError(f"returns must be (T, N), got shape {r.shape}.")
    T = r.shape[0]
    stop = T - 1 if last_row is None else int(last_row)
    if not 0 <= stop <= T - 1:
        raise ConfigError(f"last_row {last_row} is outside the {T} rows of returns.")
    usable = r[: stop + 1]
    bad = ~(np.isfinite(usable) & (usable > -1.0))
    log_growth = np.log1p(np.where(bad, 0.0, usable))
    zero = np.zeros((1, r.shape[1]))
    cum = np.vstack([zero, np.cumsum(log_growth, axis=0)])          # (stop + 2, N)
    cum_bad = np.vstack([zero, np.cumsum(bad, axis=0)])
    out = np.full((T, len(horizons), r.shape[1]), np.nan, dtype=np.float32)
    for k, h in enumerate(horizons):
        if int(h) != h or h < 1:
            raise ConfigError(f"horizons must be ints >= 1, got {h!r}.")
        n_rows = stop + 1 - h  # rows t with t + h <= stop
        if n_rows > 0:
            # a sum over rows t+1 .. t+h is cum[t+h+1] - cum[t+1]
            window = cum[h + 1: stop + 2] - cum[1: n_rows + 1]
            broken = (cum_bad[h + 1: stop + 2] - cum_bad[1: n_rows + 1]) > 0
            out[:n_rows, k] = np.where(broken, np.nan, np.expm1(window))
    return out


def aux_losses(pred: torch.Tensor, target: torch.Tensor, coefs: torch.Tensor, horizons: Sequence[int],
               clip: float) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Coefficient-weighted MSE of the aux heads, non-finite targets masked out.

    Parameters
    ----------
    pred : Tensor, shape (B, K, N)
        Predictions of the K trained heads (``coefs`` > 0), in ``[-clip, clip]``.
    target : Tensor, shape (B, K, N)
        Realized returns of the same horizons; NaN/inf entries are masked.
    coefs : Tensor, shape (K,)
        Loss weight of each head.
    horizons : sequence of int, length K
        Only used to name the per-horizon statistics.
    clip : float
        Targets are clamped to ``[-clip, clip]`` (separately from the predictions).

    Returns
    -------
    terms : dict of str to Tensor, shape ()
        ``losses/aux`` = ``sum_k coef_k * mean over finite targets of (pred_k - target_k)^2``
        (a horizon without a finite target contributes 0), and ``charts/aux_mse_h{h}``,
        the unweighted MSE of each horizon (detached).
    n_nonfinite : Tensor, shape ()
        Number of masked target entries.
    """
    weight = torch.isfinite(target).float()
    clean = target.nan_to_num(0.0, 0.0, 0.0).clamp_(-clip, clip)          # masked entries: any finite value
    count = weight.sum((0, 2))                                             # (K,)
    mse = (pred - clean).square().mul_(weight).sum((0, 2)) / count.clamp(min=1.0)
    terms = {"losses/aux": (mse * coefs).sum()}
    for h, value in zip(horizons, mse.detach().unbind()):
        terms[f"charts/aux_mse_h{h}"] = value
    return terms, weight.numel() - count.sum()


def aux_shape_of(config: object, act_dim: int, n_assets: int | None = None) -> tuple[int, int] | None:
    """(H, N) of the aux heads a config asks for, or None without aux heads.

    ``N`` is ``n_assets`` or, by default, ``act_dim - 1`` (the env's stocks; CASH last).
    """
    if not getattr(config, "aux", False):
        return None
    n = int(act_dim) - 1 if n_assets is None else int(n_assets)
    if n < 1:
        raise ConfigError(f"aux heads need at least one asset; act_dim={act_dim}, n_assets={n_assets}.")
    return len(config.aux_horizons), n  # type: ignore[attr-defined]


class AuxObjective:
    """The aux loss a learner adds: the heads whose coefficient is > 0, and their masked MSE.

    A head with a zero coefficient gets no loss at all, hence no gradient (the health
    monitor then reports it as never changed).

    Parameters
    ----------
    config : SACConfig or PPOConfig
        Its ``aux_*`` fields.
    aux_shape : tuple of int (H, N) or None
        The actor's aux heads; None: nothing to train.
    """

    def __init__(self, config: object, aux_shape: tuple[int, int] | None) -> None:
        coefs = config.aux_coefs() if aux_shape is not None else ()  # type: ignore[attr-defined]
        self.heads = [k for k, c in enumerate(coefs) if c > 0]
        self.coefs = torch.tensor([coefs[k] for k in self.heads])
        self.horizons = [config.aux_horizons[k] for k in self.heads]  # type: ignore[attr-defined]
        self.index = None if len(self.heads) == len(coefs) else torch.tensor(self.heads, dtype=torch.long)
        self.clip = float(config.aux_clip)  # type: ignore[attr-defined]
        self.shared_trunk = bool(config.aux_shared_trunk)  # type: ignore[attr-defined]

    def __bool__(self) -> bool:
        """True when at least one head is trained."""
        return bool(self.heads)

    def losses(self, heads: AuxReturnHeads, features: torch.Tensor, targets: torch.Tensor | None,
               missing: str) -> dict[str, torch.Tensor]:
        """``losses/aux``, ``charts/aux_mse_h{h}`` and ``charts/aux_masked_targets`` of one batch.

        Parameters
        ----------
        heads : AuxReturnHeads
            The actor's heads.
        features : Tensor, shape (B, hidden)
            The actor's trunk features of the batch; detached here unless ``aux_shared_trunk``.
        targets : Tensor, shape (B, H, N), or None
            Realized returns of every horizon.
        missing : str
            The error message when ``targets`` is None.

        Raises
        ------
        ConfigError
            ``missing``, when the batch has no targets.
        """
        if targets is None:
            raise ConfigError(missing)
        if self.index is not None:
            targets = targets[:, self.index]
        pred = heads(features if self.shared_trunk else features.detach(), self.heads)
        terms, masked = aux_losses(pred, targets, self.coefs, self.horizons, self.clip)
        terms["charts/aux_masked_targets"] = masked
        return terms


def validate_aux(predict: Callable[[np.ndarray], np.ndarray], obs_batch: np.ndarray, *,
                 min_mean_abs: float = 1e-3, bound: float = 1.0, min_std: float = 1e-6) -> list[str]:
    """Problems that make a model's aux predictions unfit to serve (zero, non-finite, out of bounds or constant).

    Parameters
    ----------
    predict : callable
        ``predict(obs) -> ndarray (B, H, N)``, e.g. :meth:`SAC.predict_aux`.
    obs_batch : ndarray, shape (B, obs_dim), B >= 2
        Distinct states, e.g. the observations of an evaluation window.
    min_mean_abs : float
        Mean ``|p|`` below this is "zero" (a served forecast must be at least +-0.1 %).
    bound : float
        Predictions must lie in ``[-bound, bound]`` (+-100 %).
    min_std : float
        A (horizon, asset) prediction whose standard deviation across the states is
        below this is "constant".

    Returns
    -------
    list of str
        Empty when the predictions are non-zero, finite, within bounds and vary with
        the state; otherwise one readable line per problem.
    """
    obs = np.asarray(obs_batch, dtype=np.float32)
    if obs.ndim != 2 or obs.shape[0] < 2:
        return [f"aux validation needs a (B >= 2, obs_dim) batch of states, got shape {obs.shape}"]
    try:
        pred = np.asarray(predict(obs), dtype=np.float64)
    except Exception as exc:  # a model that cannot predict is a finding, not a crash of the gate
        return [f"aux predictions could not be computed: {type(exc).__name__}: {exc}"]
    if pred.ndim != 3 or pred.shape[0] != obs.shape[0]:
        return [f"aux predictions must have shape (B={obs.shape[0]}, H, N), got {pred.shape}"]
    problems: list[str] = []
    finite = np.isfinite(pred)
    if not finite.all():
        problems.append(f"aux predictions are not finite: {int((~finite).sum())} of {pred.size} values")
    values = np.where(finite, pred, 0.0)
    outside = np.abs(values) > bound
    if outside.any():
        problems.append(f"aux predictions outside +-{bound:g}: {int(outside.sum())} values, "
                        f"max |p| = {float(np.abs(values).max()):.4g}")
    mean_abs = np.abs(values).mean(axis=(0, 2))                     # per horizon
    for h in np.flatnonzero(mean_abs < min_mean_abs):
        problems.append(f"aux horizon {int(h)} predicts ~zero: mean |p| = {float(mean_abs[h]):.3g} "
                        f"< {min_mean_abs:g} (untrained or dead head?)")
    std = values.std(axis=0)                                        # (H, N)
    constant = std < min_std
    if constant.any():
        cells = ", ".join(f"h{h}/asset{n}" for h, n in np.argwhere(constant)[:5])
        problems.append(f"aux predictions do not vary across {obs.shape[0]} states for "
                        f"{int(constant.sum())} of {std.size} (horizon, asset) pairs ({cells}"
                        f"{', ...' if constant.sum() > 5 else ''}): std < {min_std:g}")
    return problems
