"""The headless core never loads the UI toolkit: checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys


def test_core_packages_do_not_import_textual_or_rich() -> None:
    code = (
        "import sys\n"
        "import importlib, pkgutil\n"
        "import pipedeck.engine, pipedeck.definition, pipedeck.store, pipedeck.gitrepo\n"
        # Every module of the core, present and future, not a hand-kept list.
        "for package in (pipedeck.engine, pipedeck.definition, pipedeck.store, pipedeck.gitrepo):\n"
        "    for info in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "assert {'pipedeck.engine.service', 'pipedeck.gitrepo.refwatch'} <= set(sys.modules)\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
    # The check itself can see a leak: importing textual shows up.
    probe = subprocess.run(
        [sys.executable, "-c", code.replace("import sys\n", "import sys, textual\n")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "textual" in probe.stdout
