"""Secrets: resolved when an action that lists them starts, and found in no record of the run."""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from pathlib import Path

import pytest

from pipedeck.engine import Engine
from pipedeck.engine.events import Event, LogLines
from pipedeck.store import Status
from tests.conftest import RepoMaker

TOKEN = "tok-9f8e7d6c5b4a"
FILED = "from-a-file-0123"
COMMANDED = "from-a-command-4567"

LEAKY = """
name: ci
secrets:
  TOKEN: {{env: CI_TOKEN_SOURCE}}
  FILED: {{file: "{file}"}}
  COMMANDED: {{command: "printf %s {commanded[0]}; printf %s {commanded[1]}"}}
stages:
  - name: Build
    actions:
      - name: leak
        kind: build
        secrets: [TOKEN, FILED, COMMANDED]
        run: |
          echo "plain $TOKEN $FILED $COMMANDED"
          printf %s "$TOKEN" | base64
          python3 -c 'import os, json, urllib.parse as u; t = os.environ["TOKEN"]
          print(json.dumps({{"t": t}}), u.quote(t, safe=""))'
          # Cut in two writes, a pause between them.
          printf 'split %s' "${{TOKEN:0:5}}"; sleep 0.2; printf '%s done\\n' "${{TOKEN:5}}"
          echo "SHIPPED=$TOKEN" >> "$PIPEDECK_VARIABLES_FILE"
      - name: other
        kind: build
        run: |
          echo "token=${{TOKEN:-unset}} source=${{CI_TOKEN_SOURCE:-unset}}"
"""


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "private" / "filed.txt"
    path.parent.mkdir()
    path.write_text(FILED + "\n")
    path.chmod(0o600)
    return path


def all_bytes_under(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink())


async def test_a_secret_reaches_only_its_action_and_no_record(
    repo: RepoMaker, engine: Engine, secret_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI_TOKEN_SOURCE", TOKEN)
    # The value is not written in the file (it is kept with the run): the command makes it.
    repo.pipeline(LEAKY.format(file=secret_file, commanded=(COMMANDED[:9], COMMANDED[9:])))
    repo.commit()
    events: list[Event] = []
    engine.bus.subscribe(events.append)
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.SUCCEEDED, run.error
    detail = engine.project.store.detail(run)
    logs = {a.action.name: Path(a.action.log_path or "").read_text() for _, a in detail.actions()}
    assert logs["leak"].splitlines() == [
        "plain *** *** ***",
        "***",
        '{"t": "***"} ***',
        "split *** done",
    ]
    assert logs["other"] == "token=unset source=unset\n"
    streamed = "".join(e.text for e in events if isinstance(e, LogLines))
    assert "***" in streamed
    # The exported variable is kept, masked.
    (leak,) = [a for _, a in detail.actions() if a.action.name == "leak"]
    assert leak.action.output_variables == {"SHIPPED": "***"}
    # Nowhere on disk, in any form: database (and its WAL), logs, events, variables.
    state = engine.project.store.state_dir
    kept = all_bytes_under(state) + json.dumps([repr(e) for e in events]).encode()
    for value in (TOKEN, FILED, COMMANDED):
        for form in (value, base64.b64encode(value.encode()).decode(), urllib.parse.quote(value)):
            assert form.encode() not in kept, form


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("{env: NOT_SET_ANYWHERE}", "$NOT_SET_ANYWHERE is not set in the environment"),
        ("{command: 'exit 3'}", "its command exited with code 3"),
        ("{command: 'printf abc'}", "is shorter than 6 characters"),
        ("{file: /nonexistent/token}", "/nonexistent/token: No such file or directory"),
        ("{file: LOOSE}", "can be read or written by others (mode 0644)"),
        ("{file: INSIDE}", "is inside the repository; keep secrets outside it"),
    ],
)
async def test_a_secret_that_cannot_be_had_fails_the_action_unstarted(
    repo: RepoMaker, engine: Engine, tmp_path: Path, source: str, why: str
) -> None:
    loose = tmp_path / "loose.txt"
    loose.write_text("long enough value\n")
    loose.chmod(0o644)
    inside = repo.write("token.txt", "long enough value\n")
    inside.chmod(0o600)
    source = source.replace("LOOSE", str(loose)).replace("INSIDE", str(inside))
    repo.pipeline(
        f"""
name: ci
secrets: {{KEY: {source}}}
stages:
  - name: Build
    actions:
      - {{name: use, kind: build, secrets: [KEY], run: 'touch "$PIPEDECK_REPO_ROOT/ran"'}}
"""
    )
    repo.commit()
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.FAILED
    (action,) = [a.action for _, a in engine.project.store.detail(run).actions()]
    assert action.error is not None and action.error.startswith("secret KEY ")
    assert why in action.error
    assert not (repo.root / "ran").exists()
    assert os.environ.get("NOT_SET_ANYWHERE") is None
