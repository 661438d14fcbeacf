"""The estimators against hand-computed values, and maj@k with ties."""

from __future__ import annotations

import math

import pytest

from rewardkit.evaluation.metrics import ks_up_to, majority, max_at_k, pass_at_k, pass_hat_k


def test_pass_at_k_hand_computed():
    assert pass_at_k(4, 3, 1) == pytest.approx(0.75)
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)  # 1 - C(2,2)/C(4,2)
    assert pass_at_k(5, 1, 2) == pytest.approx(1 - 6 / 10)  # 1 - C(4,2)/C(5,2)
    assert pass_at_k(10, 3, 4) == pytest.approx(1 - 35 / 210)  # 1 - C(7,4)/C(10,4)


def test_pass_at_k_edges():
    assert pass_at_k(8, 0, 1) == 0.0  # c = 0
    assert pass_at_k(8, 0, 8) == 0.0
    assert pass_at_k(8, 8, 1) == 1.0  # c = n
    assert pass_at_k(8, 8, 8) == 1.0
    assert pass_at_k(8, 1, 8) == 1.0  # k = n: any pass among all n
    assert pass_at_k(8, 7, 2) == 1.0  # n - c < k: every draw of 2 has a pass


def test_pass_at_k_is_exact_for_large_n():
    # The ratio of big binomials stays exact: C(199, 100) / C(200, 100) = 100 / 200.
    assert pass_at_k(200, 1, 100) == pytest.approx(0.5, abs=1e-15)


def test_pass_hat_k_hand_computed():
    assert pass_hat_k(4, 3, 2) == pytest.approx(3 / 6)
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)
    assert pass_hat_k(4, 4, 4) == 1.0  # c = n
    assert pass_hat_k(4, 0, 1) == 0.0  # c = 0
    assert pass_hat_k(4, 3, 4) == 0.0  # k = n with one failure
    assert pass_hat_k(6, 6, 3) == 1.0


@pytest.mark.parametrize(("n", "c", "k"), [(3, 4, 1), (3, 1, 0), (3, 1, 4), (0, 0, 1), (3, -1, 1)])
def test_estimators_reject_impossible_counts(n, c, k):
    with pytest.raises(ValueError, match="need 0 <= c <= n"):
        pass_at_k(n, c, k)
    with pytest.raises(ValueError, match="need 0 <= c <= n"):
        pass_hat_k(n, c, k)


def test_max_at_k():
    scores = [0.1, 0.5, 0.2, 0.9]
    assert max_at_k(scores, 1) == pytest.approx(sum(scores) / 4)
    assert max_at_k(scores, 4) == pytest.approx(0.9)
    # Pairs: max over the 6 pairs of {0.1, 0.2, 0.5, 0.9} = 0.2 + 0.5*2 + 0.9*3.
    assert max_at_k(scores, 2) == pytest.approx((0.2 + 1.0 + 2.7) / 6)


def test_majority_with_ties():
    assert majority(["4", "4", "5"]) == (True, "4")
    assert majority(["4", "5"]) == (False, None)  # a tie is no majority
    assert majority(["4", "4", "5", "5", "6"]) == (False, None)  # a tie at the top, whatever comes after
    assert majority(["4", None, None, None]) == (True, "4")  # no answer is no vote
    assert majority([None, None]) == (False, None)
    assert majority([]) == (False, None)
    assert majority([[1, 2], [1, 2], [2, 1]]) == (True, "[1, 2]")  # unhashable answers vote by their repr
    assert majority([1.0, 1.0, True]) == (True, 1.0)


def test_ks_are_powers_of_two_and_n():
    assert ks_up_to(1) == [1]
    assert ks_up_to(8) == [1, 2, 4, 8]
    assert ks_up_to(10) == [1, 2, 4, 8, 10]
    assert ks_up_to(0) == []
    assert all(math.log2(k).is_integer() for k in ks_up_to(64))


def test_math_reports_its_parsed_answer():
    """The bundled math environments expose the answer they extracted, for maj@k."""
    import rewardkit as rk
    from rewardkit.evaluation.metrics import parsed_answer

    env = rk.load_environment("math.procedural", seed=0, kinds=["arithmetic"])
    sample = next(iter(env.dataset("test")))
    with rk.Scorer(env) as scorer:
        right = scorer.score_sync(sample, f"<think>easy</think><answer>{sample.answer}</answer>")
        empty = scorer.score_sync(sample, "no idea")
    assert right.score == 1.0
    assert parsed_answer(right.info) == (True, str(sample.answer))
    assert parsed_answer(empty.info) == (True, None)
