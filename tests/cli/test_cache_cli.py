"""`pipedeck cache list` and `pipedeck cache clear` over real cache entries."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipedeck.engine.caches import Caches
from tests.conftest import RepoMaker, run_cli


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.moment += timedelta(minutes=1)
        return self.moment


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def caches(state: Path) -> Caches:
    return Caches(state, clock=Clock())


def fill(caches: Caches, tmp_path: Path, key: str, size: int, files: int = 1) -> None:
    work = tmp_path / "work" / str(len(caches.entries()))
    for n in range(files):
        path = work / "deps" / f"f{n}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * (size // files))
    assert caches.save(key, ["deps"], work).entry is not None


def cache(repo: RepoMaker, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "--repo", str(repo.root), "--state-dir", str(state), "cache", *args, cwd=repo.root
    )


def test_list_says_no_caches(repo: RepoMaker, state: Path) -> None:
    listed = cache(repo, state, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == "no caches\n"
    assert json.loads(cache(repo, state, "list", "--json").stdout) == []


def test_list_shows_each_cache_and_the_total(
    repo: RepoMaker, state: Path, caches: Caches, tmp_path: Path
) -> None:
    fill(caches, tmp_path, "uv-linux-abc", 2_500_000, files=5)
    fill(caches, tmp_path, "npm-1", 300)
    listed = cache(repo, state, "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows, total = listed.stdout.splitlines()
    assert header.split() == ["KEY", "SIZE", "FILES", "CREATED", "LAST", "USED"]
    assert rows[0].split() == [
        "npm-1",
        "300",
        "B",
        "1",
        "2025-03-04",
        "05:08:07",
        "2025-03-04",
        "05:08:07",
    ]
    assert rows[1].split() == [
        "uv-linux-abc",
        "2.5",
        "MB",
        "5",
        "2025-03-04",
        "05:07:07",
        "2025-03-04",
        "05:07:07",
    ]
    assert total == "2 caches, 2.5 MB"

    data = json.loads(cache(repo, state, "list", "--json").stdout)
    assert [(d["key"], d["size"], d["files"], d["paths"]) for d in data] == [
        ("npm-1", 300, 1, ["deps"]),
        ("uv-linux-abc", 2_500_000, 5, ["deps"]),
    ]
    assert data[0]["created_at"] == data[0]["used_at"] == "2025-03-04T05:08:07.000Z"


def test_last_used_follows_a_restore(
    repo: RepoMaker, state: Path, caches: Caches, tmp_path: Path
) -> None:
    fill(caches, tmp_path, "k", 10)
    entry = caches.find("k")
    assert entry is not None
    caches.restore(entry, tmp_path / "restored")
    row = cache(repo, state, "list").stdout.splitlines()[1]
    assert row.split()[-4:] == ["2025-03-04", "05:07:07", "2025-03-04", "05:08:07"]


def test_a_key_with_control_characters_is_shown_visibly_on_one_line(
    repo: RepoMaker, state: Path, caches: Caches, tmp_path: Path
) -> None:
    fill(caches, tmp_path, "evil\x1b[2J\nkey\r", 10)
    listed = cache(repo, state, "list")
    assert listed.returncode == 0, listed.stderr
    assert "\x1b" not in listed.stdout and "\r" not in listed.stdout
    lines = listed.stdout.splitlines()
    assert len(lines) == 3
    assert lines[1].startswith("evil\u241b[2J\u2424key\u240d ")
    assert json.loads(cache(repo, state, "list", "--json").stdout)[0]["key"] == (
        "evil\x1b[2J\nkey\r"
    )
    cleared = cache(repo, state, "clear")
    assert "\x1b" not in cleared.stdout
    assert cleared.stdout.splitlines()[0] == "removed evil\u241b[2J\u2424key\u240d  10 B"


def test_a_long_key_is_cut_short_in_the_list_and_whole_in_json(
    repo: RepoMaker, state: Path, caches: Caches, tmp_path: Path
) -> None:
    key = "uv-" + "0123456789" * 50
    fill(caches, tmp_path, key, 10)
    fill(caches, tmp_path, "npm-1", 10)
    header, *rows, _ = cache(repo, state, "list").stdout.splitlines()
    assert rows[1].startswith(key[:39] + "… ")
    assert rows[0].startswith("npm-1" + " " * 35 + " ")
    # The columns line up (SIZE and `10 B` are both four wide, right-aligned).
    assert header.index("SIZE") == rows[0].index("10 B") == rows[1].index("10 B")
    assert json.loads(cache(repo, state, "list", "--json").stdout)[1]["key"] == key


def test_clear_by_prefix_then_all(
    repo: RepoMaker, state: Path, caches: Caches, tmp_path: Path
) -> None:
    fill(caches, tmp_path, "uv-1", 1000)
    fill(caches, tmp_path, "uv-2", 2000)
    fill(caches, tmp_path, "npm-1", 500)
    (state / "caches" / ".tmp-0011223344556677").mkdir()  # what a crashed save left

    cleared = cache(repo, state, "clear", "uv-")
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout.splitlines() == [
        "removed uv-2  2.0 kB",
        "removed uv-1  1.0 kB",
        "freed 3.0 kB (2 caches)",
    ]
    assert [e.key for e in caches.entries()] == ["npm-1"]
    nothing = cache(repo, state, "clear", "uv-")
    assert nothing.stdout == "no caches whose key starts with uv-\n"

    data = json.loads(cache(repo, state, "clear", "--json").stdout)
    assert [d["key"] for d in data["removed"]] == ["npm-1"]
    assert data["freed"] == 500
    assert list((state / "caches").iterdir()) == []
    assert cache(repo, state, "list").stdout == "no caches\n"
    assert cache(repo, state, "clear").stdout == "no caches\n"


def test_cache_is_listed_in_the_help(repo: RepoMaker, state: Path) -> None:
    helped = run_cli("cache", "--help", cwd=repo.root)
    assert helped.returncode == 0
    assert "list" in helped.stdout and "clear" in helped.stdout
