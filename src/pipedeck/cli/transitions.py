"""`transition`: holding runs before a stage, and letting them go on."""

from __future__ import annotations

import click

from pipedeck import engine
from pipedeck.cli.context import Options, fail, say


@click.group()
def transition() -> None:
    """Hold runs before a stage (disable) or let them go on (enable)."""


def _stage_of(opts: Options, pipeline: str, stage: str) -> None:
    # The stage names come from the pipeline file: only here does `transition` load one.
    definition = opts.project().pipeline(pipeline)
    names = [s.name for s in definition.stages]
    if stage not in names:
        fail(f"{pipeline} has no stage {stage!r} (stages: {', '.join(names)})")
    if stage == names[0]:
        fail(f"{stage} is the first stage of {pipeline}; there is no transition into it")


@transition.command()
@click.argument("pipeline")
@click.argument("stage")
@click.option("--reason", required=True, help="Why (shown where runs wait).")
@click.pass_obj
def disable(opts: Options, pipeline: str, stage: str, reason: str) -> None:
    """Stop runs of PIPELINE before STAGE until the transition is enabled."""
    _stage_of(opts, pipeline, stage)
    engine.disable_transition(opts.client().store, pipeline, stage, reason)
    say(f"{pipeline}: transition into {stage} disabled ({reason})")


@transition.command()
@click.argument("pipeline")
@click.argument("stage")
@click.pass_obj
def enable(opts: Options, pipeline: str, stage: str) -> None:
    """Let runs of PIPELINE into STAGE again; the newest waiting run goes on."""
    _stage_of(opts, pipeline, stage)
    if not engine.enable_transition(opts.client().store, pipeline, stage):
        say(f"{pipeline}: transition into {stage} was not disabled")
        return
    say(f"{pipeline}: transition into {stage} enabled")


@transition.command(name="list")
@click.argument("pipeline", required=False)
@click.pass_obj
def list_transitions(opts: Options, pipeline: str | None) -> None:
    """Disabled transitions (of PIPELINE, or of every pipeline)."""
    disabled = opts.client().store.transitions.listed(pipeline)
    for t in disabled:
        say(
            f"{t.pipeline}: into {t.stage} disabled by {t.disabled_by} at {t.disabled_at}:"
            f" {t.reason}"
        )
    if not disabled:
        say("no disabled transitions")
