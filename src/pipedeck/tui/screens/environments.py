"""`e`: what runs where — each environment's current release, and its deploys.

The upper table has one row per environment; the lower one the deploys of the highlighted
environment, newest first. `enter` on a deploy shows its run; `r` asks to roll the
environment back to it. The screen decides nothing: it returns the choice, and the main
screen confirms and asks the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static

from pipedeck.engine import EnvironmentView
from pipedeck.store import Deployment, Store
from pipedeck.tui.clock import Clock, age, elapsed
from pipedeck.tui.look import icon
from pipedeck.tui.text import markup, rich_plain
from pipedeck.tui.widgets.key_bar import KeyBar


@dataclass(frozen=True)
class EnvironmentChoice:
    deployment: Deployment
    rollback: bool
    """True: roll back to it; False: show its run."""


def _when(stamp: str | None) -> str:
    return (stamp or "")[:16].replace("T", " ")


def _ago(clock: Clock, stamp: str | None) -> str:
    return f"{age(clock, stamp)} ago" if stamp else ""


class EnvironmentsScreen(Screen[EnvironmentChoice | None]):
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("tab", "app.focus_next", "Switch table", show=False),
        Binding("r", "roll_back", "Roll back to it"),
    ]

    def __init__(self, store: Store, clock: Clock, views: list[EnvironmentView]) -> None:
        super().__init__()
        self.store = store
        self.clock = clock
        self.views = views
        self._deploys: dict[str, Deployment] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="environments"):
            yield Static("[b]Environments[/b] — what runs where", classes="title")
            yield DataTable(id="environment-rows", cursor_type="row", zebra_stripes=True)
            yield Static("", id="environment-title", classes="title")
            yield DataTable(id="deployment-rows", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one("#environment-rows", DataTable)
        # What tells environments apart first, so it fits in 80 columns; then the details.
        table.add_columns(
            "environment", "release", "commit", "subject", "behind", "approval", "on the way",
            "run", "deployed", "by",
        )  # fmt: skip
        for view in self.views:
            current = view.current
            approval = view.approval.value + (f" ({view.setting.set_by})" if view.setting else "")
            table.add_row(
                rich_plain(view.name, "bold"),
                rich_plain(f"#{current.sequence}" if current else "—"),
                rich_plain(current.commit[:7] if current else ""),
                rich_plain(current.commit_subject[:30] if current else "nothing deployed yet"),
                rich_plain("" if view.behind is None else str(view.behind)),
                rich_plain(approval, "yellow" if view.approval.value == "required" else "green"),
                rich_plain(", ".join(view.on_the_way)),
                rich_plain(current.run_key if current else ""),
                rich_plain(_ago(self.clock, current.finished_at) if current else ""),
                rich_plain((current.approved_by or "") if current else ""),
                key=view.name,
            )
        deploys = self.query_one("#deployment-rows", DataTable)
        deploys.add_columns(
            "#", "status", "commit", "subject", "run", "started", "took", "approved by", ""
        )
        if self.views:
            self.show_history(self.views[0].name)
        else:
            self.query_one("#environment-title", Static).update(
                "No environments yet: a deploy action names one (environment: production)."
            )
        table.focus()

    def show_history(self, environment: str) -> None:
        deploys = self.query_one("#deployment-rows", DataTable)
        deploys.clear()
        self._deploys = {}
        history = self.store.ledger.history(environment)
        for entry in history:
            key = str(entry.id)
            self._deploys[key] = entry
            look = entry.status.look
            deploys.add_row(
                rich_plain(f"#{entry.sequence}" if entry.sequence else "-"),
                rich_plain(f"{icon(entry.status)} {look.words}", look.colour),
                rich_plain(entry.commit[:7]),
                rich_plain(entry.commit_subject[:40]),
                rich_plain(entry.run_key),
                rich_plain(_when(entry.started_at)),
                rich_plain(elapsed(self.clock, entry.started_at, entry.finished_at)),
                rich_plain(entry.approved_by or ""),
                rich_plain("rollback" if entry.rollback else "", "magenta"),
                key=key,
            )
        self.query_one("#environment-title", Static).update(
            markup(
                "[b]$env[/b] — $n, newest first",
                env=environment,
                n=f"{len(history)} deploy{'s' * (len(history) != 1)}",
            )
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "environment-rows" and event.row_key.value is not None:
            self.show_history(str(event.row_key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "environment-rows":
            self.query_one("#deployment-rows", DataTable).focus()
            return
        chosen = self._deploys.get(str(event.row_key.value))
        if chosen is not None:
            self.dismiss(EnvironmentChoice(chosen, rollback=False))

    def highlighted(self) -> Deployment | None:
        table = self.query_one("#deployment-rows", DataTable)
        if not table.row_count:
            return None
        row = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self._deploys.get(str(row.value))

    def action_roll_back(self) -> None:
        chosen = self.highlighted()
        if chosen is None:
            self.notify("Choose a deploy to roll back to.", severity="warning")
            return
        self.dismiss(EnvironmentChoice(chosen, rollback=True))

    def action_close(self) -> None:
        self.dismiss(None)
