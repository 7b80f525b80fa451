"""SAC's losses and their gradients, derived by hand: the fast path behind :meth:`SAC.update`.

For 64x64 networks and batch 64, autograd's graph building and backward dispatch
cost more than the arithmetic (the profile: ``run_backward`` ~30 % of an update,
~60 small autograd nodes). This module computes exactly the losses of
:meth:`sacfolio.agents.sac.SAC.losses` -- same noise draw, same masking of
non-finite targets, same reductions -- and their gradients with the chain rule
written out, in a few batched matmuls:

* the actor's trunk runs once on ``obs`` and ``next_obs`` stacked;
* both critics run as one batched MLP, on the replay actions and the policy's
  actions stacked, so Q(s, a) and Q(s, pi(s)) cost one ``baddbmm`` per layer;
* the backward of those passes reuses the forward activations; critic weight
  gradients come from the replay rows only, the action gradient from the policy rows;
* the auxiliary return heads (:mod:`sacfolio.agents.aux`), when trained, read the
  trunk's features of the replay rows; their masked MSE's gradient reaches the heads
  and, with ``aux_shared_trunk``, the trunk.

Everything carries a leading group axis of K agents (K = 1 for one learner), so
:mod:`sacfolio.agents.batched` trains K agents with the same code. An equality test
(``tests/agents/test_fast_sac.py``) holds the losses, gradients and new weights to
the autograd version.

Equation numbers refer to Haarnoja et al., "Soft Actor-Critic Algorithms and
Applications" (2018), arXiv:1812.05905.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import torch

from sacfolio.agents.networks import squashed_gaussian_log_prob
from sacfolio.exceptions import ConfigError

__all__ = ["STAT_KEYS", "AuxHeads", "Layer", "SACConstants", "SACTensors", "critic_forward", "policy_samples",
           "sac_losses_and_grads", "stat_keys", "trained_aux_targets"]

STAT_KEYS = ("losses/critic", "losses/actor", "losses/alpha", "charts/alpha", "charts/entropy",
             "charts/q_mean", "charts/nonfinite_targets")
"""The rows of :func:`sac_losses_and_grads`' statistics: :meth:`SAC.losses`' keys without aux."""


def stat_keys(horizons: Sequence[int] = ()) -> tuple[str, ...]:
    """The rows of :func:`sac_losses_and_grads`' statistics with trained aux heads of ``horizons``
    (:meth:`SAC.losses`' keys, in its order)."""
    if not horizons:
        return STAT_KEYS
    return STAT_KEYS + ("losses/aux", *(f"charts/aux_mse_h{h}" for h in horizons), "charts/aux_masked_targets")

_threshold_backward = torch.ops.aten.threshold_backward


class Layer(NamedTuple):
    """One linear layer ``x @ w + b`` with a leading group axis, and its gradient buffers.

    Attributes
    ----------
    w : Tensor, shape (G, in, out)
        The weight as the forward multiplies by it (may be a transposed view).
    w_t : Tensor, shape (G, out, in)
        The same weight transposed (what the backward multiplies by; a view).
    b : Tensor, broadcastable to (G, 1, out)
    grad_w : Tensor, shape (G, out, in) or (G, in, out), or None
        Where the weight's gradient is written, in the layout of the parameter
        (``out_in`` below: ``nn.Linear``'s (out, in)); None: not trained here.
    grad_b : Tensor, shape (G, 1, out), or None
    out_in : bool
        ``grad_w`` has the (out, in) layout.
    """

    w: torch.Tensor
    w_t: torch.Tensor
    b: torch.Tensor
    grad_w: torch.Tensor | None = None
    grad_b: torch.Tensor | None = None
    out_in: bool = False


def trained_aux_targets(objective: Any, targets: torch.Tensor | None) -> torch.Tensor:
    """The targets ``(..., H', N)`` of an :class:`~sacfolio.agents.aux.AuxObjective`'s trained
    heads, of all heads' ``(..., H, N)``; a :class:`ConfigError` when the batch has none."""
    if targets is None:
        raise ConfigError("aux heads are trained but the batch has no aux_targets; build the "
                          "ReplayBuffer with aux_shape=learner.aux_shape.")
    return targets if objective.index is None else targets[..., objective.index, :]


class AuxHeads(NamedTuple):
    """The trained aux return heads of K agents (:class:`~sacfolio.agents.aux.AuxObjective`).

    Attributes
    ----------
    heads : sequence of Layer
        One ``(K, in, N)`` layer per trained horizon (G = K), with gradient buffers.
    coefs : sequence of float
        Loss weight of each head.
    clip : float
        Predictions are ``clip * tanh(.)``; targets are clamped to ``+-clip``.
    shared_trunk : bool
        The aux loss trains the actor's trunk too.
    """

    heads: Sequence[Layer]
    coefs: Sequence[float]
    clip: float
    shared_trunk: bool


class SACTensors(NamedTuple):
    """The weights one update reads and the buffers it writes, with a leading axis of K agents.

    Attributes
    ----------
    trunk : sequence of Layer
        The actor's hidden layers (G = K).
    mean_head, log_std_head : Layer
    critic, target : sequence of Layer
        The online and target twin critics of every agent, agent-major (agent k's
        critic c at index 2k + c, G = 2K); the target has no gradient buffers.
    log_alpha : Tensor, shape (K,)
    grad_log_alpha : Tensor, shape (K,)
    aux : AuxHeads or None
        The trained aux heads; None: no aux loss.
    """

    trunk: Sequence[Layer]
    mean_head: Layer
    log_std_head: Layer
    critic: Sequence[Layer]
    target: Sequence[Layer]
    log_alpha: torch.Tensor
    grad_log_alpha: torch.Tensor
    aux: AuxHeads | None = None


class SACConstants(NamedTuple):
    """The hyperparameters an update reads (see :class:`~sacfolio.agents.config.SACConfig`)."""

    gamma: float
    reward_scale: float
    target_entropy: float
    log_std_min: float
    log_std_max: float


def _relu_mlp(x: torch.Tensor, layers: Sequence[Layer], *, relu_last: bool) -> list[torch.Tensor]:
    """Inputs of every layer and the last output: ``[x, h1, ..., out]`` (ReLU between layers)."""
    acts = [x]
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        x = torch.baddbmm(layer.b, x, layer.w)
        if relu_last or i < last:
            x = x.relu_()
        acts.append(x)
    return acts


def _relu_mlp_backward(grad: torch.Tensor, acts: Sequence[torch.Tensor], layers: Sequence[Layer], *,
                       relu_last: bool, rows: int | None = None) -> torch.Tensor:
    """Write the weight gradients of :func:`_relu_mlp` into the layers' buffers.

    ``grad`` is the gradient at the last output; weight gradients use its first
    ``rows`` rows only (all when None). Returns the gradient at the first layer's
    pre-activation output.
    """
    last = len(layers) - 1
    for i in range(last, -1, -1):
        layer = layers[i]
        if relu_last or i < last:
            grad = _threshold_backward(grad, acts[i + 1], 0)
        g, x = (grad, acts[i]) if rows is None else (grad[:, :rows], acts[i][:, :rows])
        if layer.out_in:
            torch.bmm(g.transpose(1, 2), x, out=layer.grad_w)
        else:
            torch.bmm(x.transpose(1, 2), g, out=layer.grad_w)
        torch.sum(g, 1, keepdim=True, out=layer.grad_b)
        if i:
            grad = torch.bmm(grad, layer.w_t)
    return grad


def critic_forward(layers: Sequence[Layer], x: torch.Tensor) -> torch.Tensor:
    """Q-values (K, 2, R) of inputs x (K, R, in) under twin critics stacked as (2K, in, out)."""
    k, r, width = x.shape
    xg = x.unsqueeze(1).expand(k, 2, r, width).reshape(2 * k, r, width)
    return _relu_mlp(xg, layers, relu_last=False)[-1].view(k, 2, r)


def policy_samples(p: SACTensors, obs: torch.Tensor, noise: torch.Tensor, c: SACConstants) -> torch.Tensor:
    """Sampled actions ``tanh(mean + std * noise)`` (K, R, act_dim) of K actors for obs (K, R, obs_dim)."""
    x = obs
    for layer in p.trunk:
        x = torch.baddbmm(layer.b, x, layer.w).relu_()
    mean = torch.baddbmm(p.mean_head.b, x, p.mean_head.w)
    log_std = torch.baddbmm(p.log_std_head.b, x, p.log_std_head.w).clamp_(c.log_std_min, c.log_std_max)
    return torch.tanh(mean + log_std.exp_() * noise)


def _critic_input_layer(layer: Layer, obs: torch.Tensor, actions: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Both critics' first layer, ReLU'd, on ``[obs, a]`` for the B replay actions and the B policy
    actions of the same states (``actions`` (K, 2B, act_dim), replay rows first): the obs part
    ``obs @ W_obs + b`` is computed once for both row sets.

    Returns the obs and actions as the G = 2K critics read them, (2K, B, obs_dim) and
    (2K, 2B, act_dim), and the layer's output (2K, 2B, hidden).
    """
    k, b, o = obs.shape
    obs2 = obs.unsqueeze(1).expand(k, 2, b, o).reshape(2 * k, b, o)
    acts2 = actions.unsqueeze(1).expand(k, 2, 2 * b, actions.shape[2]).reshape(2 * k, 2 * b, -1)
    base = torch.baddbmm(layer.b, obs2, layer.w[:, :o])                       # (2K, B, hidden)
    out = torch.empty((2 * k, 2 * b, base.shape[2]), dtype=base.dtype)
    torch.baddbmm(base, acts2[:, :b], layer.w[:, o:], out=out[:, :b])
    torch.baddbmm(base, acts2[:, b:], layer.w[:, o:], out=out[:, b:])
    return obs2, acts2, out.relu_()


def _critic_input_layer_backward(layer: Layer, d_h: torch.Tensor, h: torch.Tensor, obs2: torch.Tensor,
                                 acts2: torch.Tensor) -> torch.Tensor:
    """Write the first layer's weight gradients (replay rows) from ``d_h``, the gradient at its
    ReLU'd output h (2K, 2B, hidden); return the gradient at the policy rows' actions (2K, B, act_dim)."""
    b, o = obs2.shape[1], obs2.shape[2]
    d_pre = _threshold_backward(d_h, h, 0)
    replay = d_pre[:, :b]
    grad_w = layer.grad_w
    torch.bmm(obs2.transpose(1, 2), replay, out=grad_w[:, :o])
    torch.bmm(acts2[:, :b].transpose(1, 2), replay, out=grad_w[:, o:])
    torch.sum(replay, 1, keepdim=True, out=layer.grad_b)
    return torch.bmm(d_pre[:, b:], layer.w_t[:, :, o:])


def sac_losses_and_grads(p: SACTensors, obs: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
                         next_obs: torch.Tensor, dones: torch.Tensor, noise: torch.Tensor,
                         c: SACConstants, aux_targets: torch.Tensor | None = None) -> torch.Tensor:
    """The losses of :meth:`SAC.losses` for K agents at once; their gradients go to ``p``'s buffers.

    Parameters
    ----------
    p : SACTensors
        The actor's and the critics' gradient buffers and ``grad_log_alpha`` are written.
    obs, next_obs : Tensor, shape (K, B, obs_dim)
    actions : Tensor, shape (K, B, act_dim)
    rewards, dones : Tensor, shape (K, B)
    noise : Tensor, shape (K, 2B, act_dim)
        The standard normal draw of the policy samples (``obs`` rows first).
    c : SACConstants
    aux_targets : Tensor, shape (K, B, H', N), optional
        Realized returns of the H' trained aux horizons (NaN: unknown, masked); required
        when ``p.aux`` is set.

    Returns
    -------
    Tensor, shape (7, K), or (9 + H', K) with aux heads
        Rows: the critic, actor and alpha losses, alpha, the entropy, the mean Q and the
        number of masked (non-finite) targets (:data:`STAT_KEYS`); then the aux loss,
        each head's MSE and the number of masked aux targets (:func:`stat_keys`).
    """
    k, b = obs.shape[:2]
    alpha = p.log_alpha.exp().view(k, 1)
    acts = _relu_mlp(torch.cat((obs, next_obs), 1).nan_to_num_(0.0, 0.0, 0.0), p.trunk, relu_last=True)
    feat = acts[-1]
    mean = torch.baddbmm(p.mean_head.b, feat, p.mean_head.w)
    log_std_raw = torch.baddbmm(p.log_std_head.b, feat, p.log_std_head.w)
    log_std = log_std_raw.clamp(c.log_std_min, c.log_std_max)
    std_noise = log_std.exp().mul_(noise)
    pre_tanh = mean + std_noise
    action = torch.tanh(pre_tanh)
    log_prob = squashed_gaussian_log_prob(noise, log_std, pre_tanh)                 # (K, 2B)

    # 1. Soft Q target (eq. 2-3) from the target critics, masked where not finite.
    next_q = critic_forward(p.target, torch.cat((next_obs, action[:, b:]), 2)).amin(1)
    soft_next = torch.addcmul(next_q, alpha, log_prob[:, b:], value=-1.0)
    target = torch.addcmul(rewards * c.reward_scale, (1.0 - dones).mul_(c.gamma), soft_next)
    weight = (target - target).eq_(0.0)
    n_finite = weight.sum(1, keepdim=True)
    weight /= n_finite.clamp(min=1.0)
    target = target.nan_to_num_(0.0, 0.0, 0.0)

    # Q(s, a) on the replay rows and Q(s, pi(s)) on the policy rows, one pass (eq. 5 and 7).
    action_pi, log_prob_pi = action[:, :b], log_prob[:, :b]
    obs2, acts2, h1 = _critic_input_layer(p.critic[0], obs, torch.cat((actions, action_pi), 1))
    c_acts = _relu_mlp(h1, p.critic[1:], relu_last=False)
    q_all = c_acts[-1].view(k, 2, 2 * b)
    q, q_pi_each = q_all[..., :b], q_all[..., b:]
    diff = q - target.unsqueeze(1)
    q_pi = q_pi_each.amin(1)
    entropy = -log_prob_pi.mean(1)
    stats = torch.stack((
        0.5 * (diff.square() * weight.unsqueeze(1)).sum((1, 2)),          # critic loss, eq. 5
        (alpha * log_prob_pi - q_pi).mean(1),                              # actor loss, eq. 7
        alpha.view(k) * (entropy - c.target_entropy),                      # alpha loss, eq. 18
        alpha.view(k), entropy, q.mean((1, 2)), b - n_finite.view(k)))

    # Backward. Critic loss -> critic weights (replay rows); actor loss -> action (policy rows).
    tie = (q_pi_each == q_pi.unsqueeze(1)).to(q.dtype)               # amin's gradient is split on ties
    d_q_pi = tie.div_(tie.sum(1, keepdim=True)).mul_(-1.0 / b)
    d_q = torch.cat((diff * weight.unsqueeze(1), d_q_pi), 2).view(2 * k, 2 * b, 1)
    d_h1 = torch.bmm(_relu_mlp_backward(d_q, c_acts, p.critic[1:], relu_last=False, rows=b), p.critic[1].w_t)
    d_action = _critic_input_layer_backward(p.critic[0], d_h1, h1, obs2, acts2).view(k, 2, b, -1).sum(1)
    d_feat_aux = None
    if p.aux is not None:     # 4. aux return heads: masked MSE on the trunk's replay-row features
        aux_stats, d_feat_aux = _aux_losses_and_grads(p.aux, feat[:, :b], aux_targets)
        stats = torch.cat((stats, aux_stats))
    _actor_backward(p, acts, action_pi, std_noise[:, :b], log_std_raw[:, :b], d_action, alpha / b, c, d_feat_aux)
    p.grad_log_alpha.copy_(stats[2])          # d/dlog_alpha of -mean(alpha c) is -mean(alpha c)
    return stats


def _aux_losses_and_grads(aux: AuxHeads, feat: torch.Tensor, targets: torch.Tensor | None
                          ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`~sacfolio.agents.aux.aux_losses` of K agents; the heads' gradients go to their buffers.

    ``feat`` (K, B, hidden) are the trunk's features, ``targets`` (K, B, H', N). Returns
    the statistic rows (loss, each head's MSE, masked count; shape (2 + H', K)) and the
    loss's gradient at ``feat`` (None unless ``shared_trunk``). With ``pred = clip tanh(z)``:
    d loss / d z = coef * 2 (pred - target) * mask / count * clip (1 - tanh(z)^2).
    """
    if targets is None:
        raise ValueError("aux heads are trained but no aux targets were given")
    weight = torch.isfinite(targets).float()
    clean = targets.nan_to_num(0.0, 0.0, 0.0).clamp_(-aux.clip, aux.clip)
    count = weight.sum((1, 3))                                                # (K, H')
    denom = count.clamp(min=1.0)
    mses, d_feat = [], None
    for h, (head, coef) in enumerate(zip(aux.heads, aux.coefs)):
        squashed = torch.tanh(torch.baddbmm(head.b, feat, head.w))           # (K, B, N)
        pred = squashed if aux.clip == 1.0 else squashed * aux.clip
        diff = pred - clean[:, :, h]
        mses.append(diff.square().mul_(weight[:, :, h]).sum((1, 2)) / denom[:, h])
        scale = (2.0 * coef * aux.clip) / denom[:, h].view(-1, 1, 1)
        d_z = diff.mul_(weight[:, :, h]).mul_(scale).mul_(1.0 - squashed.square())
        torch.bmm(d_z.transpose(1, 2), feat, out=head.grad_w)
        torch.sum(d_z, 1, keepdim=True, out=head.grad_b)
        if aux.shared_trunk:
            d_feat = torch.bmm(d_z, head.w_t) if d_feat is None else d_feat.baddbmm_(d_z, head.w_t)
    mse = torch.stack(mses)                                                    # (H', K)
    coefs = torch.tensor(list(aux.coefs), dtype=mse.dtype).view(-1, 1)
    masked = weight[0].numel() - count.sum(1)
    return torch.cat(((mse * coefs).sum(0, keepdim=True), mse, masked.view(1, -1))), d_feat


def _actor_backward(p: SACTensors, acts: Sequence[torch.Tensor], action: torch.Tensor, std_noise: torch.Tensor,
                    log_std_raw: torch.Tensor, d_action: torch.Tensor, d_log_prob: torch.Tensor,
                    c: SACConstants, d_feat_aux: torch.Tensor | None = None) -> None:
    """Write the gradients of the actor loss w.r.t. the actor's layers, from the policy rows.

    ``d_action`` (K, B, A) is the loss's gradient at ``tanh(u)`` through the critics,
    ``d_log_prob`` (K, 1) its gradient at ``log pi`` (alpha / B). With ``a = tanh(u)``
    and ``u = mean + std * noise`` (eq. 26): d log pi / du = 2 tanh(u) and
    d log pi / d log std = -1 at fixed noise. ``d_feat_aux`` (K, B, hidden): the aux
    loss's gradient at the trunk's features, added when the heads share the trunk.
    """
    b = action.shape[1]
    d_log_prob = d_log_prob.unsqueeze(-1)
    d_pre = torch.addcmul(d_action * (1.0 - action.square()), d_log_prob, action, value=2.0)
    in_range = (log_std_raw >= c.log_std_min).logical_and_(log_std_raw <= c.log_std_max)
    d_log_std = (d_pre * std_noise).sub_(d_log_prob).mul_(in_range)
    feat = acts[-1][:, :b]
    mean_head, log_std_head = p.mean_head, p.log_std_head
    d_feat = torch.baddbmm(torch.bmm(d_pre, mean_head.w_t), d_log_std, log_std_head.w_t)
    if d_feat_aux is not None:
        d_feat += d_feat_aux
    for head, grad in ((mean_head, d_pre), (log_std_head, d_log_std)):
        torch.bmm(grad.transpose(1, 2), feat, out=head.grad_w)
        torch.sum(grad, 1, keepdim=True, out=head.grad_b)
    _relu_mlp_backward(d_feat, [a[:, :b] for a in acts], p.trunk, relu_last=True)
