"""Build caches on real files: saved and restored trees, hostile paths and keys, races."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import pytest

from pipedeck.engine.caches import CACHES_DIR, CacheEntry, CacheError, Caches

START = datetime(2025, 1, 1, tzinfo=UTC)


class Clock:
    """Each reading is a second after the last: which entry is newer never depends on speed."""

    def __init__(self) -> None:
        self.moment = START

    def __call__(self) -> datetime:
        self.moment += timedelta(seconds=1)
        return self.moment


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture
def caches(state: Path) -> Caches:
    return Caches(state, clock=Clock())


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Callable[[], Path]]:
    made = iter(range(1000))

    def _fresh() -> Path:
        path = tmp_path / f"restored-{next(made)}"
        path.mkdir()
        return path

    yield _fresh


@pytest.fixture
def no_hang() -> Iterator[None]:
    """A FIFO opened by mistake blocks for ever: fail the test instead of hanging the suite."""

    def hung(signum: int, frame: FrameType | None) -> None:
        raise AssertionError("blocked: something opened the FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def write(path: Path, text: str = "x", mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def saved(caches: Caches, key: str, paths: list[str], workspace: Path) -> CacheEntry:
    result = caches.save(key, paths, workspace)
    assert result.entry is not None, result
    return result.entry


def venv(workspace: Path) -> None:
    """A tree shaped like a virtualenv: nested, executable, absolute and relative links."""
    write(workspace / ".venv/pyvenv.cfg", "home = /usr/bin\n")
    write(workspace / ".venv/bin/activate", "#!/bin/sh\n", mode=0o755)
    write(workspace / ".venv/lib/site/pkg/__init__.py", "VALUE = 1\n", mode=0o644)
    os.symlink("/usr/bin/python3", workspace / ".venv/bin/python")
    os.symlink("python", workspace / ".venv/bin/python3")


def test_a_saved_tree_comes_back_with_modes_and_links(
    caches: Caches, workspace: Path, fresh: Callable[[], Path]
) -> None:
    venv(workspace)
    entry = saved(caches, "uv-abc", [".venv"], workspace)
    assert entry.paths == (".venv",)
    assert entry.files == 3
    assert entry.size == len("home = /usr/bin\n") + len("#!/bin/sh\n") + len("VALUE = 1\n")
    assert entry.created_at == entry.used_at and entry.created_at.endswith("Z")

    target = fresh()
    used = caches.restore(entry, target)
    assert (target / ".venv/lib/site/pkg/__init__.py").read_text() == "VALUE = 1\n"
    assert stat.S_IMODE((target / ".venv/bin/activate").stat().st_mode) == 0o755
    assert stat.S_IMODE((target / ".venv/pyvenv.cfg").stat().st_mode) & 0o111 == 0
    assert os.readlink(target / ".venv/bin/python") == "/usr/bin/python3"
    assert os.readlink(target / ".venv/bin/python3") == "python"
    assert used.used_at > entry.used_at
    assert caches.find("uv-abc") == used  # recorded on disk, not only returned


def test_restored_files_are_copies_that_cannot_change_the_cache(
    caches: Caches, workspace: Path, fresh: Callable[[], Path]
) -> None:
    write(workspace / "deps/lib.txt", "original")
    entry = saved(caches, "k", ["deps"], workspace)
    first = fresh()
    caches.restore(entry, first)
    (first / "deps/lib.txt").write_text("changed by an action")
    assert (first / "deps/lib.txt").stat().st_nlink == 1
    (workspace / "deps/lib.txt").write_text("changed in the workspace it came from")
    second = fresh()
    caches.restore(entry, second)
    assert (second / "deps/lib.txt").read_text() == "original"


def test_a_fifo_is_skipped_without_opening_it(
    caches: Caches, workspace: Path, fresh: Callable[[], Path], no_hang: None
) -> None:
    write(workspace / "build/out.txt", "made")
    os.mkfifo(workspace / "build/pipe")
    # Nobody writes the FIFO: opening it to read would block this test for ever.
    result = caches.save("k", ["build"], workspace)
    assert result.entry is not None and result.entry.files == 1
    assert result.skipped == ("build/pipe (a FIFO)",)
    target = fresh()
    caches.restore(result.entry, target)
    assert sorted(p.name for p in (target / "build").iterdir()) == ["out.txt"]


def test_a_fifo_named_directly_is_skipped_too(
    caches: Caches, workspace: Path, no_hang: None
) -> None:
    os.mkfifo(workspace / "pipe")
    write(workspace / "a.txt")
    result = caches.save("k", ["pipe", "a.txt"], workspace)
    assert result.entry is not None and result.entry.files == 1
    assert result.skipped == ("pipe (a FIFO)",)


@pytest.mark.parametrize("path", ["../x", "/etc", "a/../../x", "~/.cache/pip", "", " "])
def test_paths_that_leave_the_workspace_are_refused(
    caches: Caches, workspace: Path, path: str
) -> None:
    write(workspace / "a/file")
    with pytest.raises(CacheError, match="cache path"):
        caches.save("k", ["a", path], workspace)
    assert caches.entries() == []


def test_a_symlink_in_the_workspace_pointing_out_is_refused(
    caches: Caches, workspace: Path, tmp_path: Path
) -> None:
    secret = write(tmp_path / "outside/secret.txt", "do not take")
    os.symlink(secret.parent, workspace / "out")
    os.symlink(secret, workspace / "secret-link")
    for path in ("out", "out/secret.txt", "out/*", "secret-link"):
        with pytest.raises(CacheError, match="outside the workspace"):
            caches.save("k", [path], workspace)
    assert caches.entries() == []
    assert not caches.root.exists() or list(caches.root.iterdir()) == []


def test_a_link_inside_the_workspace_is_saved_as_a_link_and_where_it_leads_by_real_path(
    caches: Caches, workspace: Path, fresh: Callable[[], Path]
) -> None:
    write(workspace / "real/x.txt", "inside")
    os.symlink("real", workspace / "alias")
    entry = saved(caches, "k", ["alias", "alias/x.txt"], workspace)
    assert entry.paths == ("alias", "real/x.txt")
    target = fresh()
    caches.restore(entry, target)
    assert os.readlink(target / "alias") == "real"
    assert (target / "alias/x.txt").read_text() == "inside"


def test_globs_match_files_and_directories_and_report_what_matched_nothing(
    caches: Caches, workspace: Path
) -> None:
    write(workspace / "dist/a.whl")
    write(workspace / "dist/b.whl")
    write(workspace / "dist/notes.txt")
    write(workspace / "pkg/sub/c.whl")
    result = caches.save("k", ["**/*.whl", "node_modules", "dist"], workspace)
    assert result.entry is not None
    # `dist` holds its wheels already: each path is saved once.
    assert result.entry.paths == ("dist", "pkg/sub/c.whl")
    assert result.entry.files == 4
    assert result.missing == ("node_modules",)


def test_nothing_matched_saves_nothing(caches: Caches, workspace: Path) -> None:
    result = caches.save("k", [".venv", "*.whl"], workspace)
    assert result.entry is None and not result.taken
    assert result.missing == (".venv", "*.whl")
    assert caches.entries() == []


def test_the_whole_workspace(caches: Caches, workspace: Path, fresh: Callable[[], Path]) -> None:
    write(workspace / "a/b.txt", "b")
    write(workspace / "c.txt", "c")
    entry = saved(caches, "k", [".", "a"], workspace)
    assert entry.paths == (".",)
    target = fresh()
    caches.restore(entry, target)
    assert (target / "a/b.txt").read_text() == "b" and (target / "c.txt").read_text() == "c"


def test_an_exact_key_beats_a_prefix_and_the_newest_prefix_match_wins(
    caches: Caches, workspace: Path
) -> None:
    write(workspace / "f")
    exact = saved(caches, "uv-linux-abc", ["f"], workspace)
    saved(caches, "uv-linux-old", ["f"], workspace)
    newest = saved(caches, "uv-linux-new", ["f"], workspace)
    other = saved(caches, "npm-1", ["f"], workspace)
    assert caches.find("uv-linux-abc", ["uv-linux-", "uv-"]) == exact
    assert caches.find("uv-linux-zzz", ["uv-linux-", "uv-"]) == newest
    # Restore keys in the order given: the first that matches anything decides.
    assert caches.find("uv-linux-zzz", ["npm-", "uv-"]) == other
    assert caches.find("uv-linux-zzz") is None
    assert caches.find("pip-1", ["pip-"]) is None
    assert [e.key for e in caches.entries()] == [
        "npm-1",
        "uv-linux-new",
        "uv-linux-old",
        "uv-linux-abc",
    ]


def test_a_key_is_saved_once(caches: Caches, workspace: Path, fresh: Callable[[], Path]) -> None:
    write(workspace / "f", "first")
    first = saved(caches, "k", ["f"], workspace)
    write(workspace / "f", "second")
    again = caches.save("k", ["f", "missing"], workspace)
    assert again.entry is None and again.taken and again.missing == ("missing",)
    assert caches.entries() == [first]
    target = fresh()
    caches.restore(first, target)
    assert (target / "f").read_text() == "first"
    assert list(caches.root.iterdir()) == [first.directory]  # no temporary left


def test_a_save_that_loses_the_race_leaves_the_winner(
    state: Path, workspace: Path, fresh: Callable[[], Path]
) -> None:
    """Two engines save one key: the second finishes copying after the first landed."""
    write(workspace / "f", "mine")
    winner = Caches(state, clock=Clock())
    landed: list[CacheEntry] = []
    ticks = Clock()

    def clock_that_lets_the_winner_land_first() -> datetime:
        # Read by the loser once its tree is complete in its temporary directory.
        (workspace / "f").write_text("winner")
        result = winner.save("k", ["f"], workspace)
        assert result.entry is not None
        landed.append(result.entry)
        return ticks()

    loser = Caches(state, clock=clock_that_lets_the_winner_land_first)
    result = loser.save("k", ["f"], workspace)
    assert result.entry is None and result.taken
    assert winner.entries() == landed
    assert [p.name for p in winner.root.iterdir()] == [landed[0].directory.name]
    target = fresh()
    winner.restore(landed[0], target)
    assert (target / "f").read_text() == "winner"


def test_a_half_written_entry_is_ignored_and_cleared(caches: Caches, workspace: Path) -> None:
    write(workspace / "f")
    entry = saved(caches, "k", ["f"], workspace)
    crashed = caches.root / ".tmp-0123456789abcdef"
    write(crashed / "tree/.venv/half", "half a file")
    (crashed / "tree/.venv").chmod(0o555)  # even a read-only one
    assert caches.entries() == [entry]
    assert caches.clear() == [entry]
    assert list(caches.root.iterdir()) == []


def test_a_temporary_directory_in_use_is_not_cleared(caches: Caches) -> None:
    busy = caches.root / ".tmp-fedcba9876543210"
    busy.mkdir(parents=True)
    fd = os.open(busy, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a save in another engine holds it
        caches.clear()
        assert busy.is_dir()
    finally:
        os.close(fd)
    caches.clear()
    assert not busy.exists()


def test_an_entry_being_restored_is_kept_by_a_clear(caches: Caches, workspace: Path) -> None:
    write(workspace / "f")
    entry = saved(caches, "k", ["f"], workspace)
    fd = os.open(entry.directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # as a restore in another engine holds it
        assert caches.clear() == []
        assert caches.remove(entry) is False
        assert caches.entries() == [entry]
    finally:
        os.close(fd)
    assert caches.clear() == [entry]
    assert caches.entries() == []


def test_damaged_entries_are_skipped_never_a_crash(caches: Caches, workspace: Path) -> None:
    write(workspace / "f")
    good = saved(caches, "good", ["f"], workspace)
    broken = saved(caches, "broken", ["f"], workspace)
    (broken.directory / "meta.json").write_text("{not json")
    wrong = saved(caches, "wrong", ["f"], workspace)
    meta = json.loads((wrong.directory / "meta.json").read_text())
    (wrong.directory / "meta.json").write_text(json.dumps({**meta, "key": "good"}))
    naive = saved(caches, "naive", ["f"], workspace)
    meta = json.loads((naive.directory / "meta.json").read_text())
    (naive.directory / "meta.json").write_text(json.dumps({**meta, "used_at": "2025-01-01"}))
    treeless = saved(caches, "treeless", ["f"], workspace)
    (treeless.directory / "tree/f").unlink()
    (treeless.directory / "tree").rmdir()
    write(caches.root / ("0" * 64) / "meta.json", "[]")

    assert caches.entries() == [good]
    assert caches.find("broken", ["b", "w", "n", "t"]) is None
    with pytest.raises(CacheError, match="damaged"):
        caches.restore(broken, workspace)
    # A damaged entry does not hold its key: the next save replaces it.
    again = saved(caches, "broken", ["f"], workspace)
    assert caches.find("broken") == again
    assert caches.clear() == [again, good]
    assert list(caches.root.iterdir()) == []


@pytest.mark.parametrize(
    "key",
    ["../../etc", "/etc/passwd", "a/b\\c", "line\nbreak\r\x1b[2J", "x" * 512, ".tmp-x", "\udcff"],
)
def test_a_hostile_key_never_becomes_a_path(
    caches: Caches, workspace: Path, tmp_path: Path, key: str
) -> None:
    write(workspace / "f", "data")
    entry = saved(caches, key, ["f"], workspace)
    assert entry.directory.parent == caches.root
    assert len(entry.directory.name) == 64 and set(entry.directory.name) <= set("0123456789abcdef")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state", "work"]
    assert [p.name for p in (tmp_path / "state").iterdir()] == [CACHES_DIR]
    assert caches.find(key) == entry
    assert caches.entries() == [entry]
    assert caches.clear() == [entry]


def test_keys_are_checked(caches: Caches, workspace: Path) -> None:
    write(workspace / "f")
    for key in ("", "x" * 10_000, "x" * 513):
        with pytest.raises(CacheError, match="cache key"):
            caches.save(key, ["f"], workspace)
        with pytest.raises(CacheError, match="cache key"):
            caches.find(key)
    with pytest.raises(CacheError, match="restore key"):
        caches.find("k", [""])
    with pytest.raises(CacheError, match="at least one path"):
        caches.save("k", [], workspace)
    assert not caches.root.exists()


def test_restore_merges_into_a_workspace_that_has_some_of_the_files(
    caches: Caches, workspace: Path, fresh: Callable[[], Path]
) -> None:
    write(workspace / "deps/a.txt", "cached a")
    write(workspace / "deps/b.txt", "cached b")
    write(workspace / "deps/sub/c.txt", "cached c")
    entry = saved(caches, "k", ["deps"], workspace)

    target = fresh()
    write(target / "deps/a.txt", "the action's own a", mode=0o444)
    write(target / "deps/mine.txt", "only in the workspace")
    write(target / "deps/sub", "a file where the cache has a directory")
    write(target / "src/main.py", "print()")
    caches.restore(entry, target)
    assert (target / "deps/a.txt").read_text() == "cached a"
    assert (target / "deps/b.txt").read_text() == "cached b"
    assert (target / "deps/sub/c.txt").read_text() == "cached c"
    assert (target / "deps/mine.txt").read_text() == "only in the workspace"
    assert (target / "src/main.py").read_text() == "print()"


def test_restore_never_writes_through_a_symlink_in_the_workspace(
    caches: Caches, workspace: Path, fresh: Callable[[], Path], tmp_path: Path
) -> None:
    """The repository may commit `a -> /etc`; the cache has a directory `a` with `a/x`."""
    write(workspace / "a/x", "from the cache")
    write(workspace / "f", "cached f")
    write(workspace / "d/inner", "cached inner")
    entry = saved(caches, "k", ["a", "f", "d"], workspace)

    outside = tmp_path / "outside"
    outside.mkdir()
    victim = write(outside / "victim", "untouched")
    target = fresh()
    os.symlink(outside, target / "a")  # a directory of the cache, a link to outside here
    os.symlink(victim, target / "f")  # a file of the cache, a link to an outside file here
    (target / "d").mkdir()
    os.symlink(victim, target / "d/inner")
    caches.restore(entry, target)
    assert sorted(p.name for p in outside.iterdir()) == ["victim"]
    assert victim.read_text() == "untouched"
    assert not (target / "a").is_symlink() and (target / "a/x").read_text() == "from the cache"
    assert not (target / "f").is_symlink() and (target / "f").read_text() == "cached f"
    assert (target / "d/inner").read_text() == "cached inner"


def test_a_tampered_tree_cannot_lead_a_restore_outside(
    caches: Caches, workspace: Path, fresh: Callable[[], Path], tmp_path: Path
) -> None:
    """A cache tree holding a link named like a directory (`a -> outside`) restores a link,
    and nothing of the cache is written through it, even where the workspace has `a/`."""
    write(workspace / "a/x", "x")
    entry = saved(caches, "k", ["a"], workspace)
    outside = tmp_path / "outside"
    outside.mkdir()
    tree = entry.directory / "tree"
    (tree / "a/x").unlink()
    (tree / "a").rmdir()
    os.symlink(outside, tree / "a")
    write(tree / "b/x", "x")
    target = fresh()
    write(target / "a/x", "the workspace's")
    caches.restore(entry, target)
    assert os.readlink(target / "a") == str(outside)
    assert list(outside.iterdir()) == []
    assert (target / "b/x").read_text() == "x"


def test_a_read_only_directory_is_saved_restored_and_cleared(
    caches: Caches, workspace: Path, fresh: Callable[[], Path]
) -> None:
    write(workspace / "ro/sub/file", "f")
    (workspace / "ro/sub").chmod(0o555)
    (workspace / "ro").chmod(0o555)
    try:
        entry = saved(caches, "k", ["ro/sub"], workspace)
        target = fresh()
        caches.restore(entry, target)
        assert (target / "ro/sub/file").read_text() == "f"
        assert stat.S_IMODE((target / "ro/sub").stat().st_mode) == 0o555
        assert stat.S_IMODE((target / "ro").stat().st_mode) == 0o555
        assert [e.key for e in caches.clear()] == [entry.key]
        for path in (target / "ro/sub", target / "ro"):
            path.chmod(0o755)
    finally:
        (workspace / "ro").chmod(0o755)
        (workspace / "ro/sub").chmod(0o755)


def test_stale_entries_are_those_unused_for_long_enough(caches: Caches, workspace: Path) -> None:
    write(workspace / "f")
    old = saved(caches, "old", ["f"], workspace)  # 00:00:01
    used = saved(caches, "used", ["f"], workspace)  # 00:00:02
    saved(caches, "new", ["f"], workspace)  # 00:00:03
    used = caches.restore(used, workspace / "again")  # 00:00:04
    now = START + timedelta(seconds=10)
    assert [e.key for e in caches.stale(8, now)] == ["old"]
    assert [e.key for e in caches.stale(7, now)] == ["new", "old"]
    assert [e.key for e in caches.stale(6, now)] == ["new", "used", "old"]
    assert caches.stale(100, now) == []
    assert old in caches.stale(9, now)


def test_clear_by_prefix(caches: Caches, workspace: Path) -> None:
    write(workspace / "f", "12345")
    saved(caches, "uv-1", ["f"], workspace)
    saved(caches, "uv-2", ["f"], workspace)
    npm = saved(caches, "npm-1", ["f"], workspace)
    assert [e.key for e in caches.clear("uv-")] == ["uv-2", "uv-1"]
    assert caches.entries() == [npm]
    assert caches.clear("nothing-") == []
    assert Caches(caches.root.parent / "elsewhere").clear() == []
