"""Turning a model's reply text into an assistant Message with tool calls, in the model's own format.

Parsing is done by transformers' response parser (`transformers.utils.chat_parsing.parse_response`), driven
by a declarative response template: the tokenizer's own `response_template` where the model ships one,
otherwise a named format from `FORMATS` (Hermes / Qwen `<tool_call>{json}</tool_call>` is the default), or a
template dict the user supplies. No per-family regexes live here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rewardkit.errors import ConfigError
from rewardkit.types import Message, ToolCall

CHATML_ASSISTANT = "<|im_start|>assistant\n"  # where a reply starts in a ChatML prompt (the parser's anchor)

HERMES: dict[str, Any] = {
    "defaults": {"role": "assistant"},
    "start_anchor": CHATML_ASSISTANT,
    "fields": {
        "tool_calls": {
            "open": "<tool_call>",
            "close_pattern": r"</tool_call>\s*",
            "repeats": True,
            "content": "json",
            "transform": {"type": "function", "function": "{content}"},
        },
        "content": {"content": "text"},
    },
}
"""Hermes / Qwen2.5 / Qwen3: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` after the text."""

PLAIN: dict[str, Any] = {
    "defaults": {"role": "assistant"},
    "start_anchor": CHATML_ASSISTANT,
    "fields": {"content": {"content": "text"}},
}
"""No tool calls: the whole reply is content."""

FORMATS: dict[str, dict[str, Any]] = {"hermes": HERMES, "plain": PLAIN}


@dataclass(frozen=True)
class ParsedReply:
    """The reply as a Message, and why its tool calls could not be read (None when they could)."""

    message: Message
    error: str | None = None


class ReplyParser:
    """Parses replies with one response template. Build one per model (`for_tokenizer`) or per format."""

    def __init__(self, template: str | Mapping[str, Any] = "hermes") -> None:
        if isinstance(template, str):
            if template not in FORMATS:
                known = ", ".join(sorted(FORMATS))
                raise ConfigError(f"unknown tool-call format {template!r}; known formats: {known}")
            template = FORMATS[template]
        self.template = dict(template)

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, override: str | Mapping[str, Any] | None = None) -> ReplyParser:
        """The tokenizer's own response template if it has one, else Hermes when its chat template renders
        `<tool_call>`, else plain text. `override` (a format name or template dict) wins."""
        if override is not None and override != "auto":
            return cls(override)
        own = getattr(tokenizer, "response_template", None)
        if isinstance(own, Mapping):
            return cls(own)
        chat_template = getattr(tokenizer, "chat_template", None) or ""
        return cls("hermes" if "<tool_call>" in str(chat_template) else "plain")

    def parse(
        self, text: str, prefix: str = "", tools: Sequence[dict[str, Any]] | None = None
    ) -> ParsedReply:
        """`prefix` is the rendered prompt before the reply (some templates open a field in the prompt)."""
        from transformers.utils.chat_parsing import parse_response

        try:
            parsed = parse_response(text, self.template, prefix=prefix, tools=list(tools or []) or None)
        except ValueError as error:
            reason = str(error).splitlines()[0]
            return ParsedReply(
                {"role": "assistant", "content": text}, f"tool call could not be parsed: {reason}"
            )
        return _to_message(parsed, text)


def _to_message(parsed: Mapping[str, Any], text: str) -> ParsedReply:
    content = parsed.get("content")
    message: Message = {"role": "assistant", "content": content if isinstance(content, str) else ""}
    if isinstance(parsed.get("reasoning_content"), str):
        message["reasoning_content"] = parsed["reasoning_content"]  # type: ignore[typeddict-unknown-key]
    calls = parsed.get("tool_calls")
    if not calls:
        return ParsedReply(message)
    checked: list[ToolCall] = []
    for call in calls:
        function = call.get("function") if isinstance(call, Mapping) else None
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(name, str) or not name:
            message = {"role": "assistant", "content": text}
            return ParsedReply(message, "tool call could not be parsed: it has no function name")
        arguments = function.get("arguments", {}) if isinstance(function, Mapping) else {}
        checked.append({"type": "function", "function": {"name": name, "arguments": arguments}})
    message["tool_calls"] = checked
    return ParsedReply(message)
