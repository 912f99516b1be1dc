"""Retention: old runs give up their files, never what a rollback needs.

Each pipeline keeps its newest `retention.runs` runs whole (50 unless its file says). An
older run loses its directory (workspaces, logs, artifacts) and stays in the history, marked
pruned. Never pruned: a run in progress, a run an environment runs now, and the runs of the
releases a rollback can return to (the last `KEPT_RELEASES` of each environment); for a
release that came back by a rollback, the run whose artifacts it deployed.

Build caches that no action restored or saved for a week go too.

The engine prunes a pipeline after each of its runs ends; `pipedeck prune` does it for all
of them at once, or says what it would do (`--dry-run`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipedeck.engine.caches import CacheEntry, Caches
from pipedeck.engine.manifest import remove_tree
from pipedeck.store import RunRecord, Store

KEPT_RELEASES = 5
DEFAULT_RUNS = 50


@dataclass(frozen=True, slots=True)
class Pruned:
    run: RunRecord
    size: int
    """Bytes its files take (and so free)."""


CACHE_UNUSED = 7 * 86400.0
"""A build cache no action restored or saved for this long goes (GitHub's rule too): caches
belong to the repository's state directory, not to one pipeline's retention."""


@dataclass(frozen=True, slots=True)
class PrunePlan:
    runs: list[Pruned]
    kept_for_releases: list[RunRecord]
    """Older than the retention, kept because an environment runs them or may return to."""
    caches: list[CacheEntry] = field(default_factory=list)
    """Build caches unused for `CACHE_UNUSED`."""

    @property
    def size(self) -> int:
        return sum(p.size for p in self.runs) + sum(c.size for c in self.caches)


def tree_size(top: Path) -> int:
    """Bytes of every regular file under `top`, links not followed."""
    total = 0
    for folder, _, files in os.walk(top, followlinks=False):
        for name in files:
            try:
                info = os.lstat(Path(folder, name))
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                total += info.st_blocks * 512 if info.st_blocks else info.st_size
    return total


def protected(store: Store) -> set[int]:
    """Ids of runs whose files must stay: in progress, or a release rollback may need."""
    keep = {run.id for run in store.active_runs()}
    keep |= {run.rollback_of for run in store.active_runs() if run.rollback_of is not None}
    for environment in store.ledger.environments():
        for release in store.ledger.releases(environment, KEPT_RELEASES):
            run = store.run_by_id(release.run_id)
            keep.add(run.id)
            if run.rollback_of is not None:
                keep.add(run.rollback_of)
    return keep


def plan_prune(
    store: Store, keep_runs: Callable[[str], int], pipeline: str | None = None
) -> PrunePlan:
    """What pruning would remove; `keep_runs(pipeline)` says how many runs it keeps."""
    keep = protected(store)
    names = [pipeline] if pipeline else store.pipeline_names()
    pruned: list[Pruned] = []
    kept: list[RunRecord] = []
    for name in names:
        runs = store.runs(name, limit=None)
        for run in sorted(runs, key=lambda r: r.number, reverse=True)[keep_runs(name) :]:
            root = store.layout(run).root
            if run.pruned_at is not None and not os.path.lexists(root):
                continue  # done; one whose removal failed part-way is tried again
            if run.id in keep:
                kept.append(run)
                continue
            pruned.append(Pruned(run, tree_size(root) if root.exists() else 0))
    # Caches are the repository's, not one pipeline's: only a prune of them all (`pipedeck
    # prune`) reads them, not the one after each run.
    stale = [] if pipeline else Caches(store.state_dir).stale(CACHE_UNUSED, datetime.now(UTC))
    return PrunePlan(pruned, kept, stale)


def mark(store: Store, plan: PrunePlan) -> list[Pruned]:
    """Mark the planned runs pruned, first: a rollback refuses them from then on. A run that
    became needed meanwhile (a rollback started to it) is left out. Returns those marked."""
    keep = protected(store)
    marked = [item for item in plan.runs if item.run.id not in keep]
    for item in marked:
        store.mark_pruned(item.run.id)
    return marked


def remove(roots: list[Path]) -> dict[Path, str]:
    """Remove marked runs' directories (in a thread: it touches only files). One that
    cannot be removed (a file root cannot delete either: immutable, on a read-only mount)
    does not stop the others; returns each failure's reason, and the next prune tries it
    again."""
    failed: dict[Path, str] = {}
    for root in roots:
        try:
            remove_tree(root)
        except OSError as exc:
            failed[root] = f"{exc.strerror or exc}: {exc.filename or root}"
    return failed


@dataclass(frozen=True, slots=True)
class PruneResult:
    freed: int
    failed: list[str]
    """`pipeline/n: why` for each run whose files could not all be removed."""


def prune(store: Store, plan: PrunePlan) -> PruneResult:
    """Carry out `plan`."""
    marked = mark(store, plan)
    roots = {store.layout(item.run).root: item for item in marked}
    failed = remove(list(roots))
    freed = sum(item.size for root, item in roots.items() if root not in failed)
    caches = Caches(store.state_dir)
    # One being restored right now is left for the next prune (`remove` says False).
    freed += sum(entry.size for entry in plan.caches if caches.remove(entry))
    return PruneResult(freed, [f"{roots[root].run.key}: {why}" for root, why in failed.items()])


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
