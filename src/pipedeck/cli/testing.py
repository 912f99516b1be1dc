"""`tests`: the test cases read from a run's JUnit reports."""

from __future__ import annotations

from collections import Counter

import click

from pipedeck.cli.context import Options, fail, print_json, say

_ICONS = {"passed": "✔", "failed": "✘", "error": "✘", "skipped": "-"}
_ORDER = ("failed", "error", "skipped", "passed")


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.argument("only", metavar="[STAGE/ACTION]", required=False)
@click.option("--failed", "failed_only", is_flag=True, help="Only failed and errored tests.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def tests(opts: Options, run_ref: str, only: str | None, failed_only: bool, as_json: bool) -> None:
    """The tests of RUN (or of one action of it), from the reports its actions declare.

    A test marked flaky failed and passed with nothing changed: in one run, on a retry of
    its action; or over the last 20 runs of the pipeline on the run's branch."""
    run = opts.find_run(run_ref)
    store = opts.client().store
    cases = store.results.cases(run.id)
    problems = store.results.problems(run.id)
    if only is not None:
        # An action as written in the file names all its copies (`Test/unit`: every shard).
        stage, _, action = only.partition("/")
        known = {(c.stage, c.action) for c in cases} | {(p.stage, p.action) for p in problems}
        groups = {(c.stage, c.group) for c in cases} | {(p.stage, p.group) for p in problems}
        if (stage, action) not in known | groups:
            listed = ", ".join(sorted(f"{s}/{a}" for s, a in known)) or "none"
            fail(f"{run.key} has no test reports from {only} (actions with reports: {listed})")
        cases = [c for c in cases if c.stage == stage and action in (c.action, c.group)]
        problems = [p for p in problems if p.stage == stage and action in (p.action, p.group)]
    counts = Counter(c.outcome for c in cases)
    if failed_only:
        cases = [c for c in cases if c.outcome in ("failed", "error")]
    if as_json:
        print_json(
            {
                "run": run.key,
                "counts": {outcome: counts[outcome] for outcome in _ORDER},
                "tests": [c.to_dict() for c in cases],
                "problems": [p.to_dict() for p in problems],
            }
        )
        return
    for case in cases:
        where = f"{case.classname}::" if case.classname else ""
        took = f"  {case.duration:.2f}s" if case.duration is not None else ""
        icon = _ICONS[case.outcome]
        flaky = "  ⚠ flaky" if case.flaky else ""
        say(
            f"{icon} {case.outcome:<7}  {case.stage}/{case.action}  {where}{case.name}{took}{flaky}"
        )
        if case.message and case.outcome in ("failed", "error"):
            say(f"      {case.message.splitlines()[0][:200]}")
    for problem in problems:
        where = f"{problem.stage}/{problem.action}"
        say(f"pipedeck: {where}: report {problem.report}: {problem.problem}", err=True)
    told = ", ".join(f"{counts[o]} {o}" for o in _ORDER if counts[o])
    say(f"{sum(counts.values())} tests: {told or 'none'}")
