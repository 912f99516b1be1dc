"""`h`: every past run, newest first, filtered by pipeline, status and free text.

Each run says what its test reports counted (`✘ 2 failed of 297`), when it has any. Free
text matches the run, commit SHA, commit subject, and who decided its approvals. The
screen returns the chosen run's key; the main screen then shows it. `R` runs the highlighted
run's commit again, with the pipeline file as committed in it.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Input, Select, Static

from pipedeck.store import RunRecord, Status, Store
from pipedeck.store.results import FAILING, in_words
from pipedeck.tui.clock import Clock, elapsed
from pipedeck.tui.look import icon
from pipedeck.tui.text import markup, rich_plain
from pipedeck.tui.widgets.key_bar import KeyBar

ALL = "all"


class HistoryScreen(Screen[str | None]):
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("R", "rerun", "Run again"),
    ]

    def __init__(
        self,
        store: Store,
        clock: Clock,
        pipelines: list[str],
        rerun: Callable[[str], object] | None = None,
    ) -> None:
        super().__init__()
        self.rerun = rerun
        """Runs a chosen run's commit again, with its pipeline file as committed then."""
        self.store = store
        self.clock = clock
        self.pipelines = pipelines
        self._runs: list[RunRecord] = []
        self._deciders: dict[int, str] = {}
        self._tests: dict[int, dict[str, int]] = {}
        """Run id → test outcome → count, for the runs with test results."""

    def compose(self) -> ComposeResult:
        with Vertical(id="history"):
            yield Static("[b]History[/b] — every run, newest first", classes="title")
            with Horizontal(classes="filters"):
                yield Select(
                    [(rich_plain(p), p) for p in self.pipelines],
                    prompt="pipeline",
                    allow_blank=True,
                    id="pipeline",
                )
                yield Select(
                    [(s.look.words, s.value) for s in Status], prompt="status", id="status"
                )
                yield Input(placeholder="commit, subject, approver…", id="text")
            yield DataTable(id="history-runs", cursor_type="row", zebra_stripes=True)
            yield Static("", id="count")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        self._runs = self.store.runs()
        self._deciders = self.store.deciders()
        # One aggregate query for every run listed, through the runs' actions.
        self._tests = self.store.results.counts([r.id for r in self._runs])
        tests = ("tests",) if self._tests else ()
        table.add_columns(
            "run", "status", *tests, "commit", "subject", "branch", "started", "took", "decided by"
        )
        self.refilter()
        table.focus()

    def matches(self, run: RunRecord) -> bool:
        pipeline = self.query_one("#pipeline", Select)
        status = self.query_one("#status", Select)
        text = self.query_one("#text", Input).value.strip().lower()
        if not pipeline.is_blank() and run.pipeline != pipeline.value:
            return False
        if not status.is_blank() and run.status != status.value:
            return False
        if text:
            haystack = " ".join(
                [run.key, run.commit, run.commit_subject, self._deciders.get(run.id, "")]
            ).lower()
            return text in haystack
        return True

    def refilter(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        shown = [r for r in self._runs if self.matches(r)]
        for run in shown:
            tests = []
            if self._tests:  # the column is there when some run has test results
                counts = self._tests.get(run.id, {})
                failing = any(counts.get(outcome) for outcome in FAILING)
                tests.append(rich_plain(in_words(counts), "red" if failing else "green"))
            table.add_row(
                rich_plain(run.key),
                rich_plain(f"{icon(run.status)} {run.status.look.words}", run.status.look.colour),
                *tests,
                rich_plain(run.commit[:7]),
                rich_plain(run.commit_subject[:50]),
                rich_plain(run.branch or ""),
                rich_plain(run.created_at[:19].replace("T", " ")),
                rich_plain(elapsed(self.clock, run.started_at, run.finished_at)),
                rich_plain(self._deciders.get(run.id, "")),
                key=run.key,
            )
        self.query_one("#count", Static).update(
            markup("$shown of $total runs", shown=len(shown), total=len(self._runs))
        )

    def visible_keys(self) -> list[str]:
        table = self.query_one(DataTable)
        return [str(row.value) for row in table.rows]

    def on_select_changed(self, event: Select.Changed) -> None:
        self.refilter()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.refilter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.dismiss(str(event.row_key.value))

    def action_focus_filter(self) -> None:
        self.query_one("#text", Input).focus()

    def action_rerun(self) -> None:
        table = self.query_one(DataTable)
        if self.rerun is None or not table.row_count:
            return
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        self.rerun(key)
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
