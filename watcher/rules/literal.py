"""The longest literal that every match of a regex must contain: a cheap pre-check before running it."""

from __future__ import annotations

MIN_LITERAL = 3


def required_literal(pattern: str) -> str | None:
    """A case-folded literal every match contains, or None when none can be proven (alternation, ...)."""
    runs: list[str] = []
    run: list[str] = []
    i, n = 0, len(pattern)

    def end_run() -> None:
        if run:
            runs.append("".join(run))
            run.clear()

    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                return None
            nxt = pattern[i + 1]
            if nxt in "QEpPx" or nxt.isdigit():
                return None
            if nxt.isalnum():
                end_run()
            else:
                run.append(nxt)
            i += 2
        elif c == "[":
            end_run()
            i = _skip_class(pattern, i)
            if i < 0:
                return None
        elif c == "(":
            end_run()
            if pattern.startswith("(?", i) and "x" in pattern[i + 2 : pattern.find(")", i) % (n + 1)]:
                return None
            i = _skip_group(pattern, i)
            if i < 0:
                return None
        elif c in "*?":
            if run:
                run.pop()
            end_run()
            i += 1
        elif c == "{":
            close = pattern.find("}", i)
            if close < 0:
                return None
            if pattern[i + 1 : close].split(",")[0].strip() in ("0", "") and run:
                run.pop()
            end_run()
            i = close + 1
        elif c == "+":
            end_run()
            i += 1
        elif c == "|":
            return None
        elif c in ".^$)":
            end_run()
            i += 1
        else:
            run.append(c)
            i += 1
        # A quantifier after a group or class: it was already ended; skip the quantifier itself.
    end_run()
    best = max(runs, key=len, default="")
    best = best.casefold()
    return best if len(best.strip()) >= MIN_LITERAL else None


def _skip_class(pattern: str, i: int) -> int:
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern):
        if pattern[j] == "\\":
            j += 2
            continue
        if pattern[j] == "]":
            return j + 1
        j += 1
    return -1


def _skip_group(pattern: str, i: int) -> int:
    depth = 0
    j = i
    while j < len(pattern):
        c = pattern[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            j = _skip_class(pattern, j)
            if j < 0:
                return -1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return -1
