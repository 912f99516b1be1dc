"""Package namespaces that load a name's module the first time the name is used.

`pipedeck approve` from a second shell should cost about what Python costs: reading the store
needs neither the pipeline model (pydantic) nor git's wrapper nor the engine's event loop. A
package's `__init__` therefore names its public API and where each name lives, and imports
nothing until asked (PEP 562). Type checkers read the same names from an `if TYPE_CHECKING`
block beside the table.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping


class Exports:
    """A module `__getattr__` for `package`: name → the submodule (relative) it comes from."""

    def __init__(self, package: str, where: Mapping[str, str]) -> None:
        self.package = package
        self.where = dict(where)

    def __call__(self, name: str) -> object:
        module = self.where.get(name)
        if module is None:
            raise AttributeError(f"module {self.package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{self.package}.{module}"), name)
        # Once loaded it is a plain attribute: the next use costs a dict lookup.
        setattr(sys.modules[self.package], name, value)
        return value
