"""What SAC and PPO share: the Learner protocol, the ActorLearner base, config fields,
the aux objective, the validators and the rollout buffer."""

import numpy as np
import pytest
import torch

from sacfolio.agents import PPO, SAC, ActorLearner, Learner, LearnerConfig, PPOConfig, SACConfig
from sacfolio.agents.aux import AuxObjective
from sacfolio.agents.buffers import RolloutBuffer
from sacfolio.agents.validation import check_int, check_log_std_bounds, check_nonnegative, is_int
from sacfolio.exceptions import ConfigError, TrainingHealthError


@pytest.mark.parametrize("cls, config", [(SAC, SACConfig(aux=True)), (PPO, PPOConfig(aux=True))])
def test_both_learners_share_the_base_and_the_protocol(cls, config):
    learner = cls(7, 3, config=config, seed=1)
    assert isinstance(learner, ActorLearner) and isinstance(learner, Learner)
    assert learner.policy() is learner.actor and learner.aux_shape == (2, 2)
    assert learner.predict_aux(np.zeros(7, dtype=np.float32)).shape == (2, 2)
    assert learner.nonfinite_counts() == {"skipped_updates": 0, "nonfinite_targets": 0}


def test_the_actor_is_drawn_first_from_the_seed():
    """SAC and PPO with the same seed and sizes start from the same policy weights."""
    sac, ppo = SAC(7, 3, seed=4), PPO(7, 3, config=PPOConfig(log_std_min=-20.0), seed=4)
    for a, b in zip(sac.actor.state_dict().values(), ppo.actor.state_dict().values()):
        assert torch.equal(a, b)


def test_check_nonfinite_names_the_learner():
    ppo = PPO(5, 3, config=PPOConfig(max_nonfinite_skips=0), seed=0)
    ppo._skipped = torch.ones(())
    with pytest.raises(TrainingHealthError, match="1 of 0 PPO steps.*rollout steps with non-finite"):
        ppo.check_nonfinite()


def test_shared_fields_come_last_in_to_dict_and_round_trip():
    shared = list(LearnerConfig().to_dict())
    for config in (SACConfig(aux=True, aux_horizons=(1, 2, 3)), PPOConfig(aux_coef_long=0.0)):
        keys = list(config.to_dict())
        assert keys[0] == "hidden_sizes" and keys[-len(shared):] == shared
        assert type(config).from_dict(config.to_dict()) == config


def test_aux_objective_trains_only_heads_with_a_positive_coefficient():
    objective = AuxObjective(SACConfig(aux=True, aux_horizons=(1, 4, 8), aux_coef_short=0.0), (3, 2))
    assert objective and objective.heads == [1, 2] and objective.horizons == [4, 8]
    assert not AuxObjective(SACConfig(), None)
    sac = SAC(6, 3, config=SACConfig(aux=True), seed=0)
    with pytest.raises(ConfigError, match="no aux_targets"):
        sac.aux_objective.losses(sac.actor.aux, torch.zeros(4, 64), None, missing="no aux_targets")


def test_validators_name_the_field():
    assert is_int(3) and not is_int(True) and not is_int(3.0)
    with pytest.raises(ConfigError, match="n_epochs must be an int >= 1, got 0"):
        check_int("n_epochs", 0, 1)
    with pytest.raises(ConfigError, match="ent_coef must be a finite number >= 0"):
        check_nonnegative("ent_coef", float("nan"))
    with pytest.raises(ConfigError, match="log_std_min < log_std_max"):
        check_log_std_bounds(2.0, 2.0)


def test_rollout_buffer_masks_nonfinite_advantages_and_takes_rows(caplog):
    ppo = PPO(4, 2, config=PPOConfig(n_steps=6, batch_size=2), seed=0)
    buffer = RolloutBuffer(6, 4, 2, None)
    rng = np.random.default_rng(0)
    for t in range(6):
        reward = float("nan") if t == 1 else 0.1
        buffer.add(rng.normal(size=4).astype(np.float32), np.zeros(2, np.float32), -1.0, reward,
                   rng.normal(size=4).astype(np.float32), False, t == 2, None)
    batch = buffer.finish(ppo)
    assert len(buffer) == 6 and batch.mask.tolist() == [0, 0, 1, 1, 1, 1]  # NaN reaches back to the episode start
    assert ppo.nonfinite_counts()["nonfinite_targets"] == 2 and "non-finite advantages" in caplog.text
    assert torch.isfinite(batch.advantages).all()
    rows = batch.rows(torch.tensor([5, 2]))
    assert torch.equal(rows.obs, batch.obs[[5, 2]]) and rows.aux_targets is None
    buffer.clear()
    assert len(buffer) == 0
