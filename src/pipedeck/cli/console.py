"""Opening the console from the command line (`pipedeck`, `pipedeck demo`)."""

from __future__ import annotations

import sys

from pipedeck.cli.context import Options, fail, say_left_waiting


def open_console(opts: Options, start_pipeline: str | None = None) -> None:
    """Open the console on the repository, or say in one line why it cannot be."""
    client = opts.client()
    if not client.pipelines_dir.is_dir():
        fail(
            f"no pipelines/ folder in {client.root}: add pipelines/NAME.yml"
            " (see README), or try `pipedeck demo`"
        )
    # Imported here: the headless commands never pay for loading the UI toolkit.
    from pipedeck.tui import PipedeckApp

    app = PipedeckApp(client, start_pipeline=start_pipeline)
    app.run()
    say_left_waiting(app.left_waiting, client.store)
    sys.exit(app.return_code or 0)
