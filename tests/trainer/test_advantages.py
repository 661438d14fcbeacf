import math

import pytest
import torch

from rewardkit.trainer.advantages import group_advantages

NAN = float("nan")
EPS = 1e-4


def test_group_scale_matches_hand_computation():
    # group 1: [1, 0, 0, 1]: mean 0.5, unbiased std sqrt(1/3); group 2: [1, 1, 1, 0]: mean .75, std .5
    adv = group_advantages(torch.tensor([1.0, 0, 0, 1, 1, 1, 1, 0]), group_size=4, scale="group")
    s1 = math.sqrt(1 / 3)
    expected = [0.5 / (s1 + EPS), -0.5 / (s1 + EPS), -0.5 / (s1 + EPS), 0.5 / (s1 + EPS)]
    expected += [0.25 / (0.5 + EPS)] * 3 + [-0.75 / (0.5 + EPS)]
    assert adv.values.tolist() == pytest.approx(expected, rel=1e-6)
    assert adv.trainable.all()


def test_none_scale_only_centres():
    adv = group_advantages(torch.tensor([3.0, 1.0, 2.0, 2.0]), group_size=2, scale="none")
    assert adv.values.tolist() == pytest.approx([1.0, -1.0, 0.0, 0.0])
    assert adv.zero_variance.tolist() == [False, False, True, True]


def test_batch_scale_uses_std_of_all_rewards():
    rewards = torch.tensor([3.0, 1.0, 2.0, 2.0])
    batch_std = float(torch.tensor([3.0, 1.0, 2.0, 2.0]).std())  # unbiased: sqrt(2/3)
    adv = group_advantages(rewards, group_size=2, scale="batch")
    assert adv.values.tolist() == pytest.approx(
        [1 / (batch_std + EPS), -1 / (batch_std + EPS), 0, 0], rel=1e-6
    )


def test_missing_rewards_are_excluded_from_statistics_and_training():
    # group [1, NaN, 0]: statistics over {1, 0} only: mean .5, std sqrt(.5)
    adv = group_advantages(torch.tensor([1.0, NAN, 0.0]), group_size=3, scale="group")
    std = math.sqrt(0.5)
    assert adv.values.tolist() == pytest.approx([0.5 / (std + EPS), 0.0, -0.5 / (std + EPS)], rel=1e-6)
    assert adv.trainable.tolist() == [True, False, True]


def test_group_with_one_scored_completion_has_zero_variance():
    adv = group_advantages(torch.tensor([NAN, 0.7, NAN, NAN]), group_size=4)
    assert adv.values.tolist() == [0.0, 0.0, 0.0, 0.0]
    assert adv.zero_variance.all()


def test_drop_zero_variance_groups_marks_them_untrainable():
    rewards = torch.tensor([1.0, 1.0, 0.0, 1.0])
    kept = group_advantages(rewards, group_size=2, drop_zero_variance=False)
    dropped = group_advantages(rewards, group_size=2, drop_zero_variance=True)
    assert kept.trainable.tolist() == [True, True, True, True]
    assert dropped.trainable.tolist() == [False, False, True, True]
    assert dropped.values[2:].tolist() == kept.values[2:].tolist()


def test_rewards_must_form_whole_groups():
    with pytest.raises(ValueError, match="groups of 4"):
        group_advantages(torch.zeros(6), group_size=4)
