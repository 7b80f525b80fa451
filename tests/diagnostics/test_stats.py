"""Per-tensor statistics: zero counts that skip zero-by-design values, change, gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sacfolio.diagnostics.stats import layer_stats, tensor_stat


def test_layer_stats_counts_zeros_and_skips_zero_by_design_parameters() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(5, 4, padding_idx=0), nn.Linear(4, 4), nn.LayerNorm(4),
                          nn.MultiheadAttention(4, 2))
    with torch.no_grad():
        model[1].bias[:3] = 0.0  # 3 of 4 zero
    stats = {s.name: s for s in layer_stats(model)}
    assert stats["1.bias"].zero_fraction == pytest.approx(0.75)
    assert stats["1.weight"].zero_fraction == 0.0
    # LayerNorm bias and attention biases are zero at init, not flagged as zeros
    assert stats["2.bias"].zero_fraction == 0.0 and stats["2.bias"].zero_at_init == 4
    assert stats["3.in_proj_bias"].zero_fraction == 0.0
    assert stats["3.out_proj.bias"].zero_fraction == 0.0
    # the padding row (4 values) is excluded, the rest of the embedding is counted
    assert stats["0.weight"].zero_at_init == 4 and stats["0.weight"].zero_fraction == 0.0
    with torch.no_grad():
        model[0].weight[1] = 0.0
    assert layer_stats(model)[0].zero_fraction == pytest.approx(4 / 16)


def test_tensor_stat_reports_nonfinite_change_and_gradients() -> None:
    ref = torch.tensor([1.0, 2.0, 2.0])
    t = torch.tensor([1.0, float("nan"), float("inf")])
    s = tensor_stat("w", t, reference=ref, grad=torch.tensor([3.0, 4.0, 0.0]))
    assert s.nonfinite == 2 and s.grad_norm == pytest.approx(5.0) and s.unchanged is False
    same = tensor_stat("w", ref.clone(), reference=ref)
    assert same.unchanged is True and same.rel_change == 0.0 and same.grad_norm is None


def test_layer_stats_prefix_references_and_trainable() -> None:
    torch.manual_seed(0)
    net = nn.Linear(3, 2)
    ref = {"actor.weight": net.weight.detach().clone()}
    net.bias.requires_grad_(False)
    stats = {s.name: s for s in layer_stats(net, prefix="actor.", references=ref)}
    assert set(stats) == {"actor.weight", "actor.bias"}
    assert stats["actor.weight"].unchanged is True and stats["actor.weight"].trainable
    assert stats["actor.bias"].unchanged is None and not stats["actor.bias"].trainable
