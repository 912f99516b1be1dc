"""Resolving secrets when an action that lists them starts: from the engine's environment, a
private file, or a command. Values live only in that action's environment and in the masker;
nothing here writes them anywhere."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path

from pipedeck.definition.model import Secret
from pipedeck.engine.masking import MIN_LENGTH

COMMAND_TIMEOUT = 60.0
"""A secret's command that takes longer (a prompt nobody answers) fails the action."""


class SecretError(Exception):
    """Why a secret has no value; the action fails before it starts, saying so."""


def resolve(name: str, secret: Secret, repo_root: Path, environ: Mapping[str, str]) -> str:
    try:
        value = _value(secret, repo_root, environ)
    except SecretError as exc:
        raise SecretError(f"secret {name} cannot be resolved: {exc}") from None
    if len(value) < MIN_LENGTH:
        raise SecretError(
            f"secret {name} is shorter than {MIN_LENGTH} characters; it could not be masked"
            " safely in the logs, so it is refused"
        )
    return value


def _value(secret: Secret, repo_root: Path, environ: Mapping[str, str]) -> str:
    if secret.env is not None:
        if secret.env not in environ:
            raise SecretError(
                f"${secret.env} is not set in the environment pipedeck was started with"
            )
        return environ[secret.env]
    if secret.file is not None:
        return _from_file(Path(secret.file).expanduser(), repo_root)
    assert secret.command is not None
    return _from_command(secret.command, repo_root, environ)


def _from_file(path: Path, repo_root: Path) -> str:
    real = path.resolve()
    root = repo_root.resolve()
    if real == root or root in real.parents:
        raise SecretError(f"{path} is inside the repository; keep secrets outside it")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise SecretError(f"{path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SecretError(f"{path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise SecretError(f"{path} is not yours")
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise SecretError(
                f"{path} can be read or written by others (mode {mode:04o}); chmod 600 {path}"
            )
        data = f.read()
    return _text(data, str(path))


def _from_command(command: str, repo_root: Path, environ: Mapping[str, str]) -> str:
    try:
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
            cwd=repo_root,
            env=dict(environ),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SecretError(f"its command took longer than {COMMAND_TIMEOUT:g}s") from None
    except OSError as exc:
        raise SecretError(f"its command could not start: {exc.strerror}") from None
    if done.returncode != 0:
        # Its stderr is not shown: it may hold the very value.
        raise SecretError(f"its command exited with code {done.returncode}")
    return _text(done.stdout, "its command's output")


def _text(data: bytes, what: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"{what} is not UTF-8 text") from None
    # One trailing newline is the file's or the command's, not the secret's.
    return text.removesuffix("\n").removesuffix("\r")
