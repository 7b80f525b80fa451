"""Thresholds, findings and the JSON-able health report."""

from __future__ import annotations

import json
import math

import pytest
import torch

from sacfolio.diagnostics.findings import (Finding, HealthConfig, HealthReport, json_safe_float,
                                           tensor_findings)
from sacfolio.diagnostics.stats import tensor_stat
from sacfolio.exceptions import ConfigError


def test_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="zero_warn"):
        HealthConfig(zero_warn=0.4, zero_critical=0.3)
    with pytest.raises(ConfigError, match="policy"):
        HealthConfig(policy="ignore")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="every"):
        HealthConfig(every=0)


@pytest.mark.parametrize("zeros, kind, severity", [
    (1, None, None), (2, "zeros", "warn"), (4, "zeros", "critical"), (6, "dead", "critical")])
def test_zero_fraction_thresholds(zeros: int, kind: str | None, severity: str | None) -> None:
    t = torch.ones(10)
    t[:zeros] = 0.0
    found = [(f.kind, f.severity) for f in tensor_findings(tensor_stat("w", t), HealthConfig())]
    assert found == ([] if kind is None else [(kind, severity)])


def test_nonfinite_exploding_and_nonfinite_grad_findings() -> None:
    def kinds(t: torch.Tensor, grad: torch.Tensor | None = None) -> list[tuple[str, str]]:
        stat = tensor_stat("w", t, grad=grad)
        return [(f.kind, f.severity) for f in tensor_findings(stat, HealthConfig())]

    assert kinds(torch.tensor([1.0, 1e3])) == [("exploding", "critical")]
    assert kinds(torch.tensor([1.0, 1e3]), grad=torch.tensor([float("inf"), 0.0])) == [
        ("exploding", "critical"), ("nonfinite_grad", "critical")]
    # a NaN makes the extremes NaN: reported as non-finite, not as exploding
    assert kinds(torch.tensor([1.0, float("nan"), 1e3])) == [("nonfinite", "critical")]


def test_report_status_json_round_trip_and_safe_floats() -> None:
    nan = Finding(tensor="losses/actor", kind="nonfinite_loss", severity="critical",
                  value=float("nan"), threshold=0.0)
    warn = Finding(tensor="actor", kind="grad_norm", severity="warn", value=12.0, threshold=10.0)
    assert HealthReport.status_of([]) == "ok" and HealthReport.status_of([warn]) == "warn"
    report = HealthReport(update=7, status=HealthReport.status_of([warn, nan]),
                          findings=(nan, warn), grad_norms={"actor": 12.0, "global": 12.0})
    assert report.status == "critical"
    text = json.dumps(report.to_dict(), allow_nan=False)
    back = HealthReport.from_dict(json.loads(text))
    assert math.isnan(back.findings[0].value) and back.findings[1] == warn
    assert json_safe_float(float("inf")) == "inf" and json_safe_float(0.5) == 0.5
    assert report.summary_line().startswith("health critical at update 7: CRITICAL nonfinite_loss")
