"""Finding the program in a model completion."""

from __future__ import annotations

import re

FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
PYTHON_TAGS = {"python", "py", "python3", ""}


def extract_code(completion: str, mode: str = "last_block") -> str:
    """The last ```python (or untagged) fenced block; without fences, the whole completion.

    mode "whole" always takes the completion as is. Leading indentation is kept: a HumanEval-style
    completion is a function body that continues the prompt.
    """
    if mode == "whole":
        return completion
    blocks = [(tag.lower(), body) for tag, body in FENCE.findall(completion)]
    python = [body for tag, body in blocks if tag in PYTHON_TAGS]
    if python:
        return python[-1]
    return completion if not blocks else ""
