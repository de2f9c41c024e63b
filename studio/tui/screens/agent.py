"""Agent: the conversation so far, the queue of proposed actions, and runs with a progress bar."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import OptionList, ProgressBar, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from studio.errors import StudioError
from studio.schema import Decision, Proposal
from studio.tui import core
from studio.tui.dialogs import ReasonDialog
from studio.tui.messages import ActionFinished, ActionProposed, WorkProgress
from studio.tui.screens.base import StudioScreen
from studio.tui.workers import run_op

HELP = """\
[b]Agent[/b]: the agent proposes one action at a time (crawl, import, weak_label,
cleanse_boxes, query, release). Nothing runs until you approve it.

  n          ask the agent for the next action
  up / down  pick an action in the queue
  a          approve the selected action
  x          reject it with a reason (the agent reads it before proposing again)
  r          run the selected approved action (progress below)
  c          cancel the run; it stops at its next step and the failure is logged
The conversation on top is built from the decision log."""

CONVERSATION_LIMIT = 60


def _line(d: Decision, described: dict[int, str]) -> Text | None:
    who = d.actor
    verb = d.action.rsplit(".", 1)[-1]
    pid = d.payload.get("proposal_id")
    t = Text()
    t.append(
        f"{who:<14} ", style="bold cyan" if who == "agent" else ("bold green" if who.startswith("human") else "dim")
    )
    if d.action.startswith("guideline."):
        t.append(f"{verb} guideline v{d.payload.get('version')}")
    elif verb == "propose":
        text = described.get(int(d.id or 0))
        if text is None:
            return None
        t.append(f"proposes {text}")
    elif verb in ("approve", "edit"):
        t.append(f"{'approves' if verb == 'approve' else 'approves with edits'} #{pid} {d.payload.get('tool', '')}")
    elif verb == "reject":
        t.append(f"rejects #{pid} {d.payload.get('tool', '')}: {d.rationale}")
    elif verb == "done":
        result = d.payload.get("result") or {}
        summary = ", ".join(f"{k} {v}" for k, v in result.items() if isinstance(v, int | float | str))[:120]
        t.append(f"ran #{pid} {d.payload.get('tool', '')}: {summary}")
    elif verb == "fail":
        t.append(f"#{pid} {d.payload.get('tool', '')} failed: {d.payload.get('error', '')}", style="red")
    else:
        t.append(d.action)
    return t


class AgentScreen(StudioScreen):
    NAME = "agent"
    AUTO_FOCUS = "#actions"
    HELP = HELP
    PALETTE: ClassVar[list[tuple[str, str]]] = [
        ("propose", "ask the agent for the next action"),
        ("approve", "approve the selected action"),
        ("reject", "reject the selected action with a reason"),
        ("run", "run the selected approved action"),
        ("cancel", "cancel the running action"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "propose", "Next action"),
        Binding("a", "approve", "Approve"),
        Binding("x", "reject", "Reject"),
        Binding("r", "run", "Run"),
        Binding("c", "cancel", "Cancel run"),
        *StudioScreen.BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.thinking = False
        self.running: Worker[None] | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="conversation"):
            yield Static("", id="conversation-text")
        yield OptionList(id="actions")
        with Horizontal(id="run"):
            yield Static("", id="run-label")
            yield ProgressBar(id="run-bar", show_eta=False)

    def on_mount(self) -> None:
        self.query_one("#run").display = False

    # -- reading -------------------------------------------------------------------------
    def reload(self) -> None:
        self._conversation()
        self._queue()
        self.refresh_bindings()

    def _conversation(self) -> None:
        store = self.store
        rows = store.decisions(action="agent.action", limit=CONVERSATION_LIMIT)
        rows += store.decisions(action="guideline", limit=CONVERSATION_LIMIT)
        rows.sort(key=lambda d: d.id or 0)
        rows = rows[-CONVERSATION_LIMIT:]
        ids = [int(d.id or 0) for d in rows if d.action == "agent.action.propose"]
        described: dict[int, str] = {}
        if ids:
            marks = ",".join("?" * len(ids))
            for r in store.conn.execute(f"SELECT id, decision_id FROM proposals WHERE decision_id IN ({marks})", ids):
                described[int(r[1])] = core.loop().describe_action(store.proposal(int(r[0])))
        lines = [line for d in rows if (line := _line(d, described)) is not None]
        text = Text("\n").join(lines) if lines else Text("No agent activity yet: press n for a proposal.", style="dim")
        self.query_one("#conversation-text", Static).update(text)
        self.query_one("#conversation", VerticalScroll).scroll_end(animate=False)

    def _queue(self) -> None:
        """Pending actions, then approved ones that have not run yet."""
        store = self.store
        done = {
            d.payload.get("proposal_id")
            for d in store.decisions(action="agent.action")
            if d.action in ("agent.action.done", "agent.action.fail")
        }
        props = [
            p for p in store.proposals(kind="action", status=None) if p.status in ("pending", "accepted", "edited")
        ]
        props = [p for p in props if p.status == "pending" or p.id not in done]
        opts = self.query_one("#actions", OptionList)
        keep = opts.highlighted
        opts.clear_options()
        for p in props:
            state = "pending " if p.status == "pending" else "approved"
            opts.add_option(Option(Text.assemble((f"{state} ", "bold"), core.loop().describe_action(p)), id=str(p.id)))
        if props:
            opts.highlighted = min(keep or 0, len(props) - 1)
            opts.focus()

    def selected(self) -> Proposal | None:
        opts = self.query_one("#actions", OptionList)
        if opts.highlighted is None or opts.option_count == 0:
            return None
        option = opts.get_option_at_index(opts.highlighted)
        return self.store.proposal(int(option.id or 0))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.running is not None
        if action == "propose":
            return not self.thinking
        return True

    # -- proposing -----------------------------------------------------------------------
    def action_propose(self) -> None:
        if self.thinking:
            return
        self.thinking = True
        self.say("The agent is thinking about the next action…")
        self.refresh_bindings()
        self.propose()

    @work(thread=True, exclusive=True, exit_on_error=False, group="agent-propose")
    def propose(self) -> None:
        # Registry operations, so the app's session records (and replays) the agent's steps.
        self.post_message(ActionProposed(run_op(self, "agent_propose", {}).proposal_id))

    def on_action_proposed(self, message: ActionProposed) -> None:
        self.thinking = False
        self.reload()
        self.say(f"The agent proposes action #{message.proposal_id}: a approves, x rejects with a reason.")

    # -- deciding ------------------------------------------------------------------------
    def action_approve(self) -> None:
        p = self.selected()
        if p is None:
            self.say("No action selected: press n to ask the agent for one.")
            return
        try:
            core.loop().approve_action(self.store, int(p.id or 0), self.actor)
        except StudioError as exc:
            self.fail(exc)
            return
        self.say(f"Approved #{p.id} {p.payload.get('tool')}: press r to run it.")
        self.reload()

    def action_reject(self) -> None:
        p = self.selected()
        if p is None:
            return
        pid = int(p.id or 0)

        def got(reason: str | None) -> None:
            if not reason:
                return
            try:
                core.loop().reject_action(self.store, pid, self.actor, reason)
            except StudioError as exc:
                self.fail(exc)
                return
            self.say(f"Rejected #{pid}; the agent reads your reason before its next proposal.")
            self.reload()

        self.app.push_screen(ReasonDialog(f"Why do you reject action #{pid} ({p.payload.get('tool')})?"), got)

    # -- running -------------------------------------------------------------------------
    def action_run(self) -> None:
        p = self.selected()
        if p is None:
            return
        if self.running is not None:
            self.say("An action is already running: wait for it or press c to cancel it.")
            return
        self.query_one("#run").display = True
        self.query_one("#run-bar", ProgressBar).update(total=None, progress=0)
        self.query_one("#run-label", Static).update(f"running #{p.id} {p.payload.get('tool')}")
        self.running = self.run_tool(int(p.id or 0))
        self.refresh_bindings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="agent-run")
    def run_tool(self, pid: int) -> None:
        worker = get_current_worker()
        # Cancelling is cooperative: the run stops at its next progress report (run_op raises
        # Cancelled there), and run_action logs it as a failed action.
        try:
            result: dict[str, Any] = run_op(self, "agent_run", {"proposal_id": pid}).result
        except StudioError as exc:
            if not worker.is_cancelled:
                raise
            result = {"cancelled": str(exc)}  # already logged by run_action as agent.action.fail
        self.post_message(ActionFinished(pid, result))

    def on_work_progress(self, message: WorkProgress) -> None:
        bar = self.query_one("#run-bar", ProgressBar)
        if message.fraction is None:
            bar.update(total=None)
        else:
            bar.update(total=100, progress=round(100 * message.fraction))
        self.query_one("#run-label", Static).update(message.message[:40])

    def on_action_finished(self, message: ActionFinished) -> None:
        if message.result.get("cancelled"):
            self.say(f"Run of #{message.proposal_id} cancelled; the log records it as failed.")
        else:
            self._stopped()
            self.say(f"Action #{message.proposal_id} done.")
        self.reload()

    def action_cancel(self) -> None:
        if self.running is not None:
            self.running.cancel()
            self.say("Cancelling: the run stops at its next step.")

    @on(Worker.StateChanged)
    def _run_state(self, event: Worker.StateChanged) -> None:
        if event.worker is self.running and event.state == WorkerState.CANCELLED:
            self._stopped()
            self.say("Run cancelled: it stops at its next step and the log records it as failed.")
            self.reload()

    def work_failed(self, worker: Worker[object]) -> None:
        if worker is self.running:
            self._stopped()
        self.thinking = False
        self.reload()

    def _stopped(self) -> None:
        self.running = None
        self.query_one("#run").display = False
        self.refresh_bindings()
