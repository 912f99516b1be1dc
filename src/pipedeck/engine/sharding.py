"""Splitting test files across shards so they end together.

Each file weighs what its tests took in the last run that reported them (JUnit classnames
name a test's module: `tests.api.test_users.TestLogin` comes from `tests/api/test_users.py`).
A file no report names weighs the mean of those that are named; with no history at all,
files weigh their size. Then greedy longest-first: the heaviest file goes to the lightest
shard, and so on. Sorting by (weight, path) and breaking load ties by shard number makes the
split the same for the same inputs, so a shard retried in its run gets the files it had.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class Plan:
    shards: list[list[str]]
    """Each shard's files (shard 1 first), in the order given."""
    loads: list[float]
    """Each shard's expected seconds (or bytes, when split by size)."""
    by: str
    """`timings`, `timings and the mean` (some files never seen) or `size`."""


def module_parts(path: str) -> tuple[str, ...]:
    """`tests/api/test_users.py` → (`tests`, `api`, `test_users`)."""
    pure = PurePosixPath(path.replace("\\", "/"))
    parts = [p for p in pure.parts if p not in ("", ".", "/")]
    if parts and parts[-1].endswith(".py"):
        parts[-1] = parts[-1][: -len(".py")]
    return tuple(parts)


def file_times(files: Sequence[str], by_classname: Mapping[str, float]) -> dict[str, float]:
    """Seconds per file, for the files some classname names. A classname names the file
    whose module is the longest run of its dotted parts (a rootdir above the working
    directory adds a prefix; a class adds a suffix)."""
    modules = {".".join(module_parts(f)): f for f in files}
    times: dict[str, float] = {}
    for classname, seconds in by_classname.items():
        parts = classname.split(".")
        found = None
        for length in range(len(parts), 0, -1):
            for start in range(len(parts) - length + 1):
                found = modules.get(".".join(parts[start : start + length]))
                if found is not None:
                    break
            if found is not None:
                break
        if found is not None:
            times[found] = times.get(found, 0.0) + seconds
    return times


def split_files(
    files: Sequence[str],
    shards: int,
    by_classname: Mapping[str, float],
    sizes: Mapping[str, int],
) -> Plan:
    """Every file in exactly one of `shards` shards (duplicates once)."""
    unique = list(dict.fromkeys(files))
    times = file_times(unique, by_classname)
    if times:
        mean = sum(times.values()) / len(times)
        weights = {f: times.get(f, mean) for f in unique}
        by = "timings" if len(times) == len(unique) else "timings and the mean"
    else:
        weights = {f: float(sizes.get(f, 0)) for f in unique}
        by = "size"
    chosen: dict[str, int] = {}
    loads = [0.0] * shards
    heap = [(0.0, index) for index in range(shards)]
    for path in sorted(unique, key=lambda f: (-weights[f], f)):
        load, index = heapq.heappop(heap)
        chosen[path] = index
        loads[index] = load + weights[path]
        heapq.heappush(heap, (loads[index], index))
    split: list[list[str]] = [[] for _ in range(shards)]
    for path in unique:
        split[chosen[path]].append(path)
    return Plan(split, loads, by)
