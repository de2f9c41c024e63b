"""The line protocol of `studio review`: one command per line, the same for a person and a script.

`parse_command` turns a line into a `Command` or raises `ProtocolError` whose message gives the
expected form. Nothing is a default: an empty line is an error too (so a stray Enter never
accepts anything).
"""

from __future__ import annotations

import re
import shlex
from typing import Literal

from pydantic import BaseModel

from studio.errors import StudioError

HELP = """\
Commands (one per line; the current span is marked >):
  a                 accept the current proposal
  x [REASON]        reject the current proposal, or remove the current approved span
  A                 accept all remaining proposals of this document
  1..9              relabel the current span with the guideline's label N (approves a proposal)
  l LABEL           relabel the current span with LABEL
  + START:END LABEL add a span by character offsets, snapped to whole tokens; when snapping
                    changed it you are asked: y saves it snapped, e exactly as you gave it
  + "exact text" LABEL [N]
                    add a span by its text; N picks the Nth occurrence when it occurs more than once
  s-1 s+1 e-1 e+1   move the start (s) or end (e) of the current span by N words (t lists them);
                    add c for characters (e+2c)
  n / p             next / previous span;  g N  go to span N
  d                 done: mark the document complete (refused while proposals are pending)
  u                 undo the last change (each undo is a new decision; undo of done reopens)
  r                 reopen a complete document;  w [REASON]  withdraw the document
  k                 skip to the next document without marking it done
  v                 show the document again;  t  show its words with offsets
  ?                 this help;  q  quit"""

Name = Literal[
    "accept",
    "reject",
    "accept_all",
    "relabel",
    "relabel_n",
    "add_range",
    "add_text",
    "move",
    "next",
    "prev",
    "goto",
    "done",
    "undo",
    "reopen",
    "withdraw",
    "skip",
    "view",
    "tokens",
    "help",
    "quit",
]

_SIMPLE: dict[str, Name] = {
    "a": "accept",
    "A": "accept_all",
    "n": "next",
    "p": "prev",
    "d": "done",
    "u": "undo",
    "r": "reopen",
    "k": "skip",
    "v": "view",
    "t": "tokens",
    "?": "help",
    "h": "help",
    "help": "help",
    "q": "quit",
}
_MOVE_RE = re.compile(r"^([se])([+-]\d+)(c?)$")
_RANGE_RE = re.compile(r"^(\d+)\s*:\s*(\d+)$")


class ProtocolError(StudioError):
    """A line that is not a command; the message shows the expected form."""


class Command(BaseModel):
    name: Name
    label: str = ""
    number: int | None = None  # relabel_n: label number; goto: span number; add_text: occurrence
    start: int | None = None
    end: int | None = None
    text: str = ""
    reason: str = ""
    edge: Literal["start", "end"] = "start"
    delta: int = 0
    unit: Literal["token", "char"] = "token"


def parse_command(line: str) -> Command:
    raw = line.strip()
    if not raw:
        raise ProtocolError("empty line: type a command (? for the list); nothing is accepted by default")
    if raw in _SIMPLE:
        return Command(name=_SIMPLE[raw])
    head, _, rest = raw.partition(" ")
    rest = rest.strip()
    if head == "x":
        return Command(name="reject", reason=rest)
    if head == "w":
        return Command(name="withdraw", reason=rest)
    if raw.isdigit() and len(raw) == 1 and raw != "0":
        return Command(name="relabel_n", number=int(raw))
    if head == "l":
        if not rest or " " in rest:
            raise ProtocolError(f"expected `l LABEL` (one word), got {raw!r}")
        return Command(name="relabel", label=rest)
    if head == "g":
        if not rest.isdigit():
            raise ProtocolError(f"expected `g N` with N the span's number, got {raw!r}")
        return Command(name="goto", number=int(rest))
    m = _MOVE_RE.match(raw)
    if m:
        return Command(
            name="move", edge="start" if m.group(1) == "s" else "end", delta=int(m.group(2)),
            unit="char" if m.group(3) else "token",
        )  # fmt: skip
    if raw.startswith("+"):
        return _parse_add(raw, raw[1:].strip())
    raise ProtocolError(f"unknown command {raw!r}; type ? for the list")


def _parse_add(raw: str, body: str) -> Command:
    form = 'expected `+ START:END LABEL` or `+ "exact text" LABEL [N]`'
    if body.startswith('"'):
        try:
            parts = shlex.split(body, posix=True)
        except ValueError:
            raise ProtocolError(f"{form}: the quote in {raw!r} is not closed") from None
        if len(parts) not in (2, 3) or not parts[0]:
            raise ProtocolError(f"{form}, got {raw!r}")
        occurrence = None
        if len(parts) == 3:
            if not parts[2].isdigit() or int(parts[2]) < 1:
                raise ProtocolError(f"{form}: N is the occurrence (1, 2, ...), got {parts[2]!r}")
            occurrence = int(parts[2])
        return Command(name="add_text", text=parts[0], label=parts[1], number=occurrence)
    rng, _, label = body.rpartition(" ")
    m = _RANGE_RE.match(rng.strip())
    if not m or not label.strip():
        raise ProtocolError(f"{form}, got {raw!r}")
    return Command(name="add_range", start=int(m.group(1)), end=int(m.group(2)), label=label.strip())
