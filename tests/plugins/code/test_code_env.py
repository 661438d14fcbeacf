"""The code environment: formats, extraction, reward modes, per-test info, outcome semantics."""

from __future__ import annotations

import pytest

import rewardkit as rk
from rewardkit.plugins.code.env import CodeEnv
from rewardkit.plugins.code.extract import extract_code
from rewardkit.plugins.code.verdicts import same_output

STDIO = rk.Sample(
    id="sum",
    prompt=[rk.user("read two ints, print the sum")],
    info={"cases": [{"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10"}]},
)
APPS = rk.Sample(
    id="apps", prompt=[rk.user("echo")], info={"input_output": '{"inputs": ["a\\n"], "outputs": ["a\\n"]}'}
)


def test_extract_last_python_block_or_whole() -> None:
    text = "think\n```python\nx = 1\n```\nthen\n```py\nx = 2\n```\n```text\nnot code\n```"
    assert extract_code(text) == "x = 2\n"
    assert extract_code("    return 1\n") == "    return 1\n"  # body completions keep their indent
    assert extract_code("```cpp\nint main(){}\n```") == ""
    assert extract_code("```python\nunterminated = 1\n") == "unterminated = 1\n"


@pytest.mark.parametrize(
    ("actual", "expected", "mode", "same"),
    [
        ("3 \n\n", "3", "strip", True),
        ("3 \n", "3", "exact", False),
        ("1  2\n3", "1 2 3", "tokens", True),
        ("0.3333333", "0.33333333", "float", True),
        ("0.5", "0.6", "float", False),
    ],
)
def test_output_normalisation(actual: str, expected: str, mode: str, same: bool) -> None:
    assert same_output(actual, expected, mode, 1e-6) is same


def test_stdio_cases(code_scorer: rk.Scorer) -> None:
    good = "a, b = map(int, input().split())\nprint(a + b)"
    assert code_scorer.score_sync(STDIO, good).score == 1.0
    half = "a, b = map(int, input().split())\nprint(3)"
    result = code_scorer.score_sync(STDIO, half)
    assert result.score == 0.0
    assert [t["passed"] for t in result.info["tests"]] == [True, False]
    assert result.components["pass_fraction"] == 0.5
    assert code_scorer.score_sync(APPS, "import sys\nprint(sys.stdin.read(), end='')\nexit()").score == 1.0


def test_fraction_reward_and_per_test_info(backend: str) -> None:
    sample = rk.Sample(
        id="f",
        prompt=[rk.user("x")],
        info={"test_list": ["assert f(1) == 1", "assert f(2) == 4", "assert f(3) == 9"]},
    )
    env = CodeEnv(reward="fraction", sandbox=backend)
    with rk.Scorer(env) as scorer:
        result = scorer.score_sync(sample, "def f(x):\n    return x if x < 3 else 0")
    assert result.score == pytest.approx(1 / 3)
    assert [t["passed"] for t in result.info["tests"]] == [True, False, False]
    assert "AssertionError" in result.info["tests"][1]["detail"]


def test_wrong_empty_and_garbage_completions_score_zero(code_scorer: rk.Scorer) -> None:
    sample = rk.Sample(id="g", prompt=[rk.user("x")], info={"test_list": ["assert f() == 1"]})
    for completion in ["", "def f(:", "\x00\xff" * 1000, "x" * (1 << 20), "def f():\n    while True: pass"]:
        result = code_scorer.score_sync(sample, completion)
        assert result.error is None and result.score == 0.0, (completion[:20], result)


def test_sample_without_tests_is_not_applicable(code_scorer: rk.Scorer) -> None:
    result = code_scorer.score_sync(rk.Sample(id="n", prompt=[rk.user("x")]), "print(1)")
    assert result.score is None and result.error is None


def test_sandbox_failure_is_an_error_outcome_not_a_zero() -> None:
    from rewardkit.sandbox import ExecResult, Sandbox

    class Down(Sandbox):
        def run_job(self, job):  # the infrastructure is down: every job is a sandbox_error
            return ExecResult.infrastructure("daemon unreachable")

    env = CodeEnv(sandbox="unsafe_local")
    env._sandbox = Down()
    sample = rk.Sample(id="s", prompt=[rk.user("x")], info={"test_list": ["assert x == 1"]})
    with rk.Scorer(env) as scorer:
        result = scorer.score_sync(sample, "x = 1")
    assert result.score is None and "sandbox_error" in (result.error or "")


def test_env_needs_data_or_preset() -> None:
    with pytest.raises(rk.ConfigError):
        list(CodeEnv(sandbox="unsafe_local").dataset("test"))


def test_registered_through_entry_points() -> None:
    names = rk.list_environments()
    assert {"code", "humaneval", "mbpp"} <= set(names)
    assert rk.load_environment("humaneval").metadata().score_timeout == 40.0


def test_sandbox_options_are_typed_per_backend_and_errors_name_the_field() -> None:
    with pytest.raises(rk.ConfigError) as typo:
        CodeEnv(sandbox_options={"pool_sizee": 2})
    assert str(typo.value).startswith("code.config.sandbox_options.pool_sizee: unknown field; did you mean")
    with pytest.raises(rk.ConfigError, match=r"code.config.sandbox_options.pool_size: unknown field"):
        CodeEnv(sandbox="bwrap", sandbox_options={"pool_size": 2})  # bwrap takes `concurrency`
    with pytest.raises(rk.ConfigError, match=r"code.config.sandbox_options.pool_size: Input should be"):
        CodeEnv(sandbox_options={"pool_size": 0})
    with pytest.raises(rk.ConfigError, match=r"code.config.sandbox: unknown sandbox 'dockr'. Did you mean"):
        CodeEnv(sandbox="dockr")
    assert (
        CodeEnv(sandbox_options={"pool_size": 4, "packages": ["numpy"]}).config.sandbox_options["pool_size"]
        == 4
    )
