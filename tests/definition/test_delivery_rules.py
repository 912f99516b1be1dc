"""Environments in a pipeline file: names that make tags, rules that guard a deploy."""

from __future__ import annotations

import pytest

from .conftest import Problems

DEPLOY = """\
name: p
environments:
ENVIRONMENTS
stages:
  - name: STAGE
    actions:
      - {name: ship, kind: deploy, run: ./deploy.sh ACTION_KEYS}
"""


def pipeline(environments: str = "  {}", stage: str = "Production", keys: str = "") -> str:
    text = DEPLOY.replace("ENVIRONMENTS", environments).replace("STAGE", stage)
    return text.replace(" ACTION_KEYS", f", {keys}" if keys else "")


def test_rules_for_an_environment_no_deploy_goes_to_are_an_error(problems: Problems) -> None:
    # The stage is Production, so its deploy goes to `production`: `Production` guards nothing.
    found = problems(pipeline("  Production: {approval: required, approvers: [alice]}"))
    assert found == [
        "3:3: environments.Production: no deploy of this pipeline goes to 'Production', so its"
        " rules guard nothing (its deploys go to: production; a deploy without `environment:`"
        " goes to its stage's name in lower case)"
    ]


@pytest.mark.parametrize("name", ["a..b", "prod.", "x.lock"])
def test_an_environment_must_make_a_tag_git_accepts(problems: Problems, name: str) -> None:
    why = (
        f"{name!r} cannot name an environment: it names a git tag, and tags cannot contain"
        " '..' or end in '.' or '.lock'"
    )
    named = problems(pipeline(keys=f"environment: {name}"))
    assert named == [f"7:67: stages[0].actions[0].environment: {why}"]
    # From the stage's name, when the deploy names none.
    derived = problems(pipeline(stage=name.capitalize()))
    assert derived == [
        f"5:11: stages[0].name: {why.replace(repr(name), repr(name.lower()))};"
        " name this deploy's environment (environment: NAME)"
    ]


@pytest.mark.parametrize(
    ("window", "why"),
    [
        ("* * * * * *", "has 6 fields; a deploy window is five: minute hour day month weekday"),
        ("0 9-17 * *", "has 4 fields; a deploy window is five: minute hour day month weekday"),
        ("0 0 30 2 *", "is not a cron expression (Bad day-of-month)"),
        ("61 * * * *", "is not a cron expression"),
    ],
)
def test_a_window_is_five_cron_fields_that_name_a_moment(
    problems: Problems, window: str, why: str
) -> None:
    [found] = problems(pipeline(f'  production: {{window: "{window}"}}'))
    assert found.startswith("3:24: environments.production.window: ")
    assert f"{window!r} {why}" in found


@pytest.mark.parametrize("who", ["", " root", "a b"])
def test_an_approver_is_one_account_name(problems: Problems, who: str) -> None:
    [found] = problems(pipeline(f'  production: {{approvers: ["{who}"]}}'))
    assert found == (
        "3:28: environments.production.approvers[0]: an approver is one OS account name,"
        f" without spaces (got {who!r})"
    )
