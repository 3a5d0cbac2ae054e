"""Spreading conversations evenly over several texters (ThruText's "distribute to all users").

Pure logic, no I/O. Each conversation goes to one of the targets; a target never receives a
conversation it already holds; the counts per target differ by at most one whenever the
holders allow it (when no conversation is held by a target, always).
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
    chosen: list[int | None] = [None] * len(holders)
    # Conversations held by a target have one choice fewer: place them first.
    order = sorted(range(len(holders)), key=lambda i: (holders[i] not in target_set, i))
    for index in order:
        holder = holders[index]
        eligible = [t for t in targets if t != holder]
        pick = min(eligible, key=lambda t: received[t])
        received[pick] += 1
        chosen[index] = pick
    return [c for c in chosen if c is not None]
