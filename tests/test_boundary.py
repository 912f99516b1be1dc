"""The headless core never loads the UI toolkit: checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys


def test_core_packages_do_not_import_textual_or_rich() -> None:
    code = (
        "import sys\n"
        "import pipedeck.engine, pipedeck.definition, pipedeck.store, pipedeck.gitrepo\n"
        "import pipedeck.engine.executor, pipedeck.engine.actions, pipedeck.engine.recovery\n"
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
