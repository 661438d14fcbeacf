"""verl: `custom_reward_function` entry points, called with verl's own arguments.

verl's reward managers call `compute_score(data_source=, solution_str=, ground_truth=, extra_info=,
**reward_kwargs)`; its batch manager calls the plural form (`data_sources=`, `solution_strs=`, ...) and its
reward loop awaits an async function. `reward_kwargs` come from verl's
`custom_reward_function.reward_kwargs` and configure rewardkit:

- `env`: one environment for every row, instead of routing by `data_source`;
- `data_sources`: `{data_source: environment}`, added to (and overriding) DATA_SOURCES;
- `config`, `rubric`, `timeout`: the environment's config, rubric and per-sample deadline;
- `environments`: `{environment: {config, rubric, timeout}}` where several environments differ.

verl has no "does not apply" or "error" outcome: both score 0.0, and errors are logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from itertools import islice
from typing import Any

from rewardkit.adapters.common import SAMPLE_COLUMN, AdapterSpec, sample_of, scorer_for
from rewardkit.environment import Environment
from rewardkit.errors import ConfigError
from rewardkit.host import get_host
from rewardkit.types import RewardResult, Sample

logger = logging.getLogger(__name__)

# verl's standard data_source names (verl.utils.reward_score.default_compute_score) -> environments.
DATA_SOURCES: dict[str, str] = {
    "openai/gsm8k": "gsm8k",
    "lighteval/MATH": "math",
    "DigitalLearningGmbH/MATH-lighteval": "math",
    "HuggingFaceH4/MATH-500": "math500",
    "math": "math",
    "math_dapo": "math",
    "math_dapo_reasoning": "math",
    "numina_aops_forum": "math",
    "numina_synthetic_math": "math",
    "numina_amc_aime": "math",
    "numina_synthetic_amc": "math",
    "numina_cn_k12": "math",
    "numina_olympiads": "math",
    "hiyouga/geometry3k": "math",
    "codecontests": "code",
    "apps": "code",
    "codeforces": "code",
    "taco": "code",
}
PREFIXES = {"aime": "math"}  # verl routes every data_source starting with "aime" to its math scorer
CODE_SOURCES = frozenset({"codecontests", "apps", "codeforces", "taco"})
# Keyword arguments verl itself passes at call time; rewardkit does not use them.
VERL_KWARGS = frozenset(
    {"reward_router_address", "reward_model_tokenizer", "concurrent_semaphore", "memory_limit_mb"}
)
OWN_KWARGS = frozenset({"env", "data_sources", "config", "rubric", "timeout", "environments"})

_warned: set[str] = set()


def verl_compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> float:
    """verl's `compute_score` for one response (NaiveRewardManager, and its reward loop's sync path)."""
    spec, sample = _route(data_source, ground_truth, extra_info, kwargs)
    return _verl_score(spec, scorer_for(spec).score_sync(sample, solution_str))


async def verl_compute_score_async(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> float:
    """The async variant, which verl's reward loop awaits on its own event loop."""
    spec, sample = _route(data_source, ground_truth, extra_info, kwargs)
    scorer = await asyncio.to_thread(scorer_for, spec)  # the first call builds it (setup may block)
    return _verl_score(spec, await scorer.score(sample, solution_str))


def verl_compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    **kwargs: Any,
) -> list[float]:
    """verl's BatchRewardManager form: every argument a list; each environment scores its rows as a batch."""
    infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    routed = [_route(*row, kwargs) for row in zip(data_sources, ground_truths, infos, strict=True)]
    groups: dict[str, list[int]] = defaultdict(list)
    for index, (spec, _) in enumerate(routed):
        groups[spec.key].append(index)
    scores = [0.0] * len(routed)
    for indices in groups.values():
        spec = routed[indices[0]][0]
        results = scorer_for(spec).score_batch_sync(
            [routed[i][1] for i in indices], [solution_strs[i] for i in indices]
        )
        for index, result in zip(indices, results, strict=True):
            scores[index] = _verl_score(spec, result)
    return scores


def to_verl_rows(env: Environment, split: str = "train", limit: int | None = None) -> list[dict[str, Any]]:
    """Rows in verl's RL parquet layout for `env`'s samples; each carries its serialized Sample, so
    `verl_compute_score` scores it exactly as the environment made it. Write them with pandas/datasets."""
    return [
        {
            "data_source": env.name,
            "prompt": list(sample.prompt),
            "ability": env.name,
            "reward_model": {"style": "rule", "ground_truth": json.dumps(sample.answer)},
            "extra_info": {"index": index, "split": split, SAMPLE_COLUMN: json.dumps(sample.to_dict())},
        }
        for index, sample in enumerate(islice(env.dataset(split), limit))
    ]


def _route(
    data_source: str, ground_truth: Any, extra_info: Mapping[str, Any] | None, kwargs: Mapping[str, Any]
) -> tuple[AdapterSpec, Sample]:
    _warn_unknown(kwargs)
    env = _environment_of(data_source, kwargs)
    own = (kwargs.get("environments") or {}).get(env, {})
    config = dict(own.get("config", kwargs.get("config")) or {})
    url = kwargs.get("sandbox_fusion_url")
    if url and data_source in CODE_SOURCES and "sandbox" not in config:
        config.update(sandbox="sandboxfusion", sandbox_options={"url": url})
    spec = AdapterSpec(
        env, config, own.get("rubric", kwargs.get("rubric")), own.get("timeout", kwargs.get("timeout"))
    )
    info = dict(extra_info or {})
    if data_source in CODE_SOURCES and SAMPLE_COLUMN not in info:
        info.setdefault("input_output", ground_truth)  # verl's code ground truth: APPS-style inputs/outputs
    return spec, sample_of(ground_truth, info, str(info.get("index", 0)))


def _environment_of(data_source: str, kwargs: Mapping[str, Any]) -> str:
    if kwargs.get("env"):
        return str(kwargs["env"])
    mapping = {**DATA_SOURCES, **(kwargs.get("data_sources") or {})}
    if data_source in mapping:
        return mapping[data_source]
    for prefix, env in PREFIXES.items():
        if data_source.startswith(prefix):
            return env
    known = get_host().environments
    if data_source in known:
        return data_source
    raise ConfigError(
        f"verl data_source {data_source!r} maps to no rewardkit environment; map it in "
        f"custom_reward_function.reward_kwargs.data_sources (e.g. {{{data_source}: math}}) or set "
        f"reward_kwargs.env. Installed environments: {', '.join(sorted(known))}"
    )


def _warn_unknown(kwargs: Mapping[str, Any]) -> None:
    for name in set(kwargs) - OWN_KWARGS - VERL_KWARGS - {"sandbox_fusion_url"} - _warned:
        _warned.add(name)
        logger.warning(
            "rewardkit verl adapter: ignoring keyword argument %r (rewardkit reads %s)",
            name,
            ", ".join(sorted(OWN_KWARGS)),
        )


def _verl_score(spec: AdapterSpec, result: RewardResult) -> float:
    if result.error:
        logger.warning("rewardkit %s: %s", spec.env, result.error)
    return result.score if result.score is not None else 0.0
