"""Builds the sample repository, commit by commit, the way a small project grows.

The app is a tiny Python package; its pipeline builds a zipapp, tests it (in two shards,
each writing a JUnit report) and lints it in parallel, deploys it to staging, tests it
there, and waits for a person before production. Each environment is a directory under
`server/` inside the repository (ignored by git), so everything stays on this machine and
needs nothing but Python.
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

TESTS = {
    "tests/test_names.py": """\
import time
import unittest

from greeter import greet


class NamesTest(unittest.TestCase):
    def test_greets_by_name(self):
        time.sleep(0.4)
        self.assertEqual(greet("Ada"), "Hello, Ada!")

    def test_keeps_unicode(self):
        time.sleep(0.2)
        self.assertEqual(greet("Zoë"), "Hello, Zoë!")
""",
    "tests/test_blank.py": """\
import time
import unittest

from greeter import greet


class BlankTest(unittest.TestCase):
    def test_blank_name(self):
        time.sleep(0.5)
        self.assertEqual(greet("  "), "Hello, stranger!")
""",
    "tests/test_cli.py": """\
import subprocess
import sys
import unittest
from pathlib import Path

SRC = Path(__file__).parent.parent / "src"


class CommandLineTest(unittest.TestCase):
    def test_default_greeting(self):
        out = subprocess.run(
            [sys.executable, "-c", "import greeter; greeter.main()"],
            capture_output=True, text=True, check=True, cwd=SRC,
        )
        self.assertEqual(out.stdout, "Hello, world!\\n")
""",
}

# The project's own test runner: unittest, writing a JUnit report as CI services read, so
# the sample needs nothing but Python. `pipedeck shard` gives each shard its files.
RUN_TESTS = """\
\"\"\"Run the given test files with unittest; write report.xml (JUnit).\"\"\"

import sys
import time
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "src"))


class Timed(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cases = []

    def startTest(self, test):
        self.started = time.perf_counter()
        super().startTest(test)

    def _record(self, test, outcome, message=""):
        self.cases.append((test, outcome, message, time.perf_counter() - self.started))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failure", self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)


files = sys.argv[1:]
loader = unittest.TestLoader()
suite = unittest.TestSuite()
for name in files:
    sys.path.insert(0, str(Path(name).parent))
    suite.addTests(loader.loadTestsFromName(Path(name).stem))
result = unittest.TextTestRunner(resultclass=Timed, verbosity=2).run(suite)
root = ET.Element("testsuite", name="greeter", tests=str(len(result.cases)))
for test, outcome, message, took in result.cases:
    # The module as a dotted path from here: what pipedeck matches to the test's file.
    module = type(test).__module__
    where = next((f for f in files if Path(f).stem == module), module)
    dotted = where.removesuffix(".py").replace("/", ".")
    case = ET.SubElement(
        root, "testcase", classname=f"{dotted}.{type(test).__name__}",
        name=test._testMethodName, time=f"{took:.3f}",
    )
    if outcome != "passed":
        ET.SubElement(case, outcome, message=message.strip().splitlines()[-1]).text = message
ET.ElementTree(root).write("report.xml", encoding="utf-8", xml_declaration=True)
sys.exit(0 if result.wasSuccessful() else 1)
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
        parallel: 2                 # two shards, balanced by the last run's timings
        reports: [report.xml]       # JUnit: counted in the graph, listed by `t`
        run: |
          files=$(pipedeck shard --explain --glob 'tests/test_*.py')
          python3 run_tests.py $files
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
    ("Add unit tests", {**TESTS, "run_tests.py": RUN_TESTS}),
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
