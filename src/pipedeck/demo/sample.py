"""Builds the sample repository, commit by commit, the way a small project grows.

The app is a tiny Python package; its pipeline builds a zipapp, tests and lints it in
parallel, deploys it to staging, tests it there, and waits for a person before production.
Each environment is a directory under `server/` inside the repository (ignored by git), so
everything stays on this machine and needs nothing but Python.
"""

from __future__ import annotations

from pathlib import Path

from pipedeck.gitrepo import GitRepo

DEMO_PIPELINE = "demo"

GREETER_V1 = '''\
"""greeter: says hello."""

import sys


def greet(name: str) -> str:
    return f"Hello, {name}!"


def main() -> None:
    print(greet(sys.argv[1] if len(sys.argv) > 1 else "world"))
'''

GREETER_V2 = GREETER_V1.replace(
    'return f"Hello, {name}!"',
    "return f\"Hello, {name.strip() or 'stranger'}!\"",
)

TESTS = """\
import unittest

from greeter import greet


class GreetTest(unittest.TestCase):
    def test_greets_by_name(self):
        self.assertEqual(greet("Ada"), "Hello, Ada!")

    def test_blank_name(self):
        self.assertEqual(greet("  "), "Hello, stranger!")


if __name__ == "__main__":
    unittest.main()
"""

# The deploy script of both environments: $PIPEDECK_ENVIRONMENT says which it installs.
INSTALL = """\
          server="$PIPEDECK_REPO_ROOT/server/$PIPEDECK_ENVIRONMENT"
          release="$server/releases/$PIPEDECK_RUN_NUMBER"
          mkdir -p "$release"
          cp "$PIPEDECK_INPUT_APP/$APP.pyz" "$release/"
          ln -sfn "$release" "$server/current"
          echo "$PIPEDECK_COMMIT" > "$release/COMMIT"
          echo "deployed $PIPEDECK_RUN to $release\""""

PIPELINE = f"""\
# The sample app's pipeline: build once, test, deploy to staging, test against staging,
# then production -- which waits for a person.
name: demo
variables:
  APP: greeter
environments:
  staging: {{approval: none}}        # continuous deployment: every green build goes here
  production: {{approval: required}} # continuous delivery: a person decides
stages:
  - name: Source
    actions:
      - {{name: checkout, kind: source, outputs: [source]}}

  - name: Build
    actions:
      - name: package
        kind: build
        inputs: [source]
        outputs: [app]
        run: |
          echo "building $APP from #{{source.commit_short}}"
          python3 -m zipapp src -m "greeter:main" -o "$PIPEDECK_OUTPUT_APP/$APP.pyz"
          ls -l "$PIPEDECK_OUTPUT_APP"

  - name: Test
    actions:
      - name: unit
        kind: test
        inputs: [source]
        run: |
          cd src
          for i in 1 2 3; do echo "warming up ($i/3)"; sleep 0.3; done
          python3 -m unittest -v test_greeter
      - name: lint
        kind: test
        inputs: [source]
        run: |
          python3 -m py_compile src/greeter.py
          if grep -nE ' +$' src/*.py; then echo "trailing whitespace"; exit 1; fi
          echo "lint clean"
      - name: smoke
        kind: test
        inputs: [app]
        run: python3 "$PIPEDECK_INPUT_APP/$APP.pyz" pipeline | grep -q "Hello, pipeline!"

  - name: Staging
    actions:
      - name: deploy
        kind: deploy
        environment: staging
        inputs: [app]
        run: |
{INSTALL}

  - name: Integration
    actions:
      - name: against-staging
        kind: test
        run: |
          app="$PIPEDECK_REPO_ROOT/server/staging/current/$APP.pyz"
          test "$(python3 "$app" staging)" = "Hello, staging!"
          test "$(python3 "$app" "  ")" = "Hello, stranger!"
          echo "staging answers as it should"

  - name: Production
    actions:
      - name: deploy
        kind: deploy
        environment: production
        inputs: [app]
        run: |
{INSTALL}
"""

HISTORY: list[tuple[str, dict[str, str]]] = [
    (
        "Start the greeter app",
        {
            "README.md": "# greeter\n\nSays hello. Built and deployed by pipedeck.\n",
            ".gitignore": "server/\n__pycache__/\n",
            "src/greeter.py": GREETER_V1,
        },
    ),
    ("Add unit tests", {"src/test_greeter.py": TESTS}),
    ("Greet blank names as strangers", {"src/greeter.py": GREETER_V2}),
    ("Add the delivery pipeline", {"pipelines/demo.yml": PIPELINE}),
]


def create_demo_repo(directory: Path) -> GitRepo:
    """Create the sample repository in `directory`, or reuse one made earlier."""
    if (directory / "pipelines" / "demo.yml").exists() and (directory / ".git").exists():
        return GitRepo.open(directory)
    if directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} exists and is not empty; choose another directory")
    repo = GitRepo.init(directory)
    for message, files in HISTORY:
        for name, text in files.items():
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        repo.commit_all(message)
    return repo
