"""Variables: `#{namespace.NAME}` references in scripts, messages and env values.

Namespaces, CodePipeline-style:
- `variables` — the pipeline's `variables`, overridden by `--var` at start;
- `pipeline` — `name`, `run`, `number`, `commit`, `commit_short`, `branch`;
- one per action that produced output variables, under the action's name (and, for a source
  action, under each of its output artifact names too, so `#{source.commit_short}` reads
  naturally). A source action exports `commit`, `commit_short`, `branch`, `subject`, `author`;
  a script action exports each `NAME=value` line it writes to `$PIPEDECK_VARIABLES_FILE`.

A reference to something that does not exist is an error, not an empty string.

In a `run:` script a reference becomes an environment-variable expansion
(`${PIPEDECK_VAR_SOURCE_SUBJECT}`) rather than the value's text, so a commit subject such as
`"; rm -rf ~; "` is data, never shell code. Use references inside double quotes, as with any
shell variable.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from pipedeck.definition.references import REFERENCE


class VariableError(Exception):
    pass


class Variables:
    def __init__(self) -> None:
        self._namespaces: dict[str, dict[str, str]] = {}

    def set_namespace(self, namespace: str, values: dict[str, str]) -> None:
        self._namespaces.setdefault(namespace, {}).update(values)

    def namespace(self, namespace: str) -> dict[str, str]:
        return dict(self._namespaces.get(namespace, {}))

    def with_namespace(self, namespace: str, values: dict[str, str]) -> Variables:
        """These variables and one namespace more, for one action (`#{matrix.*}`)."""
        scoped = Variables()
        scoped._namespaces = {**self._namespaces, namespace: dict(values)}
        return scoped

    def resolve(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            namespace, name = match.group(1), match.group(2)
            try:
                return self._namespaces[namespace][name]
            except KeyError:
                raise VariableError(f"unknown variable #{{{namespace}.{name}}}") from None

        return REFERENCE.sub(replace, text)

    def resolve_for_shell(self, script: str) -> tuple[str, dict[str, str]]:
        """The script with each reference turned into `${VAR}`, and those variables' values."""
        env: dict[str, str] = {}

        def replace(match: re.Match[str]) -> str:
            namespace, name = match.group(1), match.group(2)
            try:
                value = self._namespaces[namespace][name]
            except KeyError:
                raise VariableError(f"unknown variable #{{{namespace}.{name}}}") from None
            var = "PIPEDECK_VAR_" + re.sub(r"[^A-Za-z0-9]", "_", f"{namespace}_{name}").upper()
            env[var] = value
            return "${" + var + "}"

        return REFERENCE.sub(replace, script), env


def read_variables_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines written by a script; blank lines and `#` comments are skipped."""
    try:
        # Not followed, never blocked on: the script may have left a link or a FIFO here.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise VariableError(f"$PIPEDECK_VARIABLES_FILE cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise VariableError("$PIPEDECK_VARIABLES_FILE is not a regular file")
        text = f.read().decode("utf-8", errors="replace")
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
            raise VariableError(f"$PIPEDECK_VARIABLES_FILE line {number}: expected NAME=value")
        values[name.strip()] = value
    return values
