"""Re-initializing the parameters of a live learner by layer kind."""

from __future__ import annotations

import torch
from torch import nn

from sacfolio.diagnostics.repair import REPAIRABLE_KINDS, repair_parameters


def _trained() -> tuple[nn.Module, torch.optim.Adam]:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.randn(5, 3)).sum().backward()
    opt.step()
    return net, opt


def test_named_parameters_are_redrawn_and_only_their_optimizer_state_is_dropped() -> None:
    net, opt = _trained()
    with torch.no_grad():
        net[0].bias.zero_()
        net[1].weight.fill_(1e4)
    kept = net[2].weight.detach().clone()
    result = repair_parameters({"critic": net}, {"critic": opt}, ["critic.0.bias", "critic.1.weight"],
                               torch.Generator().manual_seed(1))
    assert result.actions == [
        "repaired critic.0.bias (Linear, small_uniform)",
        "repaired critic.1.weight (LayerNorm, ones)",
        "reset critic optimizer state of critic.0.bias",
        "reset critic optimizer state of critic.1.weight",
    ]
    assert net[0].bias.abs().max() <= 0.01 and (net[0].bias != 0).all()
    assert torch.equal(net[1].weight, torch.ones(4))
    assert torch.equal(net[2].weight, kept)
    assert net[0].bias not in opt.state and net[1].weight not in opt.state
    assert net[0].weight in opt.state
    assert set(result.fresh) == {"critic.0.bias", "critic.1.weight"}
    assert torch.equal(result.fresh["critic.0.bias"], net[0].bias)
    assert result.fresh["critic.0.bias"].data_ptr() != net[0].bias.data_ptr()  # a copy


def test_repair_draws_are_seeded_and_unknown_names_are_ignored() -> None:
    draws = []
    for seed in (5, 5, 6):
        net, opt = _trained()
        repair_parameters({"a": net}, {}, ["a.2.bias", "a.nope"], torch.Generator().manual_seed(seed))
        draws.append(net[2].bias.detach().clone())
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])
    assert REPAIRABLE_KINDS == {"nonfinite", "dead", "zeros", "exploding"}
