"""The SQLite file: schema, connection settings, and small helpers.

WAL lets a console read while an engine writes, and lets `pipedeck approve` in another shell
write while a run is in progress. Each statement commits on its own (autocommit) unless a
caller opens `transaction()`; `busy_timeout` makes concurrent writers wait instead of failing.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

SCHEMA_VERSION = 6

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    pipeline TEXT NOT NULL,
    number INTEGER NOT NULL,
    status TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    commit_subject TEXT NOT NULL DEFAULT '',
    branch TEXT,
    trigger TEXT NOT NULL DEFAULT 'manual',
    variables TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    engine_id TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    waiting_for TEXT,
    cancel_mode TEXT NOT NULL DEFAULT 'now',
    definition_origin TEXT,
    definition_path TEXT,
    kind TEXT NOT NULL DEFAULT 'run',
    rollback_of INTEGER,
    pruned_at TEXT,
    UNIQUE (pipeline, number)
);
CREATE TABLE IF NOT EXISTS stages (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    stage_id INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    run_order INTEGER NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    exit_code INTEGER,
    pid INTEGER,
    log_path TEXT,
    error TEXT,
    attempt INTEGER NOT NULL DEFAULT 1,
    output_variables TEXT NOT NULL DEFAULT '{}',
    environment TEXT,
    hold TEXT,
    hold_until TEXT,
    group_name TEXT,
    label TEXT
);
CREATE TABLE IF NOT EXISTS action_attempts (
    id INTEGER PRIMARY KEY,
    action_id INTEGER NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    exit_code INTEGER,
    log_path TEXT,
    error TEXT,
    UNIQUE (action_id, attempt)
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    pipeline TEXT,
    rev TEXT,
    branch TEXT,
    variables TEXT NOT NULL DEFAULT '{}',
    run_id INTEGER,
    all_actions INTEGER NOT NULL DEFAULT 0,
    requested_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    taken_at TEXT,
    result_run_id INTEGER,
    error TEXT,
    definition_sha TEXT,
    definition_path TEXT,
    stage TEXT
);
CREATE TABLE IF NOT EXISTS transitions (
    pipeline TEXT NOT NULL,
    stage TEXT NOT NULL,
    disabled_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    disabled_at TEXT NOT NULL,
    PRIMARY KEY (pipeline, stage)
);
CREATE TABLE IF NOT EXISTS artifacts (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    action_id INTEGER NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    UNIQUE (run_id, name)
);
CREATE TABLE IF NOT EXISTS approvals (
    action_id INTEGER PRIMARY KEY REFERENCES actions(id) ON DELETE CASCADE,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    message TEXT NOT NULL DEFAULT '',
    requested_at TEXT NOT NULL,
    expires_at TEXT,
    result TEXT,
    decided_by TEXT,
    decided_at TEXT,
    comment TEXT,
    decided_email TEXT,
    environment TEXT,
    approvers TEXT,
    author_email TEXT
);
CREATE TABLE IF NOT EXISTS pipeline_sources (
    sha256 TEXT PRIMARY KEY,
    source BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS run_definitions (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL REFERENCES pipeline_sources(sha256)
);
CREATE TABLE IF NOT EXISTS deployments (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    action_id INTEGER NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
    environment TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    deployed_at TEXT NOT NULL,
    pipeline TEXT,
    stage TEXT,
    action TEXT,
    commit_subject TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'succeeded',
    finished_at TEXT,
    approved_by TEXT,
    artifacts TEXT NOT NULL DEFAULT '{}',
    rollback INTEGER NOT NULL DEFAULT 0,
    sequence INTEGER
);
CREATE TABLE IF NOT EXISTS test_cases (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    action_id INTEGER NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    report TEXT NOT NULL,
    suite TEXT NOT NULL,
    classname TEXT NOT NULL,
    name TEXT NOT NULL,
    duration REAL,
    outcome TEXT NOT NULL,
    message TEXT
);
CREATE TABLE IF NOT EXISTS report_problems (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    action_id INTEGER NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    report TEXT NOT NULL,
    problem TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS environment_settings (
    environment TEXT PRIMARY KEY,
    approval TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_pipeline ON runs (pipeline, number DESC);
CREATE INDEX IF NOT EXISTS runs_active ON runs (status)
    WHERE status IN ('queued','running','waiting');
CREATE INDEX IF NOT EXISTS stages_by_run ON stages (run_id, position);
CREATE INDEX IF NOT EXISTS actions_by_run ON actions (run_id, stage_id, position);
CREATE INDEX IF NOT EXISTS test_cases_by_action ON test_cases (action_id, attempt);
CREATE INDEX IF NOT EXISTS deployments_by_environment ON deployments (environment, id DESC);
CREATE INDEX IF NOT EXISTS requests_pending ON requests (id) WHERE taken_at IS NULL;
CREATE INDEX IF NOT EXISTS runs_by_branch ON runs (pipeline, branch, number DESC);
"""

# Columns added by each version to tables that existed before it; tables new in a version
# come from SCHEMA itself.
_UPGRADE_FROM_1 = (
    "ALTER TABLE runs ADD COLUMN waiting_for TEXT",
    "ALTER TABLE runs ADD COLUMN cancel_mode TEXT NOT NULL DEFAULT 'now'",
    "ALTER TABLE actions ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE actions ADD COLUMN output_variables TEXT NOT NULL DEFAULT '{}'",
)
_UPGRADE_FROM_2 = ("ALTER TABLE approvals ADD COLUMN decided_email TEXT",)
_UPGRADE_FROM_3 = (
    "ALTER TABLE runs ADD COLUMN definition_origin TEXT",
    "ALTER TABLE runs ADD COLUMN definition_path TEXT",
    "ALTER TABLE requests ADD COLUMN definition_sha TEXT",
    "ALTER TABLE requests ADD COLUMN definition_path TEXT",
)
_UPGRADE_FROM_4 = (
    "ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'run'",
    "ALTER TABLE runs ADD COLUMN rollback_of INTEGER",
    "ALTER TABLE runs ADD COLUMN pruned_at TEXT",
    "ALTER TABLE actions ADD COLUMN environment TEXT",
    "ALTER TABLE actions ADD COLUMN hold TEXT",
    "ALTER TABLE actions ADD COLUMN hold_until TEXT",
    "ALTER TABLE requests ADD COLUMN stage TEXT",
    "ALTER TABLE approvals ADD COLUMN environment TEXT",
    "ALTER TABLE approvals ADD COLUMN approvers TEXT",
    "ALTER TABLE approvals ADD COLUMN author_email TEXT",
    "ALTER TABLE deployments ADD COLUMN pipeline TEXT",
    "ALTER TABLE deployments ADD COLUMN stage TEXT",
    "ALTER TABLE deployments ADD COLUMN action TEXT",
    "ALTER TABLE deployments ADD COLUMN commit_subject TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE deployments ADD COLUMN status TEXT NOT NULL DEFAULT 'succeeded'",
    "ALTER TABLE deployments ADD COLUMN finished_at TEXT",
    "ALTER TABLE deployments ADD COLUMN approved_by TEXT",
    "ALTER TABLE deployments ADD COLUMN artifacts TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE deployments ADD COLUMN rollback INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE deployments ADD COLUMN sequence INTEGER",
    # Deployments recorded before the ledger: each was a success, at the moment recorded.
    "UPDATE deployments SET finished_at = deployed_at, sequence = (SELECT COUNT(*) FROM"
    " deployments d WHERE d.environment = deployments.environment AND d.id <= deployments.id),"
    " pipeline = (SELECT r.pipeline FROM runs r WHERE r.id = run_id),"
    " commit_subject = (SELECT r.commit_subject FROM runs r WHERE r.id = run_id),"
    " action = (SELECT a.name FROM actions a WHERE a.id = action_id),"
    " stage = (SELECT s.name FROM actions a JOIN stages s ON s.id = a.stage_id"
    " WHERE a.id = action_id)",
)
# Test results' tables (`test_cases`, `report_problems`) came with version 6 too, whole.
_UPGRADE_FROM_5 = (
    "ALTER TABLE actions ADD COLUMN group_name TEXT",
    "ALTER TABLE actions ADD COLUMN label TEXT",
)


def format_time(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a `Z`: sortable as text, readable as is."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now() -> str:
    return format_time(datetime.now(UTC))


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def private(path: Path) -> None:
    """The state directory is yours alone (0700), whatever the umask it was made under."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o777 != 0o700:
        path.chmod(0o700)


def connect(path: Path) -> sqlite3.Connection:
    private(path.parent)
    # Made 0600 before SQLite opens it: SQLite gives its -wal and -shm files the same mode.
    # Only when it is new: closing any descriptor of a file drops every POSIX lock the
    # process holds on it, so opening and closing an existing database beside a connection
    # this process already has would free that connection's locks, and another process
    # would take the database for unused and delete the write-ahead log it still writes to.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if file.stat().st_mode & 0o777 != 0o600:
                file.chmod(0o600)
    # Two processes opening a brand-new file at once can both try to switch it to WAL; SQLite
    # answers one of them "locked" without waiting. That is worth a few more tries.
    for attempt in range(50):
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            _prepare(conn)
        except sqlite3.OperationalError as exc:
            conn.close()
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.02 + 0.01 * attempt)
        else:
            return conn
    raise AssertionError("unreachable")


def _prepare(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    # NORMAL in WAL mode survives a process crash (only power loss can drop the last commits).
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version < SCHEMA_VERSION:
        with transaction(conn):
            # Another process may have upgraded it while we waited for the write lock.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version:  # an existing store: the columns every later version added
                steps = {
                    1: _UPGRADE_FROM_1,
                    2: _UPGRADE_FROM_2,
                    3: _UPGRADE_FROM_3,
                    4: _UPGRADE_FROM_4,
                    5: _UPGRADE_FROM_5,
                }
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
                for step in range(version, SCHEMA_VERSION):
                    for statement in steps[step]:
                        # A table newer than this store comes whole from SCHEMA below.
                        words = statement.split()
                        if words[2 if words[0] == "ALTER" else 1] in tables:
                            conn.execute(statement)
            if version < SCHEMA_VERSION:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE: take the write lock up front so read-then-write steps are atomic."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
