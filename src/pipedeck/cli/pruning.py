"""`prune`: old runs' files removed, what rollback needs kept, and the space it frees."""

from __future__ import annotations

import sys

import click

from pipedeck.cli.context import Options, print_json, say
from pipedeck.visible import visible


@click.command()
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def prune(opts: Options, dry_run: bool, as_json: bool) -> None:
    """Remove the files of runs older than each pipeline's `retention`.

    Their records stay in the history. The runs an environment runs now, and the last
    releases of each environment (what a rollback returns to), are kept whole. Build
    caches no action used for a week are removed too.
    """
    from pipedeck import engine

    project = opts.project()
    kept = {p.name: p.retention.runs for p in project.load().pipelines}
    plan = engine.plan_prune(project.store, lambda name: kept.get(name, engine.DEFAULT_RUNS))
    if dry_run:
        freed, failed = plan.size, []
    else:
        result = engine.prune(project.store, plan)
        freed, failed = result.freed, result.failed
    if as_json:
        print_json(
            {
                "dry_run": dry_run,
                "runs": [{"run": p.run.key, "bytes": p.size} for p in plan.runs],
                "kept_for_releases": [r.key for r in plan.kept_for_releases],
                "caches": [{"key": c.key, "bytes": c.size} for c in plan.caches],
                "freed": freed,
                "failed": failed,
            }
        )
        if failed:
            sys.exit(1)
        return
    for item in plan.runs:
        say(f"{item.run.key:<20} {engine.human_size(item.size):>10}")
    for cache in plan.caches:
        key = visible(cache.key, lines=False)
        say(f"cache {key[:60]:<54} {engine.human_size(cache.size):>10}  unused for a week")
    if plan.kept_for_releases:
        names = ", ".join(r.key for r in plan.kept_for_releases)
        say(f"kept for rollback: {names}")
    verb = "would free" if dry_run else "freed"
    runs, caches = len(plan.runs), len(plan.caches)
    counted = f"{runs} run{'s' * (runs != 1)}"
    if caches:
        counted += f", {caches} cache{'s' * (caches != 1)}"
    say(f"{verb} {engine.human_size(freed)} ({counted})")
    for why in failed:
        say(f"pipedeck: could not remove all of {why}; the next prune tries again", err=True)
    if failed:
        sys.exit(1)
