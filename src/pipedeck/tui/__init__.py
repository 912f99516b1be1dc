"""The console: a Textual app over the engine. It draws and asks; the engine does.

The command line opens it through this namespace only (`PipedeckApp`), loaded on first use.
"""

from typing import TYPE_CHECKING

from pipedeck.lazy import Exports

if TYPE_CHECKING:
    from pipedeck.tui.app import PipedeckApp, make_app

__all__ = ["PipedeckApp", "make_app"]
__getattr__ = Exports(__name__, {"PipedeckApp": "app", "make_app": "app"})
