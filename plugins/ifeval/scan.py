"""Linear-time equivalents of reference IFEval regexes that backtrack quadratically on hostile input.

Each function returns exactly what the named `re` expression returns on ordinary text (checked by the
fuzz tests against `re` itself), but scans each character a bounded number of times, so a megabyte of
whitespace, brackets or `<<` costs milliseconds instead of hours.
"""

from __future__ import annotations


def count_bullets(text: str, marker: str, forbid_next: str | None) -> int:
    """len(re.findall(r"^\\s*" + marker + "[^" + forbid_next + "].*$" , text, re.M)), or with
    `forbid_next=None`, the pattern `^\\s*` + marker + `.*$`."""
    n, count, pos = len(text), 0, 0
    while pos <= n:
        start = pos if pos == 0 or text[pos - 1] == "\n" else _next_line(text, pos)
        if start < 0 or start > n:
            break
        q = start
        while q < n and text[q].isspace():
            q += 1
        matched = q < n and text[q] == marker
        if matched and forbid_next is not None:
            matched = q + 1 < n and text[q + 1] != forbid_next
        if not matched:
            pos = _next_line(text, q)
            if pos < 0:
                break
            continue
        count += 1
        # `[^*]` may consume a newline, after which `.*` runs to the end of the following line
        end = text.find("\n", q + 2 if forbid_next is not None else q + 1)
        pos = n + 1 if end < 0 else end
    return count


def _next_line(text: str, pos: int) -> int:
    newline = text.find("\n", pos)
    return -1 if newline < 0 else newline + 1


def count_placeholders(text: str) -> int:
    """len(re.findall(r"\\[.*?\\]", text)): brackets closed on the same line."""
    count = 0
    for line in text.split("\n"):
        pos = 0
        while True:
            opening = line.find("[", pos)
            if opening < 0:
                break
            closing = line.find("]", opening + 1)
            if closing < 0:
                break
            count += 1
            pos = closing + 1
    return count


def titles(text: str) -> list[str]:
    """re.findall(r"<<[^\\n]+>>", text): per line, the first `<<` to the last `>>` (greedy)."""
    found = []
    for line in text.split("\n"):
        start = line.find("<<")
        end = line.rfind(">>")
        if start >= 0 and end >= start + 3:
            found.append(line[start : end + 2])
    return found
