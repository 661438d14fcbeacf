"""Adversarial answers return an outcome within the deadline and never take the process down."""

import asyncio
import threading
import time

import pytest

import rewardkit
from rewardkit.plugins.math.checker import _warm_up, grade, warm_pool
from rewardkit.plugins.math.grader import GradeConfig

TIMEOUT = 2.0
# Honest symbolic work that takes far longer than TIMEOUT: simplifying a difference of big multivariate
# powers, in a set: sets are compared by math-verify alone, without the quick numeric check.
SLOW = "\\boxed{\\{(x+y+z+w+1.5)^{16} - (x+y+z+w)^{16}\\}}"
ATTACKS = [
    "\\boxed{9^{9^{9^{9^{9}}}}}",
    "\\boxed{" + "(" * 10_000 + "1" + ")" * 10_000 + "}",
    "1+" * 500_000 + "1",
    "\\boxed{" + "1+" * 400 + "1}",
    "\\boxed{\\frac{" * 2000,
    "<answer>" + "x" * 900 + "</answer>",
    SLOW,  # last: the worker it kills is replaced while the recovery check below waits
]


@pytest.fixture(scope="module")
def env() -> rewardkit.Environment:
    return rewardkit.load_environment("math", grading={"timeout": TIMEOUT})


def test_attacks_finish_within_timeout_plus_one_second(env: rewardkit.Environment) -> None:
    sample = next(iter(env.dataset("train")))
    asyncio.run(warm_pool())  # start the workers outside any deadline
    with rewardkit.Scorer(env) as scorer:
        for attack in ATTACKS:
            start = time.perf_counter()
            result = scorer.score_sync(sample, attack)
            elapsed = time.perf_counter() - start
            assert result.score == 0.0 and result.error is None, (attack[:40], result)
            assert elapsed <= TIMEOUT + 1.0, (attack[:40], elapsed)
        # The pool recovered from the killed worker: a normal symbolic answer still grades.
        assert scorer.score_sync(sample, "\\boxed{2^{1/2}}").score in (0.0, 1.0)


def test_timeout_is_enforced_from_a_plain_thread_and_a_running_loop() -> None:
    config = GradeConfig(timeout=TIMEOUT)
    outcomes: list[str] = []

    def in_thread() -> None:
        outcomes.append(asyncio.run(grade("1", SLOW, config)).reason)

    thread = threading.Thread(target=in_thread)
    start = time.perf_counter()
    thread.start()
    thread.join(30)
    assert outcomes == ["timeout"] and time.perf_counter() - start < TIMEOUT + 5  # includes a worker start


def test_symbolic_answers_are_graded_in_workers() -> None:
    async def both() -> list[bool]:
        config = GradeConfig()
        verdicts = await asyncio.gather(
            grade("x^2+2x+1", "\\boxed{(x+1)^2}", config), grade("\\sqrt{8}", "\\boxed{2\\sqrt{2}}", config)
        )
        return [v.correct for v in verdicts]

    assert asyncio.run(both()) == [True, True]


def test_accuracy_reward_in_a_rubric() -> None:
    env = rewardkit.load_environment("math.procedural")
    sample = next(iter(env.dataset("train")))
    rubric = rewardkit.make_rubric({"math.accuracy": 1.0}, env)
    with rewardkit.Scorer(env, rubric=rubric) as scorer:
        right = scorer.score_sync(sample, f"<answer>{sample.answer}</answer>")
        wrong = scorer.score_sync(sample, "<answer>nope</answer>")
    assert (right.score, wrong.score) == (1.0, 0.0)
    assert right.components["math.accuracy"] == 1.0
    no_gold = rewardkit.Sample(id="x", prompt=[rewardkit.user("?")], answer=None)
    with rewardkit.Scorer(env, rubric=rubric) as scorer:
        assert scorer.score_sync(no_gold, "<answer>1</answer>").score is None


def test_concurrent_first_samples_share_one_worker_warm_up() -> None:
    async def first_batch() -> None:
        await asyncio.gather(*(warm_pool() for _ in range(16)))

    asyncio.run(first_batch())
    started = _warm_up().started()
    assert started.done() and started.exception() is None
    assert _warm_up().started() is started  # a later sample does not queue another warm-up
