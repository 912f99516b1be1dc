"""Which pipeline files the user has trusted to run by themselves, and with what content.

A commit can change a pipeline file, and the watcher runs pipelines on commits; so a file
runs unattended only after the user reviewed and trusted its exact bytes. Trust is a SHA-256
per absolute path, kept in a file in the user's state directory, outside every repository,
so nothing committed to a repository can grant it. Any edit to the file makes it `changed`
until it is trusted again.

The trust file is shared by every pipedeck process of the user: writes take an flock on a
sibling lock file, re-read, and replace the file atomically, so concurrent writers never lose
each other's entries and a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pipedeck.engine.errors import TrustError
from pipedeck.engine.provenance import current_user

if TYPE_CHECKING:
    # Trust is kept by digest; only listing a file's commands needs its model.
    from pipedeck.definition import Pipeline

TrustLevel = Literal["trusted", "new", "changed"]


def trust_file() -> Path:
    """Where trust is recorded: `$PIPEDECK_TRUST_FILE`, else the XDG state directory."""
    explicit = os.environ.get("PIPEDECK_TRUST_FILE")
    if explicit:
        return Path(explicit).expanduser()
    state = os.environ.get("XDG_STATE_HOME", "")
    # The XDG spec says relative values are invalid and must be ignored.
    base = Path(state) if Path(state).is_absolute() else Path.home() / ".local" / "state"
    return base / "pipedeck" / "trust.json"


def digest_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@dataclass(frozen=True)
class TrustState:
    path: Path
    """Absolute and resolved: the key in the trust file."""
    digest: str
    """SHA-256 of the content that was checked."""
    state: TrustLevel
    """`new`: never trusted; `changed`: trusted before, with other content."""

    @property
    def trusted(self) -> bool:
        return self.state == "trusted"


class TrustStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else trust_file()

    def check(
        self, file: Path, content: bytes | None = None, digest: str | None = None
    ) -> TrustState:
        """The trust state of `file` as it is now (or of `content`, or of the content whose
        SHA-256 is `digest`, when given)."""
        key = _key(file)
        if digest is None:
            digest = digest_of(file.read_bytes() if content is None else content)
        entry = self._read().get(str(key))
        if entry is None:
            return TrustState(key, digest, "new")
        return TrustState(key, digest, "trusted" if entry["sha256"] == digest else "changed")

    def is_trusted(self, file: Path) -> bool:
        return self.check(file).trusted

    def trust(self, file: Path) -> TrustState:
        """Trust `file` with the content it has now."""
        return self.trust_digest(file, digest_of(file.read_bytes()))

    def trust_digest(self, file: Path, digest: str) -> TrustState:
        """Trust `file` only if its content is still the one shown to the user (`digest`).

        Raises TrustError, recording nothing, when the file changed since it was shown.
        """
        key = _key(file)
        with self._locked() as entries:
            # Compared under the lock, so what is recorded is what was shown.
            if digest_of(file.read_bytes()) != digest:
                raise TrustError(f"{file} changed since it was shown; review it again")
            entries[str(key)] = {
                "sha256": digest,
                "trusted_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "by": current_user(),
            }
        return TrustState(key, digest, "trusted")

    def revoke(self, file: Path) -> bool:
        """Forget `file`; False when it was not trusted. The file need not exist any more."""
        with self._locked() as entries:
            return entries.pop(str(_key(file)), None) is not None

    def entries(self) -> dict[str, dict[str, str]]:
        """Every recorded path with its digest, time and user."""
        return self._read()

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise TrustError(f"cannot read the trust file {self.path}: {exc.strerror}") from exc
        try:
            info = os.fstat(fd)
            if (
                info.st_uid != os.geteuid()
                or info.st_mode & 0o022
                or not stat.S_ISREG(info.st_mode)
            ):
                # Anyone else who could write it could grant trust: it grants none.
                raise TrustError(
                    f"the trust file {self.path} is ignored: it must be a file of yours that"
                    f" only you can write (chmod 600 {self.path})"
                )
            with os.fdopen(os.dup(fd), "rb") as f:
                text = f.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TrustError(f"cannot read the trust file {self.path}: {exc}") from exc
        finally:
            os.close(fd)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self._corrupt(f"not JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise self._corrupt("the top level is not a mapping")
        for key, entry in data.items():
            if not (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)):
                raise self._corrupt(f"the entry for {key} has no sha256")
        return data

    def _corrupt(self, why: str) -> TrustError:
        # Never wipe it or guess: a damaged file must neither grant nor silently drop trust.
        return TrustError(f"the trust file {self.path} is damaged: {why}; fix or remove it")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, str]]]:
        """Read, let the caller change, and write back the entries, all under the lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = self._read()
            before = json.dumps(entries, sort_keys=True)
            yield entries
            if json.dumps(entries, sort_keys=True) != before:
                self._write(entries)
        finally:
            os.close(lock)  # closing releases the flock

    def _write(self, entries: dict[str, Any]) -> None:
        fd, name = tempfile.mkstemp(prefix=".trust-", suffix=".tmp", dir=self.path.parent)
        temp = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(entries, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            temp.replace(self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
        # The rename is durable only once the directory entry is on disk.
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _key(file: Path) -> Path:
    return file.expanduser().resolve()


_WITHOUT_COMMAND = {
    # By `ActionKind` value (a StrEnum equals its value).
    "source": "exports the commit",
    "approval": "waits for approval",
}


def reviewed_commands(pipeline: Pipeline) -> list[tuple[str, str, str]]:
    """(`stage/action`, kind, what it runs) for every action, and where every secret comes
    from (a secret's command runs too): what to review before trusting."""
    rows = []
    for name, secret in pipeline.secrets.items():
        if secret.command is not None:
            rows.append((f"secrets/{name}", "secret", f"runs {secret.command}"))
        elif secret.file is not None:
            rows.append((f"secrets/{name}", "secret", f"reads {secret.file}"))
        else:
            rows.append((f"secrets/{name}", "secret", f"reads ${secret.env}"))
    for stage in pipeline.stages:
        for action in stage.actions:
            if action.run is not None:
                what = action.run.rstrip("\n")
            else:
                what = _WITHOUT_COMMAND.get(action.kind, "runs no command")
            rows.append((f"{stage.name}/{action.name}", action.kind.value, what))
    return rows
