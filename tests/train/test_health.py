"""Training health monitor: exploding weights and zeroed biases from a far too large
learning rate, auxiliary heads that never train because their loss is disabled,
and the warn / stop / repair policies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from sacfolio.diagnostics.checkpoint import inspect_checkpoint
from sacfolio.diagnostics.findings import HealthConfig, HealthReport
from sacfolio.diagnostics.repair import repair_checkpoint
from sacfolio.exceptions import TrainingHealthError
from sacfolio.agents.learner import Learner
from sacfolio.train.callbacks import Callback
from sacfolio.train.callbacks.health import HealthMonitor


class TinyLearner:
    """A real learner: named modules and their optimizers, trained by the test itself."""

    def __init__(self, modules: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer]):
        self._modules, self._optimizers = modules, optimizers

    def modules(self) -> dict[str, nn.Module]:
        return self._modules

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers


def _price_regression(seed: int, *, lr: float, clip: bool, monitor: Callback, updates: int) -> int:
    """Regress a target on unscaled price levels (~100) with SGD; return updates run.

    With lr 5e-3 and no clipping the curvature (inputs ~1e2) makes every step
    overshoot: the loss grows geometrically to inf/NaN within a few updates.
    """
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(8, 32), nn.LeakyReLU(), nn.Linear(32, 1))
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    learner = TinyLearner({"critic": net}, {"critic": opt})
    assert isinstance(learner, Learner)
    monitor.on_training_start(learner, updates)
    done = 0
    try:
        for update in range(1, updates + 1):
            x = 100.0 + 20.0 * torch.randn(64, 8, generator=g)
            y = 0.01 * x.mean(1, keepdim=True) + 0.1 * torch.randn(64, 1, generator=g)
            loss = (net(x) - y).square().mean()
            opt.zero_grad()
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(list(net.parameters()), 1.0, error_if_nonfinite=False,
                                         foreach=True)
            opt.step()
            done = update
            if not monitor.on_update(learner, update, {"losses/critic": loss.detach()}):
                break
    finally:
        monitor.on_training_end(learner)
    return done


# ------------------------------------------------------------------ zero by design
def test_free_scalar_at_zero_is_not_dead_but_a_one_unit_bias_is() -> None:
    holder = nn.Module()
    holder.log_alpha = nn.Parameter(torch.zeros(()))  # alpha = 1 at init
    holder.value = nn.Linear(3, 1)
    with torch.no_grad():
        holder.value.bias.zero_()
    learner = TinyLearner({"critic": holder}, {})
    monitor = HealthMonitor(HealthConfig(policy="warn"))
    monitor.on_training_start(learner, 1)
    report = monitor.check(learner, 1)
    assert [(f.tensor, f.kind) for f in report.findings] == [("critic.value.bias", "dead")]


# ------------------------------------------------- exploding weights (lr 5e-3, no clipping)
def test_lr_5e3_without_clipping_is_stopped_within_bounded_updates(tmp_path: Path) -> None:
    for seed in range(3):
        monitor = HealthMonitor(HealthConfig(), diagnostic_dir=tmp_path / f"diag{seed}")
        with pytest.raises(TrainingHealthError, match="nonfinite_loss") as err:
            _price_regression(seed, lr=5e-3, clip=False, monitor=monitor, updates=1000)
        stopped_at = monitor.last_report.update
        assert stopped_at <= 10, stopped_at  # default check interval is 1000: caught at once
        assert monitor.last_report.status == "critical"
        ckpt = monitor.diagnostic_checkpoint
        assert ckpt is not None and str(ckpt) in str(err.value)
        assert (ckpt / "critic.pt").is_file()
        saved = json.loads((ckpt / "health_report.json").read_text())
        assert saved["status"] == "critical" and saved["update"] == stopped_at


def test_diagnostic_checkpoint_of_an_exploded_run_repairs_to_clean(tmp_path: Path) -> None:
    monitor = HealthMonitor(HealthConfig(), diagnostic_dir=tmp_path)
    with pytest.raises(TrainingHealthError):
        _price_regression(0, lr=5e-3, clip=False, monitor=monitor, updates=1000)
    broken = inspect_checkpoint(monitor.diagnostic_checkpoint)
    assert broken.verdict == "unhealthy"
    assert any("NONFINITE" in r.flags for r in broken.rows)
    fixed = repair_checkpoint(monitor.diagnostic_checkpoint, tmp_path / "fixed", seed=1)
    assert fixed.verdict == "healthy" and fixed.actions
    net = nn.Sequential(nn.Linear(8, 32), nn.LeakyReLU(), nn.Linear(32, 1))
    net.load_state_dict(torch.load(tmp_path / "fixed" / "critic.pt", weights_only=True))
    assert torch.isfinite(net(torch.randn(4, 8))).all()


def test_same_setup_with_safe_lr_and_norm_clipping_stays_healthy() -> None:
    monitor = HealthMonitor(HealthConfig(every=50, never_changed_after=50))
    done = _price_regression(0, lr=1e-4, clip=True, monitor=monitor, updates=200)
    assert done == 200
    assert [r.update for r in monitor.reports] == [50, 100, 150, 200]
    assert all(r.status == "ok" for r in monitor.reports), monitor.reports[-1].summary_line()


def test_nonfinite_loss_is_checked_immediately_between_intervals() -> None:
    net = nn.Linear(2, 1)
    learner = TinyLearner({"actor": net}, {})
    monitor = HealthMonitor(HealthConfig(every=1000, policy="warn"))
    monitor.on_training_start(learner, 10)
    assert monitor.on_update(learner, 3, {"losses/actor": torch.tensor(0.5)}) is True
    assert monitor.reports == []
    assert monitor.on_update(learner, 4, {"losses/actor": torch.tensor(float("nan"))}) is True
    [report] = monitor.reports
    assert report.update == 4 and report.status == "critical"
    assert [(f.tensor, f.kind) for f in report.findings] == [("losses/actor", "nonfinite_loss")]


# ------------------------------------------------- untrained heads (aux loss disabled)
class TwoHeadNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(6, 16), nn.Tanh())
        self.policy = nn.Linear(16, 3)
        self.aux = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.policy(h), self.aux(h)


def _train_two_heads(aux_coef: float | None, monitor: HealthMonitor, updates: int) -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    net = TwoHeadNet()
    opt = torch.optim.Adam(net.parameters(), lr=3e-4)
    learner = TinyLearner({"actor": net}, {"actor": opt})
    monitor.on_training_start(learner, updates)
    for update in range(1, updates + 1):
        x = torch.randn(32, 6, generator=g)
        policy_out, aux_out = net(x)
        loss = (policy_out - x[:, :3]).square().mean()
        if aux_coef is not None:  # None: the aux loss is disabled altogether
            loss = loss + aux_coef * (aux_out - x[:, 3:5]).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        monitor.on_update(learner, update, {"losses/actor": loss.detach()})


@pytest.mark.parametrize("aux_coef", [None, 0.0])
def test_disabled_aux_loss_is_flagged_never_changed(aux_coef: float | None) -> None:
    monitor = HealthMonitor(HealthConfig(every=25, never_changed_after=50, policy="warn"))
    _train_two_heads(aux_coef, monitor, 100)
    early, *later = monitor.reports
    assert early.update == 25 and early.status == "ok"  # before K updates nothing is said
    never = {f.tensor for r in later for f in r.findings if f.kind == "never_changed"}
    assert never == {"actor.aux.weight", "actor.aux.bias"}


def test_enabled_aux_loss_is_not_flagged() -> None:
    monitor = HealthMonitor(HealthConfig(every=25, never_changed_after=50))
    _train_two_heads(0.01, monitor, 100)
    assert all(r.status == "ok" for r in monitor.reports)


def test_stop_policy_names_the_untrained_head(tmp_path: Path) -> None:
    monitor = HealthMonitor(HealthConfig(every=25, never_changed_after=50),
                            diagnostic_dir=tmp_path)
    with pytest.raises(TrainingHealthError, match=r"never_changed in actor\.aux\.weight"):
        _train_two_heads(None, monitor, 100)
    assert monitor.last_report.update == 50
    assert (monitor.diagnostic_checkpoint / "actor.pt").is_file()


# ------------------------------------------------------------------ repair
class RecurrentNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 4, batch_first=True)
        self.norm = nn.LayerNorm(4)
        self.gru = nn.GRU(4, 4, batch_first=True)
        self.head = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(x)
        h, _ = self.gru(self.norm(h))
        return self.head(h[:, -1])


def _recurrent_run(seed: int, corrupt_at: int, updates: int, monitor: HealthMonitor
                   ) -> tuple[RecurrentNet, torch.optim.Adam, dict]:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = RecurrentNet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    learner = TinyLearner({"actor": net}, {"actor": opt})
    monitor.on_training_start(learner, updates)
    seen: dict = {}
    for update in range(1, updates + 1):
        x = torch.randn(8, 5, 3, generator=g)
        loss = (net(x) - x[:, :, 0].mean(1, keepdim=True)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if update == corrupt_at:  # what an exploded run leaves: biases at exactly 0
            with torch.no_grad():
                for p in (net.lstm.bias_ih_l0, net.lstm.bias_hh_l0, net.gru.bias_ih_l0,
                          net.head.bias):
                    p.zero_()
            seen["exp_avg_weight"] = opt.state[net.head.weight]["exp_avg"].clone()
        monitor.on_update(learner, update, {"losses/actor": loss.detach()})
        if update == corrupt_at:
            seen["repaired"] = {n: p.detach().clone() for n, p in net.named_parameters()}
            seen["state_after"] = {n: (p in opt.state) for n, p in net.named_parameters()}
            seen["exp_avg_weight_after"] = opt.state[net.head.weight]["exp_avg"].clone()
    return net, opt, seen


def test_repair_policy_reinitializes_zeroed_biases_by_layer_kind(tmp_path: Path) -> None:
    cfg = HealthConfig(every=10, never_changed_after=10, policy="repair", seed=7)
    monitor = HealthMonitor(cfg)
    net, opt, seen = _recurrent_run(0, corrupt_at=20, updates=40, monitor=monitor)
    report20 = next(r for r in monitor.reports if r.update == 20)
    flagged = {f.tensor for f in report20.findings if f.kind == "dead"}
    assert flagged == {"actor.lstm.bias_ih_l0", "actor.lstm.bias_hh_l0", "actor.gru.bias_ih_l0",
                       "actor.head.bias"}
    assert "actor.norm.bias" not in {f.tensor for f in report20.findings}
    assert sum(a.startswith("repaired") for a in report20.actions) == 4
    assert "reset actor optimizer state of actor.head.bias" in report20.actions
    rep = seen["repaired"]
    h = 4
    forget = rep["lstm.bias_ih_l0"][h:2 * h]
    others = torch.cat([rep["lstm.bias_ih_l0"][:h], rep["lstm.bias_ih_l0"][2 * h:]])
    assert torch.equal(forget, torch.ones(h))
    assert others.abs().max() <= 0.01 and (others != 0).all()
    for name in ("lstm.bias_hh_l0", "gru.bias_ih_l0", "head.bias"):
        assert rep[name].abs().max() <= 0.01 and (rep[name] != 0).all()
    # optimizer state of exactly the repaired tensors was reset
    state = seen["state_after"]
    assert [n for n, has in state.items() if not has] == [
        "lstm.bias_ih_l0", "lstm.bias_hh_l0", "gru.bias_ih_l0", "head.bias"]
    assert torch.equal(seen["exp_avg_weight"], seen["exp_avg_weight_after"])
    # training went on and the later checks are clean
    assert [r.status for r in monitor.reports if r.update > 20] == ["ok", "ok"]
    assert monitor.summary()["status"] == "critical"
    # and the saved model passes inspect
    for name, module in {"actor": net}.items():
        torch.save(module.state_dict(), tmp_path / f"{name}.pt")
    assert inspect_checkpoint(tmp_path).verdict == "healthy"


def test_repair_is_seeded() -> None:
    runs = [_recurrent_run(0, 20, 20, HealthMonitor(HealthConfig(every=10, policy="repair",
                                                                 seed=s)))[2]["repaired"]
            for s in (3, 3, 4)]
    assert torch.equal(runs[0]["head.bias"], runs[1]["head.bias"])
    assert not torch.equal(runs[0]["head.bias"], runs[2]["head.bias"])


def test_repair_policy_still_stops_on_what_reinit_cannot_cure(tmp_path: Path) -> None:
    monitor = HealthMonitor(HealthConfig(every=25, never_changed_after=50, policy="repair"),
                            diagnostic_dir=tmp_path)
    with pytest.raises(TrainingHealthError, match="never_changed"):
        _train_two_heads(None, monitor, 100)


# ------------------------------------------------------------------ reporting
def test_modules_without_gradients_and_grad_alerts() -> None:
    torch.manual_seed(0)
    actor, target = nn.Linear(3, 2), nn.Linear(3, 2)
    learner = TinyLearner({"actor": actor, "critic_target": target}, {})
    monitor = HealthMonitor(HealthConfig(every=1, grad_alert=1.0, never_changed_after=5))
    monitor.on_training_start(learner, 1)
    report = monitor.check(learner, 1)  # no gradients anywhere yet
    assert report.status == "ok" and report.grad_norms == {}
    (1000.0 * actor(torch.ones(4, 3)).sum()).backward()
    report = monitor.check(learner, 2)
    assert set(report.grad_norms) == {"actor", "global"}
    [alert] = report.findings
    assert (alert.tensor, alert.kind, alert.severity) == ("actor", "grad_norm", "warn")
    assert alert.value == pytest.approx(report.grad_norms["actor"]) and alert.value > 1.0


def test_reports_are_json_and_go_to_tensorboard(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(tmp_path))
    monitor = HealthMonitor(HealthConfig(every=25, never_changed_after=50, policy="warn"),
                            writer=writer)
    _train_two_heads(None, monitor, 100)
    writer.close()
    summary = json.loads(json.dumps(monitor.summary()))
    assert summary["status"] == "critical" and summary["checks"] == 4
    assert {f["tensor"] for f in summary["findings"]} == {"actor.aux.weight", "actor.aux.bias"}
    last = monitor.last_report
    assert HealthReport.from_dict(json.loads(json.dumps(last.to_dict()))) == last
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    status = [(e.step, e.value) for e in events.Scalars("health/status")]
    assert status == [(25, 0.0), (50, 2.0), (75, 2.0), (100, 2.0)]
    assert len(events.Scalars("health/grad_norm/actor")) == 4
