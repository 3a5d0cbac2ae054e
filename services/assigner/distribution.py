"""Spreading conversations evenly over several texters (ThruText's "distribute to all users").

Pure logic, no I/O. Each conversation goes to one of the targets; a target never receives a
conversation it already holds; the counts per target differ by at most one whenever the
holders allow it (when no conversation is held by a target, always). Linear in the number of
conversations, so a million-row reassignment is decided in well under a second.
"""

from __future__ import annotations


def distribute(holders: list[int | None], targets: list[int]) -> list[int]:
    """For each conversation, given by its current holder (None = Unassigned), its new holder."""
    if not targets:
        raise ValueError("distribute needs at least one target")
    if len(set(targets)) != len(targets):
        raise ValueError("targets must be distinct")
    target_set = set(targets)
    if len(targets) == 1 and any(h == targets[0] for h in holders):
        raise ValueError("a lone target cannot take back its own conversations")
    received = dict.fromkeys(targets, 0)
    chosen: list[int] = [0] * len(holders)
    free: list[int] = []
    # Conversations held by a target have one choice fewer: place them first, greedily.
    for index, holder in enumerate(holders):
        if holder in target_set:
            pick = min((t for t in targets if t != holder), key=received.__getitem__)
            received[pick] += 1
            chosen[index] = pick
        else:
            free.append(index)
    for index, pick in zip(free, _fill(received, len(free)), strict=True):
        chosen[index] = pick
    return chosen


def _fill(received: dict[int, int], count: int) -> list[int]:
    """`count` picks that raise the lowest counts first (water-filling), interleaved."""
    quota = dict.fromkeys(received, 0)
    levels = sorted(received.values())
    # The highest level every target can be brought up to with what there is.
    level, used = levels[0], 0
    for i in range(1, len(levels) + 1):
        ceiling = levels[i] if i < len(levels) else level + count  # enough to reach
        step = min(ceiling - level, (count - used) // i)
        level += step
        used += step * i
        if i < len(levels) and level < levels[i]:
            break
    for target, have in received.items():
        quota[target] = max(0, level - have)
    spare = count - sum(quota.values())
    for target in received:  # one more each for the lowest, in target order
        if spare == 0:
            break
        if received[target] + quota[target] == level:
            quota[target] += 1
            spare -= 1
    picks: list[int] = []
    remaining = {t: q for t, q in quota.items() if q > 0}
    while remaining:  # one round gives one to each target still owed some
        for target in list(remaining):
            picks.append(target)
            remaining[target] -= 1
            if remaining[target] == 0:
                del remaining[target]
    return picks
