"""Query: which documents active learning ranks first, by which strategy, and a new run."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from studio.tui.messages import QueryFinished
from studio.tui.screens.base import StudioScreen

SHOWN = 200  # ranked items listed; a query's batch is usually far smaller

HELP = """\
[b]Query[/b]: the newest ranking of what to review next (the Labels screen follows it),
the strategy asked for and the one used (random on a cold start, with the reason), and whether
more labels are still changing the model (stabilizing predictions between rounds).

  s  choose the strategy for the next run (cycles through them)
  r  run a new query with that strategy (recorded as a query.run decision)"""


def strategies() -> tuple[str, ...]:
    from studio.ops.active.strategies import STRATEGIES  # numpy: loaded when the screen needs it

    return tuple(STRATEGIES)


class QueryScreen(StudioScreen):
    NAME = "query"
    AUTO_FOCUS = "#ranking"
    HELP = HELP
    PALETTE: ClassVar[list[tuple[str, str]]] = [
        ("run", "run a new active learning query"),
        ("strategy", "choose the query strategy"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run", "Run query"),
        Binding("s", "strategy", "Strategy"),
        *StudioScreen.BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.strategy = "hybrid"  # the operation's default (studio/ops/active/operations.py)
        self.busy = False

    def compose_body(self) -> ComposeResult:
        yield Static("", id="query-summary")
        yield DataTable(id="ranking", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#ranking", DataTable).add_columns("rank", "doc", "score", "text")

    def reload(self) -> None:
        runs = self.store.decisions(action="query.run", limit=1)
        table = self.query_one("#ranking", DataTable)
        table.clear()
        head = Text()
        head.append("next run: ", style="dim")
        head.append(self.strategy, style="bold")
        head.append("  (s changes it, r runs)\n", style="dim")
        if not runs:
            head.append("No query has been run yet.")
            self.query_one("#query-summary", Static).update(head)
            return
        d = runs[-1]
        p = d.payload
        head.append(f"query #{d.id}: ", style="bold")
        head.append(f"{p.get('task', '?')} · asked {p.get('strategy', '?')} · used {p.get('used', '?')}")
        if p.get("cold_start"):
            head.append(" · cold start", style="yellow")
        head.append(f" · pool {p.get('pool', '?')} · labeled {p.get('labeled', '?')}")
        if p.get("reason"):
            head.append(f"\n{p['reason']}", style="dim")
        if p.get("task") == "classification" and "agreements" in p:
            from studio.ops.active.query import stop_message

            head.append(f"\n{stop_message(p)}", style="green" if p.get("stop") else "dim")
        self.query_one("#query-summary", Static).update(head)
        items = p.get("items") or []
        for it in items[:SHOWN]:
            doc_id = it.get("document_id")
            snippet = ""
            if doc_id is not None:
                row = self.store.conn.execute(
                    "SELECT substr(text, 1, 200) FROM documents WHERE id = ?", (doc_id,)
                ).fetchone()
                snippet = " ".join((row[0] if row else "").split())[:60]
            table.add_row(
                str(it.get("rank", "")), str(doc_id or it.get("item", "")), f"{float(it.get('score', 0)):.3f}", snippet
            )

    def action_strategy(self) -> None:
        options = strategies()
        self.strategy = (
            options[(options.index(self.strategy) + 1) % len(options)] if self.strategy in options else options[0]
        )
        self.reload()

    def action_run(self) -> None:
        if self.busy:
            self.say("A query is already running.")
            return
        self.busy = True
        self.say(f"Ranking the pool with {self.strategy}…")
        self.run_query(self.strategy)

    @work(thread=True, exclusive=True, exit_on_error=False, group="query")
    def run_query(self, strategy: str) -> None:
        from studio.tui.workers import run_op

        result = run_op(self, "query", {"strategy": strategy})
        self.post_message(QueryFinished(result.query_id))

    def on_query_finished(self, message: QueryFinished) -> None:
        self.busy = False
        self.say(f"Query #{message.query_id} done: the Labels screen (4) follows the new order.")
        self.reload()

    def work_failed(self, worker: object) -> None:
        self.busy = False
