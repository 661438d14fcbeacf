"""`format.tag_count`: partial credit per well-placed tag (open-r1's `tag_count_reward`)."""

from __future__ import annotations

from typing import Any

from rewardkit.plugins.format.tags import close_tag, open_tag


def tag_count(
    sample: Any,
    completion: str,
    think_tag: str = "think",
    answer_tag: str = "answer",
    think_opened: bool = False,
    newlines: bool = False,
) -> float:
    """Share of the four tags that occur exactly once and after the previous tag (0, .25, … 1).

    `newlines=True` reproduces open-r1 exactly: each tag must sit on its own line ("<think>\\n",
    "\\n</think>\\n", "\\n<answer>\\n", "\\n</answer>"). With `think_opened` the template emitted the
    opening think tag, so it is credited when the completion does not repeat it.
    """
    tags = [open_tag(think_tag), close_tag(think_tag), open_tag(answer_tag), close_tag(answer_tag)]
    if newlines:
        tags = [tags[0] + "\n", "\n" + tags[1] + "\n", "\n" + tags[2] + "\n", "\n" + tags[3]]
    credit, previous = 0, -1
    for index, tag in enumerate(tags):
        if index == 0 and think_opened:
            credit += completion.count(open_tag(think_tag)) == 0
            previous = 0
            continue
        position = completion.find(tag)
        if position >= 0 and position >= previous and completion.count(tag) == 1:
            credit += 1
            previous = position
    return credit / len(tags)
