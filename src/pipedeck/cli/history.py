"""`runs`, `show`, `logs`: reading the history any engine left in the store."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from pipedeck.cli.context import Options, fail, print_json, say
from pipedeck.engine import engine_alive, recover
from pipedeck.store import WORKING_TREE, ActionDetail, RunDetail, RunRecord, StageRecord, Store
from pipedeck.store.db import parse_time
from pipedeck.store.logs import LogTail
from pipedeck.store.results import in_words
from pipedeck.terminal import for_terminal, prefix_lines, shown_for
from pipedeck.visible import visible


def duration(started: str | None, finished: str | None) -> str:
    if not started:
        return ""
    end = parse_time(finished) if finished else datetime.now(UTC)
    seconds = (end - parse_time(started)).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


@click.command()
@click.argument("pipeline", required=False)
@click.option("--limit", default=50, show_default=True, help="At most this many runs.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, newest first.")
@click.pass_obj
def runs(opts: Options, pipeline: str | None, limit: int, as_json: bool) -> None:
    """List runs, newest first."""
    store = opts.client().store
    records = store.runs(pipeline, limit=limit)
    # What the runs' test reports counted: one query for them all.
    tests = store.results.counts([r.id for r in records])
    if as_json:
        print_json([{**r.to_dict(), "tests": tests.get(r.id, {})} for r in records])
        return
    if not records:
        say("no runs yet" + (f" of {pipeline}" if pipeline else ""))
        return
    width = max(len(r.key) for r in records)
    said = {r.id: in_words(tests.get(r.id, {})) for r in records}
    tests_width = max(len(words) for words in said.values())
    for r in records:
        counted = f"{said[r.id]:<{tests_width}}  " if tests_width else ""
        say(
            f"{r.key:<{width}}  {r.status.look.icon} {r.status.look.words:<11}  {counted}"
            f"{r.commit[:7]}  {(r.branch or '-'):<12}  "
            f"{r.created_at[:19].replace('T', ' ')}  "
            f"{duration(r.started_at, r.finished_at):>7}  {r.commit_subject[:40]}"
            + ("  (rollback)" if r.kind == "rollback" else "")
            + ("  (pruned)" if r.pruned_at else "")
        )


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def show(opts: Options, run_ref: str, as_json: bool) -> None:
    """Show RUN (PIPELINE/N, or PIPELINE for its latest): stages, actions, decisions."""
    run = opts.find_run(run_ref)
    detail = opts.client().store.detail(run)
    if as_json:
        print_json(detail.to_dict())
        return
    took = duration(run.started_at, run.finished_at)
    lines = [f"{run.key}  {run.status.look.icon} {run.status.look.words}  {took}".rstrip()]
    lines.append(f"commit {run.commit} ({run.branch or 'detached'}) {run.commit_subject}")
    if run.definition_origin == WORKING_TREE:
        lines.append(f"file   {run.definition_path} from the working tree, not as committed")
    if run.kind == "rollback":
        lines.append(f"kind   rollback ({run.trigger}): its artifacts, nothing built again")
    if run.pruned_at:
        lines.append(f"pruned {run.pruned_at}: its logs and artifacts are gone (retention)")
    if run.error:
        lines.append(f"error  {run.error}")
    for stage in detail.stages:
        s = stage.stage
        took = duration(s.started_at, s.finished_at)
        lines.append(f"\n{s.status.look.icon} {s.name}  {s.status.look.words}  {took}".rstrip())
        lines.extend("  " + _action_line(a) for a in stage.actions)
    # Subjects, errors and comments are the repository's words: shown, never obeyed.
    say("\n".join(lines))


def _action_line(detail: ActionDetail) -> str:
    a = detail.action
    # A label comes from matrix values in the file: one line, whatever they hold.
    kind = f"{a.kind}, {visible(a.label)}" if a.label else a.kind
    parts = [f"{a.status.look.icon} [{a.run_order}] {a.name} ({kind})  {a.status.look.words}"]
    if a.started_at:
        parts.append(duration(a.started_at, a.finished_at))
    if a.exit_code is not None:
        parts.append(f"exit {a.exit_code}")
    if detail.artifacts:
        parts.append("→ " + ", ".join(detail.artifacts))
    if a.environment:
        parts.append(f"⇒ {a.environment}")
    line = "  ".join(parts)
    if a.hold:
        line += f"\n      {a.hold}"
    if detail.approval and (decision := detail.approval.decision()):
        said = f": {decision['comment']}" if decision["comment"] else ""
        who = decision["by"] + (f" <{decision['email']}>" if decision["email"] else "")
        line += f"\n      {decision['result']} by {who} at {decision['at']}{said}"
    elif a.error:
        line += f"\n      {a.error}"
    return line


def _select(detail: RunDetail, which: str | None) -> list[tuple[StageRecord, ActionDetail]]:
    pairs = detail.actions()
    if which is None:
        return pairs
    stage, _, action = which.rpartition("/")
    chosen = [
        (s, a) for s, a in pairs if a.action.name == action and (not stage or s.name == stage)
    ]
    if len(chosen) != 1:
        names = ", ".join(f"{s.name}/{a.action.name}" for s, a in pairs)
        fail(f"{which!r} names {'no' if not chosen else 'more than one'} action (actions: {names})")
    return chosen


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.argument("which", metavar="[STAGE/ACTION]", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the run ends.")
@click.option(
    "--raw", is_flag=True, help="Pass the log's bytes on as they are, also to a terminal."
)
@click.pass_obj
def logs(opts: Options, run_ref: str, which: str | None, follow: bool, raw: bool) -> None:
    """Print the logs of RUN, or of one of its actions.

    To a terminal, a log keeps its colours and loses every other escape sequence (titles,
    clipboard, cursor moves, clearing the screen); to a pipe or a file it is byte-exact.
    """
    store = opts.client().store
    run = opts.find_run(run_ref)
    if run.pruned_at is not None:
        fail(f"the logs of {run.key} were pruned at {run.pruned_at} (retention); its record stays")
    single = which is not None
    shown = (lambda text: text) if raw else shown_for(sys.stdout)
    if not follow:
        for stage, action in _select(store.detail(run), which):
            if action.action.log_path:
                prefix = None if single else f"{stage.name}/{action.action.name} | "
                _dump(Path(action.action.log_path), prefix, raw or shown is not for_terminal)
        return
    _follow(store, run, which, shown)


def _dump(path: Path, prefix: str | None, exact: bool) -> None:
    if not path.exists():
        return
    if prefix is None and exact:
        with path.open("rb") as f:
            shutil.copyfileobj(f, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        # Whole lines about a megabyte at a time: memory stays flat whatever the log's size.
        while lines := f.readlines(1 << 20):
            text = "".join(lines) if exact else for_terminal("".join(lines))
            sys.stdout.write(text if prefix is None else prefix_lines(prefix, text))


def _follow(store: Store, run: RunRecord, which: str | None, shown: Callable[[str], str]) -> None:
    tails: dict[int, LogTail] = {}
    said_left = False
    while True:
        current = store.run_by_id(run.id)
        if current.status.active and not engine_alive(store.state_dir, current.engine_id):
            if store.idle(current.id):
                # Left waiting by an engine that stopped: it goes on when one takes it up.
                if not said_left:
                    said_left = True
                    say(f"pipedeck: {current.key} waits with no engine running it", err=True)
            else:
                # Its engine died while we watched: settle the run rather than wait forever.
                recover(store)
                current = store.run_by_id(run.id)
        finished = not current.status.active
        for stage, action in _select(store.detail(current), which):
            if not action.action.log_path:
                continue
            tail = tails.setdefault(action.action.id, LogTail(Path(action.action.log_path)))
            lines = tail.read_new(final=finished)
            if lines:
                text = shown("\n".join(lines) + "\n")
                sys.stdout.write(
                    text if which else prefix_lines(f"{stage.name}/{action.action.name} | ", text)
                )
        sys.stdout.flush()
        if finished:
            say(f"==> {current.key} {current.status.look.words}", err=True)
            return
        time.sleep(0.1)
