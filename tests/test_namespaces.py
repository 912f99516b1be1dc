"""The lazy package namespaces: every public name is what its module defines, and none is
shadowed by a submodule of the same name once everything is loaded."""

from __future__ import annotations

import subprocess
import sys

PACKAGES = ("pipedeck.engine", "pipedeck.definition", "pipedeck.gitrepo", "pipedeck.tui")

CHECK = """
import importlib, pkgutil, sys
for name in {packages!r}:
    package = importlib.import_module(name)
    table = package.__getattr__.where
    assert sorted(package.__all__) == sorted(table), (name, set(package.__all__) ^ set(table))
    for info in pkgutil.walk_packages(package.__path__, name + "."):
        importlib.import_module(info.name)
    for public, module in table.items():
        value = getattr(package, public)
        defined = getattr(importlib.import_module(name + "." + module), public)
        assert value is defined, (name, public, value)
    try:
        getattr(package, "no_such_name")
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError(name + " answered an unknown name")
print("ok")
"""


def test_public_names_are_what_their_modules_define() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK.format(packages=PACKAGES)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_importing_a_package_loads_none_of_its_modules() -> None:
    code = (
        "import sys, pipedeck.engine, pipedeck.definition, pipedeck.gitrepo\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pipedeck.', 'git', 'pydantic'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(
        ["pipedeck.definition", "pipedeck.engine", "pipedeck.gitrepo", "pipedeck.lazy"]
    )
