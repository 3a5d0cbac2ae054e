from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.assigner.distribution import distribute


def test_seed_002_six_unassigned_to_two_users_gives_three_each() -> None:
    assert Counter(distribute([None] * 6, [11, 12])) == {11: 3, 12: 3}


def test_a_target_never_gets_its_own_conversations_back() -> None:
    moved = distribute([11, 11, 11, 12], [11, 12])
    assert moved[:3] == [12, 12, 12]
    assert moved[3] == 11


def test_a_lone_target_cannot_take_back_its_own() -> None:
    with pytest.raises(ValueError, match="lone target"):
        distribute([11], [11])


@given(
    holders=st.lists(st.one_of(st.none(), st.integers(100, 105)), max_size=200),
    targets=st.lists(st.integers(1, 20), min_size=1, max_size=8, unique=True),
)
def test_outside_holders_are_spread_within_one(
    holders: list[int | None], targets: list[int]
) -> None:
    # Holders 100..105 are never targets here, so perfect balance is always possible.
    moved = distribute(holders, targets)
    counts = Counter(moved)
    per_target = [counts.get(t, 0) for t in targets]
    assert len(moved) == len(holders)
    assert max(per_target) - min(per_target) <= 1


@given(
    holders=st.lists(st.one_of(st.none(), st.integers(1, 6)), max_size=200),
    targets=st.lists(st.integers(1, 6), min_size=2, max_size=6, unique=True),
)
def test_targets_holding_conversations_never_receive_them(
    holders: list[int | None], targets: list[int]
) -> None:
    moved = distribute(holders, targets)
    assert all(new != old for new, old in zip(moved, holders, strict=True))
    assert set(moved) <= set(targets)


@given(
    holders=st.lists(st.one_of(st.none(), st.integers(1, 6)), max_size=300),
    targets=st.lists(st.integers(1, 6), min_size=2, max_size=6, unique=True),
)
def test_balance_matches_a_one_at_a_time_greedy(
    holders: list[int | None], targets: list[int]
) -> None:
    """The fast fill ends exactly as balanced as handing out one conversation at a time."""
    received = dict.fromkeys(targets, 0)
    order = sorted(range(len(holders)), key=lambda i: holders[i] not in set(targets))
    for i in order:
        pick = min((t for t in targets if t != holders[i]), key=received.__getitem__)
        received[pick] += 1
    counts = Counter(distribute(holders, targets))
    spread = max(counts.get(t, 0) for t in targets) - min(counts.get(t, 0) for t in targets)
    assert spread <= max(received.values()) - min(received.values())
