"""Judge backends. Each is imported only when used, so httpx / torch load on demand."""

from __future__ import annotations

from rewardkit.plugins.judge.backends.base import (
    JudgeBackend,
    JudgeBackendError,
    JudgeReply,
    JudgeRequest,
    TokenLogprob,
)
from rewardkit.plugins.judge.config import OpenAIBackendConfig, TransformersBackendConfig


def make_backend(config: OpenAIBackendConfig | TransformersBackendConfig) -> JudgeBackend:
    if isinstance(config, OpenAIBackendConfig):
        from rewardkit.plugins.judge.backends.openai import OpenAIBackend

        return OpenAIBackend(config)
    from rewardkit.plugins.judge.backends.hf import TransformersBackend

    return TransformersBackend(config)


__all__ = ["JudgeBackend", "JudgeBackendError", "JudgeReply", "JudgeRequest", "TokenLogprob", "make_backend"]
