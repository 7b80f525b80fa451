"""Learning-rate ranges: the guard rail against rates that make the weights explode.

An earlier agent was trained with Adam at 5e-3, 16x above the top of SAC's safe
range; its weights exploded and its biases ended at exactly zero. This module keeps
the documented range of every algorithm and refuses learning rates far outside it
unless the user insists (``--allow-unsafe-lr``). Gradient-norm clipping is the
learners' own (``grad_clip_norm`` / ``max_grad_norm`` in their configs).

Ranges (Adam, per optimizer: actor, critic, entropy temperature):

- **SAC** — recommended 1e-5 to 3e-4; refused above 1e-3. Haarnoja et al., "Soft
  Actor-Critic Algorithms and Applications" (2018), Table 1, use 3e-4 for every
  network on every benchmark; Stable-Baselines3 and CleanRL keep 3e-4 (CleanRL's
  actor) and 1e-3 (CleanRL's critic) as their upper defaults. The critic bootstraps
  on its own target, so a too-large step feeds its error back into the next target
  and diverges instead of oscillating.
- **PPO** — recommended 1e-5 to 3e-4; refused above 1e-3. Schulman et al.,
  "Proximal Policy Optimization Algorithms" (2017), Table 3, use 3e-4 for MuJoCo;
  Andrychowicz et al., "What Matters in On-Policy RL" (2021), find 3e-4 a robust
  default and performance collapsing well above 1e-3: with several epochs per batch,
  large Adam steps leave the clipped-ratio trust region in the first epoch, so the
  clip no longer limits the policy change.

Below the range training is merely slow (a warning); inside it nothing is said;
between the recommended maximum and the refusal limit a warning says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from sacfolio.exceptions import ConfigError, UnsafeLearningRateError

__all__ = [
    "LR_RANGES",
    "LearningRateRange",
    "check_learning_rates",
]


@dataclass(frozen=True, kw_only=True)
class LearningRateRange:
    """Documented learning-rate range of one algorithm.

    Attributes
    ----------
    recommended_min, recommended_max : float
        Inclusive range known to train stably.
    refuse_above : float
        Learning rates strictly above this are refused unless ``allow_unsafe``.
    reference : str
        Where the range comes from.
    """

    recommended_min: float
    recommended_max: float
    refuse_above: float
    reference: str

    def __post_init__(self) -> None:
        if not 0 < self.recommended_min <= self.recommended_max <= self.refuse_above:
            raise ConfigError(
                "LearningRateRange needs 0 < recommended_min <= recommended_max <= refuse_above, "
                f"got {self.recommended_min}, {self.recommended_max}, {self.refuse_above}."
            )


LR_RANGES: Mapping[str, LearningRateRange] = {
    "sac": LearningRateRange(
        recommended_min=1e-5, recommended_max=3e-4, refuse_above=1e-3,
        reference="Haarnoja et al. 2018 (arXiv:1812.05905), Table 1: 3e-4",
    ),
    "ppo": LearningRateRange(
        recommended_min=1e-5, recommended_max=3e-4, refuse_above=1e-3,
        reference="Schulman et al. 2017, Table 3: 3e-4; Andrychowicz et al. 2021",
    ),
}


def check_learning_rates(algo: str, lrs: Mapping[str, float], allow_unsafe: bool = False
                         ) -> list[str]:
    """Check configured learning rates against the algorithm's documented range.

    Parameters
    ----------
    algo : str
        ``"sac"`` or ``"ppo"`` (case-insensitive).
    lrs : mapping of str to float
        Learning rate per optimizer, e.g. ``{"actor": 3e-4, "critic": 3e-4, "alpha": 3e-4}``.
    allow_unsafe : bool
        Accept rates above the refusal limit (with a warning) instead of raising.

    Returns
    -------
    list of str
        One warning per rate outside the recommended range; empty when all are inside.

    Raises
    ------
    ConfigError
        Unknown ``algo``, or a rate that is not a positive finite number.
    UnsafeLearningRateError
        A rate above the refusal limit without ``allow_unsafe``.
    """
    key = algo.lower()
    if key not in LR_RANGES:
        raise ConfigError(f"No learning-rate range for algorithm {algo!r}; known: "
                          f"{', '.join(sorted(LR_RANGES))}.")
    r = LR_RANGES[key]
    span = f"{r.recommended_min:g} to {r.recommended_max:g}"
    warnings: list[str] = []
    for name, lr in lrs.items():
        lr = float(lr)
        if not (math.isfinite(lr) and lr > 0):
            raise ConfigError(f"{algo} {name} learning rate must be a positive number, got {lr}.")
        if lr > r.refuse_above:
            message = (f"{algo} {name} learning rate {lr:g} is above {r.refuse_above:g}, "
                       f"{lr / r.recommended_max:.0f}x the recommended maximum "
                       f"{r.recommended_max:g}: "
                       "weights are likely to explode and biases to collapse to zero.")
            if not allow_unsafe:
                raise UnsafeLearningRateError(
                    f"{message} Use a rate in {span} (e.g. 1e-4), or pass --allow-unsafe-lr "
                    "(allow_unsafe_lr=True) to train anyway.")
            warnings.append(f"{message} Training anyway because unsafe learning rates are allowed.")
        elif lr > r.recommended_max:
            warnings.append(f"{algo} {name} learning rate {lr:g} is above the recommended "
                            f"range {span} ({r.reference}); watch the health report.")
        elif lr < r.recommended_min:
            warnings.append(f"{algo} {name} learning rate {lr:g} is below the recommended "
                            f"range {span}; training will be very slow.")
    return warnings
