"""A store written by the previous version opens, upgraded in place, its history intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pipedeck.store import PlannedAction, PlannedStage, Status, Store
from pipedeck.store.db import _UPGRADE_FROM_4, _UPGRADE_FROM_5, SCHEMA_VERSION
from pipedeck.store.layout import DB_NAME

# The schema as version 1 wrote it, kept verbatim: the upgrade must start from exactly this.
V1_SCHEMA = """
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
    error TEXT
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
    comment TEXT
);
CREATE TABLE IF NOT EXISTS deployments (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    action_id INTEGER NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
    environment TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    deployed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_pipeline ON runs (pipeline, number DESC);
CREATE INDEX IF NOT EXISTS runs_active ON runs (status)
    WHERE status IN ('queued','running','waiting');
CREATE INDEX IF NOT EXISTS stages_by_run ON stages (run_id, position);
CREATE INDEX IF NOT EXISTS actions_by_run ON actions (run_id, stage_id, position);
"""


def test_a_version_1_store_is_upgraded_and_keeps_its_runs(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.executescript(V1_SCHEMA)
    conn.execute(
        "INSERT INTO runs (pipeline, number, status, commit_sha, created_at)"
        " VALUES ('ci', 1, 'failed', 'abc', '2026-01-01T00:00:00.000Z')"
    )
    conn.execute(
        "INSERT INTO stages (run_id, position, name, status) VALUES (1, 0, 'Build', 'failed')"
    )
    conn.execute(
        "INSERT INTO actions (run_id, stage_id, position, name, kind, run_order, status)"
        " VALUES (1, 1, 0, 'compile', 'build', 1, 'failed')"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    try:
        run = store.find_run("ci/1")
        assert (run.status, run.waiting_for, run.cancel_mode) == (Status.FAILED, None, "now")
        (action,) = [a for _, a in store.detail(run).actions()]
        assert (action.action.attempt, action.action.output_variables) == (1, {})
        # The tables new in version 2 are there and work.
        assert store.requests.take_next() is None
        assert store.transitions.listed() == []
        version = store.connection().execute("PRAGMA user_version").fetchone()[0]
        assert version == SCHEMA_VERSION
        # Version 3's column and table: who decided as git knows them, a run's own file.
        assert store.definition(run.id) is None
        columns = {r[1] for r in store.connection().execute("PRAGMA table_info(approvals)")}
        assert "decided_email" in columns
    finally:
        store.close()
    # Opening it again does not try to upgrade twice.
    Store(tmp_path).close()


def test_a_version_2_store_gains_what_version_3_keeps(tmp_path: Path) -> None:
    """Version 2 is version 1 with its upgrade applied (as `db.py` wrote it then)."""
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.executescript(V1_SCHEMA)
    for statement in (
        "ALTER TABLE runs ADD COLUMN waiting_for TEXT",
        "ALTER TABLE runs ADD COLUMN cancel_mode TEXT NOT NULL DEFAULT 'now'",
        "ALTER TABLE actions ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE actions ADD COLUMN output_variables TEXT NOT NULL DEFAULT '{}'",
    ):
        conn.execute(statement)
    conn.execute(
        "INSERT INTO runs (pipeline, number, status, commit_sha, created_at)"
        " VALUES ('ci', 1, 'waiting', 'abc', '2026-01-01T00:00:00.000Z')"
    )
    conn.execute(
        "INSERT INTO approvals (action_id, run_id, requested_at, result, decided_by)"
        " VALUES (1, 1, '2026-01-01T00:00:00.000Z', 'approved', 'ada')"
    )
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    try:
        approval = store.approval(1)
        assert (approval.decided_by, approval.decided_email) == ("ada", None)
        assert store.definition(1) is None
        assert store.connection().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        store.close()


def _drop_version_6(conn: sqlite3.Connection) -> None:
    """Today's schema back to version 5: without what version 6 added."""
    _drop_columns(conn, _UPGRADE_FROM_5)
    conn.execute("DROP TABLE test_cases")
    conn.execute("DROP TABLE report_problems")


def _drop_columns(conn: sqlite3.Connection, upgrade: tuple[str, ...]) -> None:
    for statement in upgrade:
        words = statement.split()
        if words[0] == "ALTER":
            conn.execute(f"ALTER TABLE {words[2]} DROP COLUMN {words[5]}")


def _drop_version_5(conn: sqlite3.Connection) -> None:
    """Today's schema back to version 4: without what versions 5 and 6 added."""
    _drop_version_6(conn)
    _drop_columns(conn, _UPGRADE_FROM_4)
    conn.execute("DROP TABLE environment_settings")
    conn.execute("DROP INDEX deployments_by_environment")


def test_a_version_3_store_gains_where_each_run_s_file_came_from(tmp_path: Path) -> None:
    """Version 3 is today's schema without the columns versions 4 and 5 added."""
    store = Store(tmp_path)
    store.create_run("ci", [], commit="abc", commit_subject="s", branch="main", variables={})
    store.requests.add_start("ci", "abc", {}, "ada")
    store.close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    _drop_version_5(conn)
    for table, column in (
        ("runs", "definition_origin"),
        ("runs", "definition_path"),
        ("requests", "definition_sha"),
        ("requests", "definition_path"),
    ):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    try:
        run = store.find_run("ci/1")
        assert (run.definition_origin, run.definition_path) == (None, None)
        request = store.requests.take_next()
        assert request is not None and request.definition_sha is None
        assert store.connection().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        store.close()


def test_a_version_4_store_s_deployments_become_ledger_entries(tmp_path: Path) -> None:
    store = Store(tmp_path)
    plan = [PlannedStage("Deploy", [PlannedAction("ship", "deploy", 1)])]
    for sha in ("aaa", "bbb"):
        run = store.create_run(
            "ci", plan, commit=sha, commit_subject=f"subject {sha}", branch="main", variables={}
        )
        action = store.detail(run).stages[0].actions[0].action
        store.connection().execute(
            "INSERT INTO deployments (run_id, action_id, environment, commit_sha, deployed_at)"
            " VALUES (?, ?, 'production', ?, ?)",
            (run.id, action.id, sha, f"2026-01-0{run.number}T10:00:00.000Z"),
        )
    store.close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    _drop_version_5(conn)
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    try:
        current = store.ledger.current("production")
        assert current is not None
        assert (current.commit, current.run_key, current.sequence) == ("bbb", "ci/2", 2)
        assert (current.stage, current.action, current.commit_subject) == (
            "Deploy",
            "ship",
            "subject bbb",
        )
        assert current.status is Status.SUCCEEDED and not current.rollback
        assert current.finished_at == "2026-01-02T10:00:00.000Z"
        assert [d.commit for d in store.ledger.history("production")] == ["bbb", "aaa"]
        assert store.find_run("ci/1").kind == "run"
    finally:
        store.close()


def test_a_version_5_store_gains_test_results_and_shard_names(tmp_path: Path) -> None:
    store = Store(tmp_path)
    plan = [PlannedStage("Test", [PlannedAction("unit", "test", 1)])]
    store.create_run("ci", plan, commit="abc", commit_subject="s", branch="main", variables={})
    store.close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    _drop_version_6(conn)
    conn.execute("PRAGMA user_version = 5")
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    try:
        run = store.find_run("ci/1")
        action = store.detail(run).stages[0].actions[0].action
        assert (action.group, action.shown, action.group_name) == ("unit", "unit", None)
        store.results.record(
            run.id, action.id, 1, [("r.xml", "s", "c", "t", 0.5, "passed", None)], []
        )
        assert [c.name for c in store.results.cases(run.id)] == ["t"]
        assert store.connection().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        store.close()
