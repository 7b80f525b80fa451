"""Named reward terms: pure functions checked against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sacfolio.env.rewards import excess_log_return, log_return


def test_log_return_is_the_log_of_net_growth():
    np.testing.assert_allclose(log_return(np.array([1.1, 0.9])), [math.log(1.1), math.log(0.9)], rtol=0, atol=1e-16)


def test_excess_log_return_by_hand():
    # agent +2% net, benchmark +1% net: log(1.02) - log(1.01) = 0.0098522964...
    out = excess_log_return(np.array([1.02, 0.97]), np.array([1.01, 0.97]))
    assert out[0] == pytest.approx(0.009852296443011638, abs=1e-16)
    assert out[1] == 0.0  # same growth: no excess, exactly
