import math

import pytest
import torch

from rewardkit.trainer.advantages import (
    component_table,
    decoupled_advantages,
    group_advantages,
    rollout_advantages,
    scores_tensor,
)
from rewardkit.types import RewardResult

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


def test_decoupled_normalisation_hand_values():
    # One group of 3 with two components (weights 1 and 0.5), then batch normalisation of the sums.
    # a = [1, 0, 0]: mean 1/3, std sqrt(1/3); b = [0, 0, 2]: mean 2/3, std sqrt(4/3)
    components = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    adv = decoupled_advantages(components, torch.tensor([1.0, 0.5]), group_size=3)
    sa, sb = math.sqrt(1 / 3), math.sqrt(4 / 3)
    na = [(x - 1 / 3) / (sa + EPS) for x in (1, 0, 0)]
    nb = [(x - 2 / 3) / (sb + EPS) for x in (0, 0, 2)]
    sums = [a + 0.5 * b for a, b in zip(na, nb, strict=True)]
    mean = sum(sums) / 3
    std = math.sqrt(sum((s - mean) ** 2 for s in sums) / 2)
    assert adv.values.tolist() == pytest.approx([(s - mean) / (std + EPS) for s in sums], rel=1e-5)
    assert adv.trainable.all()


def test_decoupled_normalisation_gives_each_component_its_say():
    # Summed first, the wide-spread component (0 or 10) decides; normalised first, both count equally:
    # completion 1 wins component a, completion 2 wins b, so they get the same advantage.
    components = torch.tensor([[1.0, 0.0], [0.0, 10.0], [0.0, 0.0], [0.0, 0.0]])
    summed = group_advantages(components.sum(-1), group_size=4)
    decoupled = decoupled_advantages(components, torch.ones(2), group_size=4)
    assert summed.values[1] > 5 * summed.values[0]
    assert decoupled.values[0].item() == pytest.approx(decoupled.values[1].item(), rel=1e-3)  # eps


def test_decoupled_missing_components_and_rewards():
    # NaN: component does not apply (ignored in its statistics); a row with none is not trainable
    components = torch.tensor([[1.0, NAN], [0.0, NAN], [NAN, NAN], [1.0, 1.0]])
    adv = decoupled_advantages(components, torch.ones(2), group_size=4)
    assert adv.trainable.tolist() == [True, True, False, True]
    assert adv.values[2].item() == 0.0


def _outcome(score, **components):
    return RewardResult(score=score, components=components)


def test_component_table_takes_weighted_rubric_items_per_environment():
    results = [_outcome(1.2, acc=1.0, fmt=1.0, len=7), _outcome(None), _outcome(0.5), _outcome(0.0, acc=0.0)]
    envs = ["math", "math", "plain", "math"]
    weights = {"math": {"acc": 1.0, "fmt": 0.2, "lang": 0.0}}  # zero weight: a metric, not a component
    table, column_weights = component_table(results, envs, weights)
    assert column_weights.tolist() == pytest.approx([1.0, 0.2, 1.0])
    expected = [[1.0, 1.0, NAN], [NAN, NAN, NAN], [NAN, NAN, 0.5], [0.0, NAN, NAN]]
    assert str(table.tolist()) == str(expected)


def test_rollout_advantages_follow_the_aggregation_setting():
    results = [_outcome(1.0 + 0.2 * f, acc=1.0, fmt=f) for f in (1.0, 0.0)]
    results += [_outcome(0.2, acc=0.0, fmt=1.0), _outcome(0.0, acc=0.0, fmt=0.0)]
    envs, weights = ["math"] * 4, {"math": {"acc": 1.0, "fmt": 0.2}}
    options = {"scale": "group", "drop_zero_variance": False, "rubric_weights": weights}
    plain = rollout_advantages(results, envs, 4, aggregation="sum_then_normalize", **options)
    assert plain.values.tolist() == group_advantages(scores_tensor(results), 4).values.tolist()
    gdpo = rollout_advantages(results, envs, 4, aggregation="normalize_then_sum", **options)
    table, column_weights = component_table(results, envs, weights)
    assert gdpo.values.tolist() == decoupled_advantages(table, column_weights, 4).values.tolist()
    assert gdpo.values.tolist() != plain.values.tolist()


def test_scores_tensor_marks_missing_rewards_nan():
    results = [_outcome(2.0), _outcome(None), RewardResult.failure("down")]
    assert [str(v) for v in scores_tensor(results).tolist()] == ["2.0", "nan", "nan"]
