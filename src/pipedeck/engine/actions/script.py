"""`build`, `test`, `deploy`, `invoke`: a bash script in a fresh workspace.

The workspace is a writable copy of the first input artifact (CodeBuild's primary source,
`$PIPEDECK_INPUT_<FIRST>` names it too); every other input is a read-only copy of its own at
`$PIPEDECK_INPUT_<NAME>`. Every declared output gets `$PIPEDECK_OUTPUT_<NAME>`, an empty
directory that becomes the artifact. Outputs with `paths` are collected from the workspace
after the script succeeds. Copies are checked against the artifacts' manifests as they are
made, and when the action ends every sealed artifact of the run is checked again: an action
that wrote into one fails, with the file named.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from pipedeck.definition.references import RESERVED_PREFIX
from pipedeck.engine.actions import caching
from pipedeck.engine.actions.base import ActionFailure, Outcome, log_path, write_log
from pipedeck.engine.artifacts import (
    ArtifactError,
    changed,
    collect,
    hand_out,
    inside,
    remove_tree,
    seal,
)
from pipedeck.engine.artifacts import env_suffix as suffix
from pipedeck.engine.context import ActionJob, RunContext
from pipedeck.engine.events import LogLines
from pipedeck.engine.markers import ACTION_TOKEN_VAR
from pipedeck.engine.masking import Masker
from pipedeck.engine.process import run_script
from pipedeck.engine.secrets import SecretError, resolve
from pipedeck.engine.variables import read_variables_file
from pipedeck.store import Status, space
from pipedeck.store.space import DISK_FULL, is_disk_full


def _workspace(ctx: RunContext, job: ActionJob) -> Path:
    """The workspace and the private input copies, each checked against its manifest."""
    work = ctx.layout.work(job.stage.name, job.action.name)
    remove_tree(work)
    inputs = job.action.inputs
    if inputs:
        hand_out(ctx.artifacts[inputs[0]], work, writable=True)
    else:
        work.mkdir(parents=True)
    for name in inputs[1:]:
        copy = ctx.layout.inputs(job.stage.name, job.action.name, name)
        remove_tree(copy)
        hand_out(ctx.artifacts[name], copy, writable=False)
    return work


def _input_path(ctx: RunContext, job: ActionJob, name: str, work: Path) -> Path:
    if name == job.action.inputs[0]:
        return work
    return ctx.layout.inputs(job.stage.name, job.action.name, name)


def _tampered(artifacts: list[tuple[str, Path]]) -> str | None:
    """Which sealed artifact of the run no longer matches its manifest, and where."""
    for name, artifact in artifacts:
        where = changed(artifact)
        if where is not None:
            return f"artifact {name!r} was changed while this action ran: {where}"
    return None


def _cwd(work: Path, working_directory: str | None) -> Path:
    if not working_directory:
        return work
    cwd = (work / working_directory).resolve()
    if not inside(cwd, work.resolve()):
        raise ActionFailure(f"working_directory {working_directory!r} is outside the workspace")
    cwd.mkdir(parents=True, exist_ok=True)
    return cwd


def _secrets(ctx: RunContext, job: ActionJob) -> dict[str, str]:
    """The values of the secrets this action lists, resolved now (never stored)."""
    declared = ctx.pipeline.secrets
    try:
        return {
            name: resolve(name, declared[name], ctx.repo.root, os.environ)
            for name in job.action.secrets
        }
    except SecretError as exc:
        raise ActionFailure(str(exc)) from None


def _environment(ctx: RunContext, job: ActionJob, work: Path) -> dict[str, str]:
    env = ctx.base_env(job.stage, job.action)
    variables = ctx.variables_of(job.action)
    # Where a secret comes from is no action's to read: only those that list it get it.
    for secret in ctx.pipeline.secrets.values():
        if secret.env is not None:
            env.pop(secret.env, None)
    env["PIPEDECK_WORKSPACE"] = str(work)
    variables_file = work.parent / f".{job.action.name}.variables"
    variables_file.unlink(missing_ok=True)
    env["PIPEDECK_VARIABLES_FILE"] = str(variables_file)
    for name in job.action.inputs:
        env[f"PIPEDECK_INPUT_{suffix(name)}"] = str(_input_path(ctx, job, name, work))
    for output in job.action.outputs:
        if not output.paths:
            env[f"PIPEDECK_OUTPUT_{suffix(output.name)}"] = str(ctx.layout.staging(output.name))
    for key, value in {**ctx.pipeline.env, **job.action.env}.items():
        # Refused by validation already; never let one through to override the engine's own.
        if not key.startswith(RESERVED_PREFIX):
            env[key] = variables.resolve(value)
    return env


def _describe_exit(code: int | None) -> tuple[int | None, str | None]:
    """Shell convention: killed by signal N is 128+N."""
    if code is None or code >= 0:
        return code, None if code == 0 else f"exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:  # real-time signals have no name
        name = f"signal {-code}"
    return 128 - code, f"killed by {name}"


async def run_script_action(ctx: RunContext, job: ActionJob) -> Outcome:
    action = job.action
    script, references = ctx.variables_of(action).resolve_for_shell(action.run or "")
    # Before anything is made for it: a secret that cannot be had fails the action unstarted.
    secrets = await asyncio.to_thread(_secrets, ctx, job)
    masker = Masker(secrets.values()) if secrets else None
    try:
        work = await asyncio.to_thread(_workspace, ctx, job)
    except ArtifactError as exc:
        raise ActionFailure(str(exc)) from None
    cwd = _cwd(work, action.working_directory)
    cache_key = None
    if action.cache is not None:
        cache_key = await asyncio.to_thread(caching.restore, ctx, job, action.cache, work)
    env = {**_environment(ctx, job, work), **references, **secrets}
    for output in action.outputs:
        staging = ctx.layout.staging(output.name)
        remove_tree(staging)
        if not output.paths:
            staging.mkdir(parents=True)
    timeout = action.timeout or ctx.settings.default_timeout

    fields = ctx.event_fields()
    publish = ctx.bus.publish

    def on_lines(chunk: bytes) -> None:
        if ctx.bus.wants_logs:
            text = chunk.decode("utf-8", errors="replace")
            publish(LogLines(**fields, stage=job.stage.name, action=action.name, text=text))

    result = await run_script(
        script,
        cwd=cwd,
        env=env,
        log_path=log_path(ctx, job),
        on_lines=on_lines,
        on_start=lambda pid: ctx.store.set_action_pid(job.record.id, pid),
        timeout=timeout,
        cancel=job.halt or ctx.cancel,
        grace=ctx.settings.kill_grace,
        spawn_lock=ctx.spawning,
        marker=f"{ACTION_TOKEN_VAR}={ctx.action_token(job.stage, action)}",
        masker=masker,
    )
    code, why = _describe_exit(result.exit_code)
    if result.write_error is not None:
        if is_disk_full(result.write_error):
            space.release(ctx.store.state_dir)
            return Outcome(Status.FAILED, code, f"{DISK_FULL}: its log could not be written")
        return Outcome(Status.FAILED, code, f"its log could not be written: {result.write_error}")
    # Before anything else: an action that wrote into a sealed artifact fails, whatever it
    # exited with, and is named (the next copy of it would fail too, without saying who).
    # A copy, taken here: a parallel action's artifacts join the run's while this looks.
    sealed = list(ctx.artifacts.items())
    if (tampered := await asyncio.to_thread(_tampered, sealed)) is not None:
        write_log(ctx, job, f"pipedeck: {tampered}\n")
        return Outcome(Status.FAILED, code, tampered)
    if result.cancelled:
        write_log(ctx, job, "pipedeck: cancelled\n")
        return Outcome(Status.CANCELLED, code, "cancelled")
    if result.timed_out:
        write_log(ctx, job, f"pipedeck: timed out after {timeout:g}s\n")
        return Outcome(Status.TIMED_OUT, code, f"timed out after {timeout:g}s")
    if code != 0:
        return Outcome(Status.FAILED, code, why)
    try:
        produced = await asyncio.to_thread(_collect_outputs, ctx, job, work)
        variables_file = Path(env["PIPEDECK_VARIABLES_FILE"])
        exported = read_variables_file(variables_file)
        # Read once and gone: what it said is kept (masked) with the action, not on disk.
        await asyncio.to_thread(variables_file.unlink, missing_ok=True)
        if masker is not None:  # exported variables are stored and shown: never a secret
            exported = {key: masker.text(value) for key, value in exported.items()}
        ctx.variables.set_namespace(action.name, exported)
        # Kept with the action, so a retry of a later stage still resolves `#{action.NAME}`.
        ctx.store.set_action_variables(job.record.id, exported)
    except ArtifactError as exc:
        raise ActionFailure(str(exc)) from None
    if action.cache is not None and cache_key is not None:
        await asyncio.to_thread(caching.save, ctx, job, action.cache, cache_key, work)
    return Outcome(Status.SUCCEEDED, code, artifacts=tuple(produced))


def _collect_outputs(ctx: RunContext, job: ActionJob, work: Path) -> list[str]:
    produced = []
    for output in job.action.outputs:
        staging = ctx.layout.staging(output.name)
        if output.paths:
            collect(work, output.paths, staging)
        seal(staging, ctx.layout.artifact(output.name))
        produced.append(output.name)
    return produced
