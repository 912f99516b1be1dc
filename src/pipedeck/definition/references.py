"""`#{namespace.NAME}` references, and which namespaces and names a pipeline provides.

The engine resolves them at run time (`engine.variables`); `validate` checks them here, so a
typo is a located error before anything runs rather than an action failing halfway.
"""

from __future__ import annotations

import re

SUFFIXES = (".yml", ".yaml")
"""A pipeline file is `pipelines/NAME.yml` (or `.yaml`); its name is the pipeline's."""
RESERVED_PREFIX = "PIPEDECK_"
"""Environment names pipedeck sets for every action (its run, workspace, artifacts, marker)."""

REFERENCE = re.compile(r"#\{\s*([A-Za-z0-9_.-]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}")

PIPELINE_NAMES = frozenset({"name", "run", "number", "commit", "commit_short", "branch"})
"""`#{pipeline.*}`."""
SOURCE_NAMES = frozenset({"commit", "commit_short", "branch", "subject", "author"})
"""What a source action exports, under its name and each of its output artifacts' names."""
