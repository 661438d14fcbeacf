"""Prompt messages to token ids: through a chat template (the tokenizer's or the config's) or as plain text.

`prompt_format: plain` is the base-model path (R1-Zero starts from one): the messages' contents joined by
blank lines, tokenised as text. A tokenizer without a chat template is refused when the run starts, with
the two ways out, rather than failing at the first step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardkit.errors import ConfigError
from rewardkit.trainer.config import ModelConfig
from rewardkit.types import Message


@dataclass(frozen=True)
class EncodedPrompt:
    ids: list[int]
    full_length: int  # tokens before truncation

    @property
    def truncated(self) -> bool:
        return self.full_length > len(self.ids)


class PromptEncoder:
    def __init__(self, tokenizer: Any, config: ModelConfig, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.format = config.prompt_format
        self.template = _template_text(config.chat_template)
        self.kwargs = dict(config.chat_template_kwargs)
        self.max_length = max_length
        if self.format == "chat":
            self._check_template(config.path)

    def encode(self, messages: Sequence[Message]) -> EncodedPrompt:
        """Token ids of the prompt, ending where the completion starts. A prompt longer than
        `max_length` keeps its last tokens (the generation prompt must stay); `truncated` says so."""
        ids = self._chat_ids(messages) if self.format == "chat" else self._plain_ids(messages)
        return EncodedPrompt(ids[-self.max_length :], len(ids))

    def _chat_ids(self, messages: Sequence[Message]) -> list[int]:
        plain = [{"role": m["role"], "content": m["content"]} for m in messages]
        try:
            ids = self.tokenizer.apply_chat_template(
                plain,
                add_generation_prompt=True,
                tokenize=True,
                return_dict=False,
                chat_template=self.template,
                **self.kwargs,
            )
        except Exception as error:  # Jinja errors (TemplateError, TypeError...) from a user's template
            raise ConfigError(f"model.chat_template: rendering a prompt failed: {error}") from None
        return list(ids)

    def _plain_ids(self, messages: Sequence[Message]) -> list[int]:
        text = "\n\n".join(m["content"] for m in messages)
        return list(self.tokenizer(text)["input_ids"])

    def _check_template(self, path: str) -> None:
        if self.template is None and not getattr(self.tokenizer, "chat_template", None):
            raise ConfigError(
                f"model.path: the tokenizer of {path!r} has no chat template; set model.chat_template "
                "(a Jinja template or a .jinja file), or model.prompt_format: plain for a base model"
            )
        self._chat_ids([{"role": "user", "content": "1 + 1?"}])  # a broken template fails here, at start


def _template_text(value: str | None) -> str | None:
    """The config's template: Jinja text, or a path to a file holding it."""
    if value is None or "{" in value:
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(f"model.chat_template: {value!r} is neither a Jinja template nor an existing file")
    return path.read_text(encoding="utf-8")
