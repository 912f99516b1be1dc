"""`prune`: old runs' files removed, what rollback needs kept, and the space it frees."""

from __future__ import annotations

import sys

import click

from pipedeck.cli.context import Options, print_json, say


@click.command()
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def prune(opts: Options, dry_run: bool, as_json: bool) -> None:
    """Remove the files of runs older than each pipeline's `retention`.

    Their records stay in the history. The runs an environment runs now, and the last
    releases of each environment (what a rollback returns to), are kept whole.
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
                "freed": freed,
                "failed": failed,
            }
        )
        if failed:
            sys.exit(1)
        return
    for item in plan.runs:
        say(f"{item.run.key:<20} {engine.human_size(item.size):>10}")
    if plan.kept_for_releases:
        names = ", ".join(r.key for r in plan.kept_for_releases)
        say(f"kept for rollback: {names}")
    verb = "would free" if dry_run else "freed"
    runs = len(plan.runs)
    say(f"{verb} {engine.human_size(freed)} ({runs} run{'s' * (runs != 1)})")
    for why in failed:
        say(f"pipedeck: could not remove all of {why}; the next prune tries again", err=True)
    if failed:
        sys.exit(1)
