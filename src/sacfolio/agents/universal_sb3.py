"""The slot encoder as a Stable-Baselines3 features extractor (``MultiInputPolicy``).

::

    from stable_baselines3 import SAC
    from sacfolio.agents.universal_sb3 import SlotFeaturesExtractor
    from sacfolio.env.slot_env import DictSlotEnv

    model = SAC("MultiInputPolicy", DictSlotEnv(env),
                policy_kwargs={"features_extractor_class": SlotFeaturesExtractor})

The extractor reads the seed's ``Dict`` observation (:mod:`sacfolio.env.slots`) with
the masked transformer of :class:`~sacfolio.agents.universal.SlotEncoder` and returns
``[per-slot outputs (N * D), pooled (D), advisors' CASH weights (K)]``; padded slots
contribute zeros. SB3's own heads then map that to actions; they are plain MLPs, so
unlike sacfolio's :class:`~sacfolio.agents.universal.UniversalActor` they are not
permutation equivariant across slots.
"""

from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from sacfolio.agents.universal import SlotEncoder, UniversalConfig, inputs_of
from sacfolio.env.slots import CONTEXT_FEATURES
from sacfolio.exceptions import ConfigError

__all__ = ["SlotFeaturesExtractor"]


class SlotFeaturesExtractor(BaseFeaturesExtractor):
    """SB3 features extractor over the slot ``Dict`` space.

    Parameters
    ----------
    observation_space : gymnasium.spaces.Dict
        :attr:`SlotEnv.dict_space <sacfolio.env.slot_env.SlotEnv.dict_space>`.
    d_model, n_heads, n_layers, ff_dim : int
        :class:`~sacfolio.agents.universal.UniversalConfig`.
    padding_id : int, optional
        Default: read from the space (``symbol_id``'s upper bound is ``unknown_id = padding_id + 1``).
    """

    def __init__(self, observation_space: gym.spaces.Dict, d_model: int = 32, n_heads: int = 4,
                 n_layers: int = 1, ff_dim: int = 64, padding_id: int | None = None) -> None:
        spaces = observation_space.spaces
        missing = {"market_features", "context_features", "symbol_id"} - set(spaces)
        if missing:
            raise ConfigError(f"the slot extractor needs the keys {sorted(missing)} of the slot Dict observation")
        n_slots, n_features = spaces["market_features"].shape
        n_advisors = spaces["advisor_weights"].shape[0] if "advisor_weights" in spaces else 0
        n_ids = int(spaces["symbol_id"].high.max()) + 1
        config = UniversalConfig(d_model=d_model, n_heads=n_heads, n_layers=n_layers, ff_dim=ff_dim)
        super().__init__(observation_space, n_slots * d_model + d_model + n_advisors)
        self.padding_id = n_ids - 2 if padding_id is None else int(padding_id)
        self.encoder = SlotEncoder(n_features + len(CONTEXT_FEATURES) + n_advisors, n_ids, self.padding_id, config)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        x = inputs_of(observations, self.padding_id)
        h, pooled = self.encoder(x.tokens, x.ids, x.live)
        return torch.cat((h.flatten(1), pooled, x.advisors_cash), dim=-1)
