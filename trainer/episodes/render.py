"""Token-exact multi-turn context: sampled ids are kept, only the environment's new messages are tokenised.

After the model's reply, the chat template renders the conversation twice: up to the reply, and with the new
messages plus the next generation prompt. When the second starts with the first (up to the reply's
end-of-turn token) the template is append-only there, and the tokens of the difference are appended to the
ids the model actually saw and sampled. When it does not (a thinking template that strips earlier `<think>`
blocks once a new user message arrives), there is no exact continuation: the caller starts a new training
sample from the full render, as the model would see the conversation at inference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rewardkit.types import Message


class TurnRenderer:
    """Renders prompts and bridges turns with the model's own chat template (and template settings)."""

    def __init__(
        self,
        tokenizer: Any,
        chat_template: str | None = None,
        chat_template_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        self.kwargs = dict(chat_template_kwargs or {})

    def text(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]], generation_prompt: bool
    ) -> str:
        rendered = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages],
            tools=list(tools) or None,  # None: some templates render a tools preamble even for []
            add_generation_prompt=generation_prompt,
            tokenize=False,
            chat_template=self.chat_template,
            **self.kwargs,
        )
        return str(rendered)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_ids(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> list[int]:
        """The ids of `messages` followed by the assistant's generation prompt (a turn's full render)."""
        return self.encode(self.text(messages, tools, generation_prompt=True))

    def bridge(
        self,
        history: Sequence[Message],
        new: Sequence[Message],
        reply_ids: Sequence[int],
        tools: Sequence[dict[str, Any]],
    ) -> list[int] | None:
        """Ids that follow the sampled `reply_ids` to present `new` and open the next reply; None when the
        template is not append-only here (or the reply did not end with an end-of-turn token)."""
        if not reply_ids:
            return None
        end_of_turn = self.tokenizer.decode([reply_ids[-1]])
        before = self.text(history, tools, generation_prompt=False)
        cut = before.rfind(end_of_turn) if end_of_turn.strip() else -1
        if cut < 0:
            return None
        anchor = before[: cut + len(end_of_turn)]
        after = self.text([*history, *new], tools, generation_prompt=True)
        if not after.startswith(anchor):
            return None
        return self.encode(after[len(anchor) :])
