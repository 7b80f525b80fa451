"""``sacfolio validate-pipeline``: every check printed, exit 0 when all pass and 1 when one fails."""

from __future__ import annotations

from typer.testing import CliRunner

from sacfolio.cli import app
from sacfolio.cli.validate import pipeline_checks


def test_validate_pipeline_passes_every_check_and_prints_each() -> None:
    result = CliRunner().invoke(app, ["validate-pipeline"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(lines) == 10 and all(line.startswith("PASS") for line in lines)
    for words in ("pooled feature = mean over the live slots", "[B, N, T, F]", "[B, N, F]", "SAC update",
                  "padded slots get exactly 0 weight"):
        assert words in result.output


def test_the_seeds_unmasked_last_token_encoder_fails_the_masking_checks() -> None:
    failed = {name for name, ok, _ in pipeline_checks(leaky=True) if not ok}
    assert failed == {"pooled feature = mean over the live slots", "padded slots cannot move the pooled feature",
                      "padded slots' outputs are 0"}
    result = CliRunner().invoke(app, ["validate-pipeline", "--leaky"])
    assert result.exit_code == 1 and "FAIL pooled feature" in result.output
