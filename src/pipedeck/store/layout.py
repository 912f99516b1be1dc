"""Where run files live under the state directory (see DESIGN.md "On disk")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DB_NAME = "pipedeck.db"


def default_state_dir(git_dir: Path) -> Path:
    """State sits in the git dir: invisible to `git status`, gone with the clone."""
    return git_dir / "pipedeck"


@dataclass(frozen=True, slots=True)
class RunLayout:
    """Directories of one run: `runs/<pipeline>/<number>/{logs,artifacts,work}`."""

    root: Path

    @classmethod
    def of(cls, state_dir: Path, pipeline: str, number: int) -> RunLayout:
        return cls(state_dir / "runs" / pipeline / str(number))

    def log(self, stage: str, action: str, attempt: int = 1) -> Path:
        # A retried action writes a new file: every attempt's log is kept.
        name = f"{action}.log" if attempt == 1 else f"{action}.attempt-{attempt}.log"
        return self.root / "logs" / stage / name

    def artifact(self, name: str) -> Path:
        return self.root / "artifacts" / name

    def staging(self, name: str) -> Path:
        """Where an output is made before it is sealed into `artifact(name)`."""
        return self.root / "artifacts" / ".staging" / name

    def inputs(self, stage: str, action: str, name: str) -> Path:
        """An action's private copy of an input artifact (other than its first)."""
        return self.root / "work" / stage / f".{action}.inputs" / name

    def reports(self, stage: str, action: str, attempt: int = 1) -> Path:
        """Where an action's test reports are kept, one folder per attempt."""
        return self.root / "reports" / stage / action / str(attempt)

    def work(self, stage: str, action: str) -> Path:
        return self.root / "work" / stage / action
