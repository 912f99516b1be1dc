"""The command line's own lines quote the repository: they show its control characters.

A commit subject, a command under review in `pipedeck trust`, or a file name that holds an
escape sequence would otherwise clear the terminal, retitle it, or hide the line above —
a `trust` review could show a harmless command over the one that runs.
"""

from __future__ import annotations

import subprocess

from tests.conftest import RepoMaker, git, run_cli

CLEAR = "\x1b[2J"
UP_AND_ERASE = "\x1b[1A\x1b[2K"
SHOWN_CLEAR = "␛[2J"

PIPELINE = """
name: ci
stages:
  - name: Build
    actions:
      - name: make
        kind: build
        run: "echo evil.invalid is fetched\\n\\e[1A\\e[2Kecho hello"
"""

OBEYED = {*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), 0x202E}


def raw(output: str) -> list[str]:
    return [repr(c) for c in output if ord(c) in OBEYED]


def test_runs_show_trust_and_validate_show_control_characters(repo: RepoMaker) -> None:
    repo.pipeline(PIPELINE)
    (repo.root / "pipelines" / f"b{CLEAR}ad.yml").write_text("name: [")
    git(repo.root, "add", "-A")
    subprocess.run(
        ["git", "commit", "-q", "--cleanup=verbatim", "-m", f"clear {CLEAR}\u202e the screen"],
        cwd=repo.root,
        check=True,
    )
    run_cli("run", "ci", cwd=repo.root)  # its second line is no command: it fails, recorded

    for args in (("runs",), ("show", "ci"), ("trust", "--list"), ("validate",)):
        result = run_cli(*args, cwd=repo.root)
        output = result.stdout + result.stderr
        assert raw(output) == [], (args, output)
    listed = run_cli("runs", cwd=repo.root).stdout
    assert f"clear {SHOWN_CLEAR}\ufffd the screen" in listed
    assert f"b{SHOWN_CLEAR}ad.yml" in run_cli("validate", cwd=repo.root).stdout

    review = run_cli("trust", "pipelines/ci.yml", cwd=repo.root)  # answered "no" (no input)
    assert raw(review.stdout + review.stderr) == []
    # The line that would have been erased is there to read, above the harmless one.
    assert "echo evil.invalid is fetched" in review.stdout
    assert "␛[1A␛[2Kecho hello" in review.stdout
