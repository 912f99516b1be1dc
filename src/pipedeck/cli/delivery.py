"""`environments`, `deployments`, `environment set`: what is deployed where, and the rules."""

from __future__ import annotations

import click

from pipedeck import engine
from pipedeck.cli.context import Options, print_json, say
from pipedeck.cli.history import duration
from pipedeck.store import Deployment


def _when(stamp: str | None) -> str:
    return (stamp or "")[:16].replace("T", " ")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="A JSON array, one object per environment.")
@click.pass_obj
def environments(opts: Options, as_json: bool) -> None:
    """Every environment: what it runs now, how far behind it is, what is on its way."""
    project = opts.project()
    views = engine.environments(project.store, project.repo, project.load().pipelines)
    if as_json:
        print_json([v.to_dict() for v in views])
        return
    if not views:
        say("no environments yet: a deploy action names one (environment: production)")
        return
    width = max(len(v.name) for v in views)
    for view in views:
        current = view.current
        if current is None:
            release = "nothing deployed yet"
        else:
            by = f" by {current.approved_by}" if current.approved_by else ""
            back = " (rollback)" if current.rollback else ""
            release = (
                f"#{current.sequence} {current.commit[:7]} {current.run_key}"
                f" {_when(current.finished_at)}{by}{back}  {current.commit_subject[:40]}"
            )
        say(f"{view.name:<{width}}  {release}")
        facts = [f"approval {view.approval.value}"]
        if view.setting is not None:
            facts[0] += f" (set by {view.setting.set_by} {_when(view.setting.set_at)})"
        if view.behind:
            facts.append(f"{view.behind} commit{'s' * (view.behind != 1)} behind")
        elif view.behind == 0:
            facts.append("up to date")
        if view.on_the_way:
            facts.append(f"on the way: {', '.join(view.on_the_way)}")
        say(f"{'':<{width}}  " + " · ".join(facts))
        if view.rules_differ:
            # Each deploy obeys its own pipeline's rules: one line cannot say them all.
            names = ", ".join(view.rules_differ)
            say(f"{'':<{width}}  rules differ between {names}: each deploy obeys its own file's")


@click.command()
@click.argument("environment", required=False)
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="At most this many deploys.",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON array, newest first.")
@click.pass_obj
def deployments(opts: Options, environment: str | None, limit: int, as_json: bool) -> None:
    """Every deploy (to ENVIRONMENT, or anywhere), newest first."""
    entries = opts.client().store.ledger.history(environment, limit=limit)
    if as_json:
        print_json([d.to_dict() for d in entries])
        return
    if not entries:
        say("no deploys yet" + (f" to {environment}" if environment else ""))
        return
    for entry in entries:
        say(_line(entry))


def _line(d: Deployment) -> str:
    number = f"#{d.sequence}" if d.sequence is not None else "-"
    by = f"  by {d.approved_by}" if d.approved_by else ""
    back = "  rollback" if d.rollback else ""
    return (
        f"{d.environment} {number:<4} {d.status.look.icon} {d.status.look.words:<10}"
        f" {d.commit[:7]}  {d.run_key}  {_when(d.started_at)}"
        f" {duration(d.started_at, d.finished_at):>6}{by}{back}  {d.commit_subject[:40]}"
    )


@click.group()
def environment() -> None:
    """Change an environment's rules without editing the pipeline file."""


@environment.command(name="set")
@click.argument("name")
@click.option(
    "--approval",
    type=click.Choice(["required", "none"]),
    required=True,
    help="required: a person approves each deploy (delivery); none: deploys go (deployment).",
)
@click.pass_obj
def set_environment(opts: Options, name: str, approval: str) -> None:
    """Switch NAME between continuous delivery and continuous deployment."""
    setting = engine.set_approval(opts.project(), name, approval)
    say(f"{name}: approval {setting.approval} (set by {setting.set_by} at {setting.set_at})")


@click.command()
@click.argument("pipeline")
@click.argument("stage")
@click.option(
    "--to",
    "to",
    metavar="RUN",
    default=None,
    help="The run to return to (default: the last one before the current release).",
)
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON Lines.")
@click.pass_obj
def rollback(opts: Options, pipeline: str, stage: str, to: str | None, as_json: bool) -> None:
    """Run STAGE of PIPELINE again with an earlier run's commit and artifacts.

    Nothing is built again: the stage's actions get the artifacts that run made. Exit 0 if
    the rollback succeeds.
    """
    import asyncio
    import sys

    from pipedeck.cli import handoff
    from pipedeck.cli.foreground import run_in_foreground
    from pipedeck.store import Status

    project = opts.project()
    target = opts.find_run(to if "/" in to else f"{pipeline}/{to}") if to is not None else None
    definition = project.pipeline(pipeline)
    lock = handoff.engine_or_hand_over(
        project,
        "rollback",
        lambda: engine.request_rollback(project.store, pipeline, stage, target),
        as_json,
    )
    try:
        result = asyncio.run(
            run_in_foreground(
                project,
                None,
                "",
                {},
                as_json,
                begin=lambda eng: eng.rollback(definition, stage, target),
            )
        )
    finally:
        lock.release()
    sys.exit(0 if result.status is Status.SUCCEEDED else 1)
