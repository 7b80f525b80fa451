"""``sacfolio validate-pipeline``: the universal agent's padding, masking and shapes, checked end to end.

Builds a dummy observation with 2 live and 8 padded slots and checks, printing each
result: the pooled feature is the mean over the live slots (and padded slots cannot
move it); the advisor (strategy) path runs on ``[B, N, T, F]`` and on ``[B, N, F]``;
a one-hot mixture trades that advisor; one SAC forward and one update step; padded
slots get exactly 0 weight. Exit 1 when any check fails. ``--leaky`` runs the same
checks on the encoder the seed shipped (no key-padding mask, last-token pooling) to
show what they catch.
"""

from __future__ import annotations

from typing import Annotated, Callable

import numpy as np
import torch
import typer

from sacfolio.agents.buffers import ReplayBatch
from sacfolio.agents.config import SACConfig
from sacfolio.agents.sac import SAC
from sacfolio.agents.universal import SlotEncoder, UniversalConfig, inputs_of
from sacfolio.agents.universal_critic import UniversalModules
from sacfolio.broker.projection import feasible_rows, weight_bounds
from sacfolio.broker.rules import PortfolioRules
from sacfolio.env.config import EnvConfig
from sacfolio.env.slots import SlotLayout, SlotSpec, fuse, slot_action_to_weights
from sacfolio.strategies.zoo import ADVISORS, all_advisor_weights

__all__ = ["validate_pipeline_command", "pipeline_checks"]

N_SLOTS, N_LIVE, N_FEATURES, BATCH, WINDOW = 10, 2, 4, 8, 60
Check = tuple[str, bool, str]


def _dummy(seed: int) -> tuple[SlotSpec, SlotLayout, dict[str, torch.Tensor], np.ndarray, np.ndarray]:
    """Slots, layout, a Dict observation batch, raw close history [B, N, T, 1] and the live mask [B, N]."""
    rng = np.random.default_rng(seed)
    spec = SlotSpec(max_symbols=N_SLOTS, vocabulary=("AAA", "BBB", "CCC"), advisors=ADVISORS)
    layout = SlotLayout.of(spec, N_FEATURES)
    live = np.zeros((BATCH, N_SLOTS), dtype=bool)
    live[:, :N_LIVE] = True
    steps = rng.normal(0.002, 0.03, (BATCH, N_SLOTS, WINDOW))
    close = 100.0 * np.exp(np.cumsum(steps, axis=-1))
    history = np.where(live[..., None], close, np.nan)[..., None]
    advisors = all_advisor_weights(history, live)
    ids = np.where(live, np.arange(N_SLOTS) % 2, spec.padding_id)
    obs = {"market_features": rng.normal(size=(BATCH, N_SLOTS, N_FEATURES)) * live[..., None],
           "context_features": rng.uniform(size=(BATCH, N_SLOTS, 5)) * live[..., None],
           "symbol_id": ids.astype(np.float32), "advisor_weights": advisors}
    return spec, layout, {k: torch.as_tensor(np.asarray(v, dtype=np.float32)) for k, v in obs.items()}, history, live


def _encode(encoder: SlotEncoder, obs: dict[str, torch.Tensor], padding_id: int, leaky: bool):
    x = inputs_of(obs, padding_id)
    if not leaky:
        return encoder(x.tokens, x.ids, x.live), x.live
    h = encoder.transformer(encoder.input(x.tokens) + encoder.embedding(x.ids))  # the seed's: no mask
    return (h, h[:, -1]), x.live                                                # last-token pooling


def _encoder_checks(obs, spec: SlotSpec, leaky: bool) -> list[Check]:
    torch.manual_seed(0)
    encoder = SlotEncoder(obs["market_features"].shape[-1] + 5 + len(ADVISORS), spec.n_ids, spec.padding_id,
                          UniversalConfig())
    with torch.no_grad():
        (h, pooled), live = _encode(encoder, obs, spec.padding_id, leaky)
        mean = h[:, :N_LIVE].mean(dim=1)
        noisy = {k: v.clone() for k, v in obs.items()}
        noisy["market_features"][:, N_LIVE:] = torch.randn_like(noisy["market_features"][:, N_LIVE:]) * 10.0
        (h2, pooled2), _ = _encode(encoder, noisy, spec.padding_id, leaky)
    gap = float((pooled - mean).abs().max())
    moved = float((pooled2 - pooled).abs().max())
    return [("pooled feature = mean over the live slots", gap < 1e-6, f"max |pooled - mean(live)| = {gap:.2e}"),
            ("padded slots cannot move the pooled feature", moved < 1e-6,
             f"max change after scrambling padded inputs = {moved:.2e}"),
            ("padded slots' outputs are 0", float(h[:, N_LIVE:].abs().max()) == 0.0,
             f"max |h| on padded slots = {float(h[:, N_LIVE:].abs().max()):.2e}")]


def _strategy_checks(history: np.ndarray, live: np.ndarray, rules: PortfolioRules) -> list[Check]:
    out = []
    lo, hi = weight_bounds(live, rules)
    for label, x in (("[B, N, T, F]", history), ("[B, N, F]", history[:, :, -1, :])):
        w = all_advisor_weights(x, live, rules=rules)
        ok = (w.shape == (BATCH, len(ADVISORS), N_SLOTS + 1) and np.isfinite(w).all()
              and feasible_rows(w.reshape(-1, N_SLOTS + 1), np.repeat(lo, len(ADVISORS), 0),
                                np.repeat(hi, len(ADVISORS), 0)).all() and (w[:, :, N_LIVE:N_SLOTS] == 0).all())
        out.append((f"strategy path runs on {label}", bool(ok),
                    f"{len(ADVISORS)} advisors -> {w.shape}, feasible, 0 on padded slots"))
    adv = all_advisor_weights(history, live, rules=rules)
    onehot = np.eye(len(ADVISORS))[np.arange(BATCH) % len(ADVISORS)]
    same = np.array_equal(fuse(onehot, adv), adv[np.arange(BATCH), np.arange(BATCH) % len(ADVISORS)])
    out.append(("a one-hot mixture reproduces its advisor exactly", bool(same), "fuse(e_k, advisors) == advisor k"))
    return out


def _sac_checks(spec: SlotSpec, layout: SlotLayout, obs: dict[str, torch.Tensor], live: np.ndarray) -> list[Check]:
    config = SACConfig(batch_size=BATCH, warmup_steps=0)
    sac = SAC(layout.obs_dim, layout.act_dim, config=config, seed=0, modules=UniversalModules(layout=layout, spec=spec))
    flat = torch.as_tensor(layout.flatten({k: v.numpy() for k, v in obs.items()}))
    action, log_prob = sac.actor.sample(flat, sac.generator)
    q = sac.critic(flat, action.detach())
    forward_ok = action.shape == (BATCH, layout.act_dim) and bool(torch.isfinite(log_prob).all()) \
        and q.shape == (2, BATCH) and bool(torch.isfinite(q).all())
    before = [p.detach().clone() for p in sac.actor.parameters()]
    batch = ReplayBatch(flat, action.detach(), torch.randn(BATCH) * 0.01, flat.roll(1, 0), torch.zeros(BATCH))
    metrics = sac.update(batch)
    finite = all(bool(torch.isfinite(v)) for v in metrics.values())
    changed = any(not torch.equal(a, b) for a, b in zip(before, sac.actor.parameters()))
    pad_row = sac.actor.trunk.encoder.embedding.weight[spec.padding_id]
    det = sac.actor.act(flat).numpy()
    weights, _ = slot_action_to_weights(det, obs["advisor_weights"].numpy().astype(np.float64), live,
                                        EnvConfig(), layout)
    padded = float(np.abs(det[:, N_LIVE:N_SLOTS]).max()) + float(np.abs(weights[:, N_LIVE:N_SLOTS]).max())
    return [("one SAC forward (actor sample + twin critic)", bool(forward_ok),
             f"action {tuple(action.shape)}, Q {tuple(q.shape)}, finite"),
            ("one SAC update step", finite and changed, f"losses finite, actor weights moved: {changed}"),
            ("padding_idx embedding row stays 0 after the update", bool((pad_row == 0).all()), "row padding_id == 0"),
            ("padded slots get exactly 0 weight", padded == 0.0 and abs(weights.sum(1) - 1).max() < 1e-9,
             f"max |action| + |weight| on padded slots = {padded}")]


def pipeline_checks(*, seed: int = 0, leaky: bool = False) -> list[Check]:
    """Every check as (name, passed, detail), in order."""
    spec, layout, obs, history, live = _dummy(seed)
    checks: list[tuple[str, Callable[[], list[Check]]]] = [
        ("encoder masking", lambda: _encoder_checks(obs, spec, leaky)),
        ("strategy path", lambda: _strategy_checks(history, live, PortfolioRules())),
        ("SAC forward and update", lambda: _sac_checks(spec, layout, obs, live))]
    out: list[Check] = []
    for label, run in checks:
        try:
            out += run()
        except Exception as exc:  # a check that crashes is a failed check, reported with its error
            out.append((label, False, f"{type(exc).__name__}: {exc}"))
    return out


def validate_pipeline_command(
    seed: Annotated[int, typer.Option(help="Seed of the dummy observation and the networks.")] = 0,
    leaky: Annotated[bool, typer.Option("--leaky", help="Check the seed's unmasked, last-token encoder "
                                        "instead (expected to fail).")] = False,
) -> int:
    """Check the universal agent's padding and masking on 2 live + 8 padded slots; exit 1 on any failure."""
    from sacfolio.cli.app import console

    results = pipeline_checks(seed=seed, leaky=leaky)
    for name, ok, detail in results:
        mark = "[green]PASS[/green]" if ok else "[bold red]FAIL[/bold red]"
        console.print(f"{mark} {name}: {detail}", highlight=False)
    failed = [r for r in results if not r[1]]
    console.print(f"{len(results) - len(failed)}/{len(results)} checks passed")
    if failed:
        raise typer.Exit(1)
    return 0
