import asyncio
import itertools

import pytest

import rewardkit
from rewardkit.errors import ConfigError
from rewardkit.plugins.math.procedural.env import ALL_KINDS
from rewardkit.plugins.math.procedural.generators import column_addition
from rewardkit.testing import check_environment


def head(env: rewardkit.Environment, n: int, split: str = "train") -> list[rewardkit.Sample]:
    return list(itertools.islice(env.dataset(split), n))


def test_same_seed_same_problems_other_seed_other_problems() -> None:
    first = head(rewardkit.load_environment("math.procedural", seed=3), 30)
    again = head(rewardkit.load_environment("math.procedural", seed=3), 30)
    other = head(rewardkit.load_environment("math.procedural", seed=4), 30)
    assert [s.to_dict() for s in first] == [s.to_dict() for s in again]
    assert [s.answer for s in first] != [s.answer for s in other]


def test_train_is_infinite_and_lazy_size_makes_it_finite() -> None:
    env = rewardkit.load_environment("math.procedural")
    stream = env.dataset("train")
    assert len(list(itertools.islice(stream, 2000))) == 2000
    assert len(list(rewardkit.load_environment("math.procedural", size=7).dataset("train"))) == 7
    assert len(list(env.dataset("test"))) == 200


def test_lowest_level_is_single_digit_addition() -> None:
    env = rewardkit.load_environment("math.procedural", kinds=["arithmetic"], difficulty=(1, 1))
    for sample in head(env, 50):
        question = sample.prompt[-1]["content"]
        a, b = (int(t) for t in question.split("?")[0].removeprefix("What is ").split(" + "))
        assert 0 <= a <= 9 and 0 <= b <= 9 and sample.answer == str(a + b)


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("level", [1, 3, 5])
def test_every_kind_and_level_generates_gold_that_scores_one(kind: str, level: int) -> None:
    env = rewardkit.load_environment("math.procedural", kinds=[kind], difficulty=(level, level))
    samples = head(env, 4, "test")  # some level-1 kinds have fewer distinct problems than the test split
    assert {s.info["kind"] for s in samples} == {kind} and {s.info["level"] for s in samples} == {level}
    with rewardkit.Scorer(env) as scorer:
        results = scorer.score_batch_sync(samples, [env.reference_completion(s) for s in samples])
    assert [r.score for r in results] == [1.0] * 4, [
        (s.answer, r) for s, r in zip(samples, results, strict=True)
    ]


def test_equivalent_forms_are_accepted() -> None:
    env = rewardkit.load_environment("math.procedural", kinds=["expand"], difficulty=(2, 2))
    sample = head(env, 1, "test")[0]
    import sympy  # test-only: build an equivalent but differently written answer

    factored = sympy.factor(
        sympy.parse_expr(
            sample.answer.replace("^", "**").replace("{", "(").replace("}", ")").replace(" x", "*x")
        )
    )
    with rewardkit.Scorer(env) as scorer:
        result = scorer.score_sync(sample, f"<answer>{sympy.latex(factored)}</answer>")
    assert result.score == 1.0, (sample.answer, factored, result)


def test_bad_config_is_rejected() -> None:
    with pytest.raises(ConfigError):
        rewardkit.load_environment("math.procedural", difficulty=(0, 9))
    with pytest.raises(ConfigError):
        rewardkit.load_environment("math.procedural", kinds=["calculus"])


def test_contract() -> None:
    check_environment(rewardkit.load_environment("math.procedural", difficulty=(1, 5)), n_samples=8)


def test_operator_filter_keeps_only_the_chosen_operators() -> None:
    env = rewardkit.load_environment(
        "math.procedural", kinds=["arithmetic"], difficulty=(2, 2), operators=["+"], size=200
    )
    for sample in env.dataset("train"):
        a, b = (int(t) for t in sample.prompt[-1]["content"].split("$")[1].split(" + "))
        assert 1 <= a <= 100 and 1 <= b <= 100 and sample.answer == str(a + b)


@pytest.mark.parametrize("operator", ["+", "-", "*"])
def test_operator_filter_applies_to_every_arithmetic_kind(operator: str) -> None:
    shown = {"+": " + ", "-": " - ", "*": "\\times"}
    others = [shown[o] for o in shown if o != operator]
    env = rewardkit.load_environment(
        "math.procedural", kinds=["arithmetic", "fractions", "word"], difficulty=(1, 5), operators=[operator]
    )
    for sample in head(env, 60):
        question = sample.prompt[-1]["content"].split("\n")[0]
        if sample.info["kind"] != "word":
            assert not any(other in question for other in others), question


def test_default_operators_keep_the_default_stream() -> None:
    explicit = rewardkit.load_environment("math.procedural", operators=["+", "-", "*"], seed=5)
    default = rewardkit.load_environment("math.procedural", seed=5)
    assert [s.to_dict() for s in head(explicit, 40)] == [s.to_dict() for s in head(default, 40)]


def test_train_and_test_problems_are_disjoint() -> None:
    # Two-digit addition has 10,000 problems: 200 test draws would otherwise reappear in training.
    config = {"kinds": ["arithmetic"], "difficulty": (2, 2), "operators": ["+"], "test_size": 200}
    env = rewardkit.load_environment("math.procedural", **config)
    test = {s.prompt[-1]["content"] for s in env.dataset("test")}
    train = [s.prompt[-1]["content"] for s in head(env, 1500)]
    assert len(train) == 1500 and not test & set(train)
    overlapping = rewardkit.load_environment("math.procedural", **config, disjoint_splits=False)
    assert test & {s.prompt[-1]["content"] for s in head(overlapping, 1500)}


def test_disjoint_train_keeps_its_size_and_ids_of_the_full_stream() -> None:
    config = {"kinds": ["arithmetic"], "difficulty": (1, 1), "test_size": 50}
    env = rewardkit.load_environment("math.procedural", **config, size=30)
    samples = list(env.dataset("train"))
    assert len(samples) == 30 and len({s.id for s in samples}) == 30
    everything = rewardkit.load_environment("math.procedural", **config, disjoint_splits=False)
    by_id = {s.id: s for s in head(everything, 10_000)}
    assert all(by_id[s.id] == s for s in samples)  # a skipped index is skipped, never renumbered


def test_an_exhausted_problem_space_is_a_clear_error() -> None:
    env = rewardkit.load_environment(
        "math.procedural", kinds=["arithmetic"], difficulty=(1, 1), operators=["+"], test_size=2000
    )
    with pytest.raises(ConfigError, match="lower test_size"):
        head(env, 1)


def test_sums_come_with_a_column_addition_worked_solution() -> None:
    env = rewardkit.load_environment(
        "math.procedural",
        kinds=["arithmetic"],
        difficulty=(1, 3),
        operators=["+"],
        prompt={"system_prompt": None},
    )
    for sample in head(env, 40):
        completion = env.reference_completion(sample)
        assert completion == f"<think>{sample.info['worked']}</think> <answer>{sample.answer}</answer>"
        assert asyncio.run(env.score(sample, completion)).score == 1.0

    assert column_addition([39, 42]) == "9 + 2 = 11, 3 + 4 + 1 = 8"
    assert column_addition([99, 5, 100]) == "9 + 5 + 0 = 14, 9 + 0 + 1 = 10, 1 + 1 = 2"
    # Differences and products have no worked solution: the reference keeps the placeholder.
    mixed = head(rewardkit.load_environment("math.procedural", kinds=["arithmetic"], difficulty=(3, 3)), 30)
    others = [s for s in mixed if "-" in s.prompt[-1]["content"] or "times" in s.prompt[-1]["content"]]
    assert others and all("worked" not in s.info for s in others)
    assert all(
        env.reference_completion(s).startswith("<think>The reference solution.</think>") for s in others
    )
