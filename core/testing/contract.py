"""`check_environment`: the contract every environment plugin must pass before anyone trains on it."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardkit.environment import Environment
from rewardkit.episodes import EpisodeEnvironment
from rewardkit.host import PluginHost, get_host
from rewardkit.loading import load_environment
from rewardkit.outcome import RANGE_SLACK
from rewardkit.rubric import Rubric
from rewardkit.scoring import Scorer
from rewardkit.types import RewardResult, Sample, user

GoldFn = Callable[[Sample], Any]  # a completion (str | None); for episode environments a Policy | None
ONE_MEGABYTE = 1 << 20
IDS_CHECKED = 1000


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class ContractReport:
    env_name: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [result for result in self.results if not result.passed]

    def add(self, name: str, passed: bool, detail: str = "") -> None:
        self.results.append(CheckResult(name, passed, detail))

    def summary(self) -> str:
        lines = [f"contract of environment {self.env_name!r}:"]
        lines += [
            f"  {'PASS' if r.passed else 'FAIL'} {r.name}{': ' + r.detail if r.detail else ''}"
            for r in self.results
        ]
        return "\n".join(lines)


class ContractError(AssertionError):
    """Raised by check_environment when the environment breaks the contract; lists every failure."""

    def __init__(self, report: ContractReport) -> None:
        super().__init__(report.summary())
        self.report = report


def adversarial_completions(seed: int = 0) -> dict[str, str]:
    """Inputs a policy can produce and a verifier must survive: empty, 1 MB, binary garbage, markup."""
    rng = random.Random(seed)
    garbage = bytes(rng.randrange(256) for _ in range(4096)).decode("latin-1")
    return {
        "empty": "",
        "1MB": ("The answer is 42. " * (ONE_MEGABYTE // 18 + 1))[:ONE_MEGABYTE],
        "binary garbage": garbage,
        "unbalanced markup": "<think><answer>\\boxed{{{{((([[[" + "```python\n" * 3,
    }


def check_environment(
    env: Environment | str,
    gold: GoldFn | None = None,
    *,
    split: str | None = None,
    n_samples: int = 4,
    timeout: float | None = None,
    hedges: bool = False,
    raise_on_failure: bool = True,
) -> ContractReport:
    """Run the contract on `env` (an instance or an installed name).

    `gold(sample)` returns a completion that must earn the top of the reward range; by default the
    environment's own `reference_completion`. For an EpisodeEnvironment it returns a policy (see
    `rewardkit.episodes.scripted`); by default the environment's `reference_policy`. `hedges=True` also
    checks that a completion offering the gold answer beside another sample's (a policy listing candidates)
    earns nothing: the bottom of the range. Opt-in, because an environment whose answers are sets or free
    text may rightly accept that.
    """
    env = load_environment(env) if isinstance(env, str) else env
    report = ContractReport(env.name)
    _check_registration(report, get_host(), env.name)
    metadata = env.metadata()
    split = split or metadata.splits[0]
    samples = _check_dataset(report, env, split, n_samples)
    if samples and isinstance(env, EpisodeEnvironment):
        from rewardkit.testing.episodes import check_episodes

        check_episodes(report, env, samples, gold or env.reference_policy)
    elif samples:
        with Scorer(env, timeout=timeout) as scorer:
            _check_gold(report, scorer, samples, gold or env.reference_completion)
            _check_adversarial(report, scorer, samples[0])
            if metadata.deterministic:
                _check_determinism(report, scorer, samples, gold or env.reference_completion)
            if hedges:
                _check_hedges(report, scorer, samples, gold or env.reference_completion)
    if raise_on_failure and not report.passed:
        raise ContractError(report)
    return report


def check_reward(
    reward: str,
    gold: str | GoldFn,
    *,
    params: Mapping[str, Any] | None = None,
    samples: Sequence[Sample] | None = None,
    host: PluginHost | None = None,
    **options: Any,
) -> ContractReport:
    """Run the contract on one registered reward, wrapped in an environment whose score is that reward.

    `gold` is the completion (or a function of the sample) that must earn the top of the reward's range.
    """
    spec = (host or get_host()).reward(reward)
    rubric = Rubric().add(reward, spec.fn, 1.0, spec.reward_range, **(params or {}))
    prompts = samples or [Sample(f"{reward}-{i}", [user("Answer the question.")]) for i in range(3)]
    gold_fn: GoldFn = gold if callable(gold) else (lambda sample: gold)

    class OneReward(Environment):
        name = reward
        reward_range = spec.reward_range

        def dataset(self, split: str) -> Iterable[Sample]:
            return list(prompts)

        async def score(self, sample: Sample, completion: str) -> RewardResult:
            return await rubric.score(sample, completion)

    return check_environment(OneReward(), gold=gold_fn, **options)


def check_plugin(name: str, *, host: PluginHost | None = None) -> ContractReport:
    """Check that the installed plugin NAME (its entry-point name) loads and that every environment, reward
    and tool it registers, by class or by import path, imports and passes the host's checks."""
    host = host or get_host()
    report = ContractReport(f"plugin {name}")
    if name not in host.plugins:
        report.add("installed", False, f"no installed plugin has the entry point {name!r}")
    else:
        host.resolve_all(name)
        errors = host.plugins[name].errors
        report.add("registers cleanly", not errors, "; ".join(errors))
    if not report.passed:
        raise ContractError(report)
    return report


def _check_registration(report: ContractReport, host: PluginHost, env_name: str) -> None:
    """When an installed plugin registers `env_name`, every entry of that plugin must import cleanly: a
    bad import path fails the author's contract test, not a user's first run."""
    entry = host.environments.get(env_name)
    if entry is None:
        return
    host.resolve_all(entry.plugin)
    errors = host.plugins[entry.plugin].errors
    report.add(f"plugin {entry.plugin!r} registers cleanly", not errors, "; ".join(errors))


def _check_dataset(report: ContractReport, env: Environment, split: str, n: int) -> list[Sample]:
    try:
        head = list(itertools.islice(env.dataset(split), IDS_CHECKED))
    except Exception as error:
        report.add(f"dataset({split!r}) loads", False, f"raised {type(error).__name__}: {error}")
        return []
    report.add(f"dataset({split!r}) is non-empty", bool(head), f"{len(head)} samples read")
    not_samples = [s for s in head if not isinstance(s, Sample)]
    report.add("dataset yields Sample objects", not not_samples, _first(not_samples))
    head = [s for s in head if isinstance(s, Sample)]
    ids = [s.id for s in head]
    duplicates = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    report.add(f"sample ids are unique (first {len(ids)})", not duplicates, _first(duplicates))
    bad_prompts = [s.id for s in head if not _valid_prompt(s)]
    report.add(
        "prompts are non-empty lists of {role, content} messages", not bad_prompts, _first(bad_prompts)
    )
    unround = [s.id for s in head[:n] if not _round_trips(s)]
    report.add("samples survive a JSON round trip", not unround, _first(unround))
    return head[:n]


def _check_gold(report: ContractReport, scorer: Scorer, samples: list[Sample], gold: GoldFn) -> None:
    top = scorer.reward_range[1]
    pairs = [(s, c) for s in samples if (c := gold(s)) is not None]
    if not pairs:
        report.add(
            "gold completion earns the top of the range",
            False,
            "no gold completion: pass gold=... or override Environment.reference_completion",
        )
        return
    results = scorer.score_batch_sync([s for s, _ in pairs], [c for _, c in pairs])
    misses = [
        f"{s.id}: {_describe(r)}"
        for (s, _), r in zip(pairs, results, strict=True)
        if r.score is None or abs(r.score - top) > RANGE_SLACK
    ]
    report.add(f"gold completion earns the top of the range ({top:g})", not misses, _first(misses))


def _check_adversarial(report: ContractReport, scorer: Scorer, sample: Sample) -> None:
    inputs = adversarial_completions()
    results = scorer.score_batch_sync([sample] * len(inputs), list(inputs.values()))
    for (label, _), result in zip(inputs.items(), results, strict=True):
        report.add(
            f"{label} completion scores in range without error", result.error is None, _describe(result)
        )


def _check_determinism(report: ContractReport, scorer: Scorer, samples: list[Sample], gold: GoldFn) -> None:
    completions: list[str] = [gold(s) or "" for s in samples] + ["nonsense 17"] * len(samples)
    batch = samples + samples
    first = [r.score for r in scorer.score_batch_sync(batch, completions)]
    second = [r.score for r in scorer.score_batch_sync(batch, completions)]
    report.add(
        "scores are deterministic (metadata.deterministic)",
        first == second,
        "" if first == second else f"first {first} vs second {second}",
    )


def hedged_completions(gold: str, answer: str, other: str) -> list[str]:
    """`gold` with its `answer` replaced by ways of offering `other` beside it."""
    forms = (f"{answer}\n{other}", f"{other}\n{answer}", f"{answer} or {other}", f"{other} {answer}")
    head, _, tail = gold.rpartition(answer)
    return [head + form + tail for form in forms]


def _check_hedges(report: ContractReport, scorer: Scorer, samples: list[Sample], gold: GoldFn) -> None:
    cases: list[tuple[Sample, str]] = []
    answers = [str(s.answer) for s in samples if s.answer is not None]
    for sample in samples:
        completion = gold(sample)
        answer = None if sample.answer is None else str(sample.answer)
        others = [a for a in answers if a != answer]
        if completion is None or answer is None or not others or answer not in completion:
            continue
        cases += [(sample, hedged) for hedged in hedged_completions(completion, answer, others[0])]
    name = "hedged answers (the gold answer beside another) earn the bottom of the range"
    if not cases:
        report.add(name, True, "no two samples with distinct answers found in their gold completions")
        return
    bottom = scorer.reward_range[0]
    results = scorer.score_batch_sync([s for s, _ in cases], [c for _, c in cases])
    paid = [
        f"{s.id} {c[-80:]!r}: {_describe(r)}"
        for (s, c), r in zip(cases, results, strict=True)
        if r.error is not None or r.score is None or r.score > bottom + RANGE_SLACK
    ]
    report.add(name, not paid, _first(paid))


def _valid_prompt(sample: Sample) -> bool:
    return bool(sample.prompt) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in sample.prompt
    )


def _round_trips(sample: Sample) -> bool:
    try:
        return Sample.from_dict(json.loads(json.dumps(sample.to_dict()))) == sample
    except (TypeError, ValueError):
        return False


def _describe(result: RewardResult) -> str:
    return f"error: {result.error}" if result.error else f"score {result.score}"


def _first(items: Iterable[object]) -> str:
    items = list(items)
    if not items:
        return ""
    more = f" (+{len(items) - 1} more)" if len(items) > 1 else ""
    return f"{items[0]}{more}"
